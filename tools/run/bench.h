// porta-run bench: the model-level speed figures on one device — a LLaMA decoder's prompt
// processing and generation in tokens/s (llama-bench's pp and tg tests: synthetic tokens, the
// KV cache emptied before each run) and a sentence encoder's sentences/s on a batch of fixed
// length — with the device memory the models hold. scripts/bench_models.sh sets them beside
// llama.cpp and PyTorch measured in the same run.
#ifndef PORTA_TOOLS_RUN_BENCH_H_
#define PORTA_TOOLS_RUN_BENCH_H_

#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>

namespace porta::run {

struct BenchArgs {
  std::string llm;    // GGUF file; default SmolLM2 in the models cache
  std::string embed;  // sentence-transformers folder; default all-MiniLM-L6-v2
  bool skip_llm = false;
  bool skip_embed = false;
  int64_t prompt_tokens = 512;
  int64_t generate_tokens = 128;
  int64_t batch = 32;
  int64_t sentence_tokens = 128;
  int64_t repetitions = 3;
  std::string dequantize;
  bool quantize_activations = false;
  bool json = false;
};

void AddBenchOptions(CLI::App* command, BenchArgs* args);
int RunBench(const BenchArgs& args, const std::string& devices);

}  // namespace porta::run

#endif  // PORTA_TOOLS_RUN_BENCH_H_
