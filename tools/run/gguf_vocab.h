// The byte-level BPE vocabulary of a GGUF file (tokenizer.ggml.* keys) as the tokenizer takes it.
#ifndef PORTA_TOOLS_RUN_GGUF_VOCAB_H_
#define PORTA_TOOLS_RUN_GGUF_VOCAB_H_

#include <string>

#include "tools/run/gguf.h"
#include "tools/run/tokenizer_bpe.h"

namespace porta::run {

// Throws ModelError naming the key when the file has no "gpt2" (byte-level BPE) tokenizer.
BpeVocab LoadBpeVocab(const GgufFile& file);
BpeVocab LoadBpeVocabFromGguf(const std::string& path);

}  // namespace porta::run

#endif  // PORTA_TOOLS_RUN_GGUF_VOCAB_H_
