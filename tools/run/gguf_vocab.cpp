// Reads the tokenizer.ggml.* metadata into a BpeVocab.
#include "tools/run/gguf_vocab.h"

#include <cstdint>

#include "tools/run/model_error.h"

namespace porta::run {

BpeVocab LoadBpeVocab(const GgufFile& file) {
  const std::string model = file.GetString("tokenizer.ggml.model");
  if (model != "gpt2") {
    throw ModelError(file.origin() + ": tokenizer.ggml.model is \"" + model +
                     "\"; porta-run reads byte-level BPE (\"gpt2\") tokenizers");
  }
  BpeVocab vocab;
  vocab.tokens = file.GetStringArray("tokenizer.ggml.tokens");
  if (file.Has("tokenizer.ggml.token_type")) {
    vocab.token_types = file.GetInt32Array("tokenizer.ggml.token_type");
  }
  vocab.merges = file.GetStringArray("tokenizer.ggml.merges");
  vocab.pre = file.GetString("tokenizer.ggml.pre", "default");
  const auto id = [&](const char* key) -> int32_t {
    if (!file.Has(key)) return -1;
    const uint64_t value = file.GetUint(key);
    if (value >= vocab.tokens.size()) {
      throw ModelError(file.origin() + ": " + key + " = " + std::to_string(value) +
                       " is outside the vocabulary of " + std::to_string(vocab.tokens.size()));
    }
    return static_cast<int32_t>(value);
  };
  vocab.bos_id = id("tokenizer.ggml.bos_token_id");
  vocab.eos_id = id("tokenizer.ggml.eos_token_id");
  vocab.pad_id = id("tokenizer.ggml.padding_token_id");
  vocab.add_bos = file.GetBool("tokenizer.ggml.add_bos_token", false);
  vocab.chat_template = file.GetString("tokenizer.chat_template", "");
  return vocab;
}

BpeVocab LoadBpeVocabFromGguf(const std::string& path) {
  return LoadBpeVocab(GgufFile::Open(path));
}

}  // namespace porta::run
