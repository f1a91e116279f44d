// The WordPiece and byte-level BPE tokenizers and the chat template against golden files made by
// scripts/models/reference_tokens.py (Hugging Face tokenizers for all-MiniLM-L6-v2, llama.cpp for
// SmolLM2, jinja2 for the chat template), plus round trips, ill-formed input and the error paths.
// The model files come from $PORTA_MODELS_DIR (default ~/.cache/porta/models); tests that need a
// missing one fail, naming it.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "tools/run/chat_template.h"
#include "tools/run/gguf_vocab.h"
#include "tools/run/model_error.h"
#include "tools/run/model_paths.h"
#include "tools/run/tokenizer_bpe.h"
#include "tools/run/tokenizer_wordpiece.h"

namespace porta::run {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

fs::path GoldenDir() {
#ifdef PORTA_TOKENIZER_GOLDEN_DIR
  return PORTA_TOKENIZER_GOLDEN_DIR;
#else
  return fs::path(__FILE__).parent_path() / "golden";
#endif
}

json ReadGolden(const std::string& name) {
  std::ifstream in(GoldenDir() / name);
  if (!in) throw std::runtime_error("cannot open golden file " + (GoldenDir() / name).string());
  return json::parse(in);
}

// A golden case's input: "text" as it is, "hex" as raw bytes.
std::string CaseBytes(const json& c) {
  if (c.contains("text")) return c["text"].get<std::string>();
  const std::string hex = c["hex"].get<std::string>();
  std::string bytes;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    bytes.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  }
  return bytes;
}

// The message of the ModelError |f| throws, or "(no ModelError)".
template <typename F>
std::string ErrorOf(F&& f) {
  try {
    f();
  } catch (const ModelError& e) {
    return e.what();
  }
  return "(no ModelError)";
}

fs::path WriteTemp(const std::string& name, const std::string& contents) {
  const fs::path path = fs::path(::testing::TempDir()) / name;
  std::ofstream(path, std::ios::binary) << contents;
  return path;
}

class WordPieceGoldenTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const fs::path vocab = ModelsDir() / "all-MiniLM-L6-v2" / "vocab.txt";
    ASSERT_TRUE(fs::exists(vocab)) << "no " << vocab << " (set PORTA_MODELS_DIR)";
    tokenizer_.emplace(WordPieceTokenizer::FromVocabFile(vocab.string()));
    golden_ = ReadGolden("tokens_minilm.json");
  }
  std::optional<WordPieceTokenizer> tokenizer_;
  json golden_;
};

TEST_F(WordPieceGoldenTest, MatchesReferenceIds) {
  EXPECT_EQ(tokenizer_->vocab_size(), 30522u);
  EXPECT_EQ(tokenizer_->cls_id(), 101);
  EXPECT_EQ(tokenizer_->sep_id(), 102);
  EXPECT_EQ(tokenizer_->unk_id(), 100);
  EXPECT_EQ(tokenizer_->pad_id(), 0);
  ASSERT_GE(golden_["cases"].size(), 40u);
  for (const json& c : golden_["cases"]) {
    EXPECT_EQ(tokenizer_->Encode(CaseBytes(c)), c["ids"].get<std::vector<int32_t>>())
        << "case " << c["name"];
  }
}

TEST_F(WordPieceGoldenTest, TruncatesLikeReference) {
  std::map<std::string, std::string> inputs;
  for (const json& c : golden_["cases"]) inputs[c["name"]] = CaseBytes(c);
  for (const json& t : golden_["truncation"]) {
    EXPECT_EQ(tokenizer_->Encode(inputs.at(t["name"]), t["max_tokens"].get<size_t>()),
              t["ids"].get<std::vector<int32_t>>())
        << "case " << t["name"] << " max_tokens " << t["max_tokens"];
  }
  std::string long_text;
  for (int i = 0; i < 5000; ++i) long_text += "word ";
  const std::vector<int32_t> ids = tokenizer_->Encode(long_text, 16);
  ASSERT_EQ(ids.size(), 16u);
  EXPECT_EQ(ids.front(), tokenizer_->cls_id());
  EXPECT_EQ(ids.back(), tokenizer_->sep_id());
  EXPECT_EQ(tokenizer_->Encode(long_text).size(), 512u);
}

TEST_F(WordPieceGoldenTest, TokenTextAndRange) {
  EXPECT_EQ(tokenizer_->Token(101), "[CLS]");
  EXPECT_NE(ErrorOf([&] { tokenizer_->Token(30522); }).find("30522"), std::string::npos);
  EXPECT_NE(ErrorOf([&] { tokenizer_->Token(-1); }).find("out of range"), std::string::npos);
  EXPECT_NE(ErrorOf([&] { tokenizer_->Encode("x", 1); }).find("max_tokens"), std::string::npos);
}

class BpeGoldenTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const fs::path gguf = ModelsDir() / "SmolLM2-135M-Instruct.Q4_1.gguf";
    ASSERT_TRUE(fs::exists(gguf)) << "no " << gguf << " (set PORTA_MODELS_DIR)";
    vocab_ = LoadBpeVocabFromGguf(gguf.string());
    tokenizer_.emplace(BpeTokenizer::Create(vocab_));
    golden_ = ReadGolden("tokens_smollm2.json");
  }
  BpeVocab vocab_;
  std::optional<BpeTokenizer> tokenizer_;
  json golden_;
};

TEST_F(BpeGoldenTest, MatchesReferenceIds) {
  EXPECT_EQ(tokenizer_->vocab_size(), 49152u);
  EXPECT_EQ(tokenizer_->bos_id(), golden_["bos_id"].get<int32_t>());
  EXPECT_EQ(tokenizer_->eos_id(), golden_["eos_id"].get<int32_t>());
  ASSERT_GE(golden_["cases"].size(), 40u);
  for (const json& c : golden_["cases"]) {
    const std::string input = CaseBytes(c);
    const auto plain = c["ids"].get<std::vector<int32_t>>();
    const auto special = c["ids_parse_special"].get<std::vector<int32_t>>();
    EXPECT_EQ(tokenizer_->Encode(input, false, false), plain) << "case " << c["name"];
    EXPECT_EQ(tokenizer_->Encode(input, false, true), special) << "case " << c["name"];
    const auto with_bos = c.contains("ids_add_bos_parse_special")
                              ? c["ids_add_bos_parse_special"].get<std::vector<int32_t>>()
                              : special;
    EXPECT_EQ(tokenizer_->Encode(input, true, true), with_bos) << "case " << c["name"];
  }
}

TEST_F(BpeGoldenTest, DecodeInvertsEncodeForWellFormedText) {
  for (const json& c : golden_["cases"]) {
    if (!c.contains("text")) continue;
    const std::string text = c["text"].get<std::string>();
    EXPECT_EQ(tokenizer_->Decode(tokenizer_->Encode(text, false, false)), text)
        << "case " << c["name"];
    EXPECT_EQ(tokenizer_->Decode(tokenizer_->Encode(text, false, true)), text)
        << "case " << c["name"];
  }
}

TEST_F(BpeGoldenTest, TokenBytes) {
  EXPECT_EQ(tokenizer_->TokenBytes(1), "<|im_start|>");
  const std::vector<int32_t> ids = tokenizer_->Encode(" é", false, false);
  std::string joined;
  for (const int32_t id : ids) joined += tokenizer_->TokenBytes(id);
  EXPECT_EQ(joined, " é");
  EXPECT_NE(ErrorOf([&] { tokenizer_->TokenBytes(49152); }).find("49152"), std::string::npos);
  EXPECT_NE(ErrorOf([&] { tokenizer_->Decode({0, -3}); }).find("-3"), std::string::npos);
}

TEST_F(BpeGoldenTest, EndOfGeneration) {
  EXPECT_TRUE(tokenizer_->IsEndOfGeneration(tokenizer_->eos_id()));
  EXPECT_TRUE(tokenizer_->IsEndOfGeneration(2));   // <|im_end|>
  EXPECT_FALSE(tokenizer_->IsEndOfGeneration(1));  // <|im_start|>
  ASSERT_TRUE(golden_.contains("end_of_generation_ids"))
      << "the golden file lacks end_of_generation_ids (regenerate it with llama.cpp)";
  std::vector<int32_t> ours;
  for (int32_t id = 0; id < static_cast<int32_t>(tokenizer_->vocab_size()); ++id) {
    if (tokenizer_->IsEndOfGeneration(id)) ours.push_back(id);
  }
  EXPECT_EQ(ours, golden_["end_of_generation_ids"].get<std::vector<int32_t>>());
}

TEST_F(BpeGoldenTest, ChatTemplateMatchesJinja) {
  ASSERT_GE(golden_["chats"].size(), 3u);
  for (const json& chat : golden_["chats"]) {
    std::vector<ChatMessage> messages;
    for (const json& m : chat["messages"]) messages.push_back({m["role"], m["content"]});
    const std::string rendered =
        ApplyChatTemplate(vocab_.chat_template, messages, chat["add_generation_prompt"]);
    EXPECT_EQ(rendered, chat["rendered"].get<std::string>()) << "chat " << chat["name"];
    EXPECT_EQ(tokenizer_->Encode(rendered, true, true), chat["ids"].get<std::vector<int32_t>>())
        << "chat " << chat["name"];
  }
}

TEST_F(BpeGoldenTest, IllFormedInputNeverThrows) {
  std::mt19937 rng(1234);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_int_distribution<int> length(0, 64);
  const WordPieceTokenizer wordpiece =
      WordPieceTokenizer::FromVocabFile((ModelsDir() / "all-MiniLM-L6-v2" / "vocab.txt").string());
  for (int round = 0; round < 300; ++round) {
    std::string bytes;
    for (int i = length(rng); i > 0; --i) bytes.push_back(static_cast<char>(byte(rng)));
    if (round % 3 == 0) bytes += "<|im_end|>";
    EXPECT_NO_THROW(tokenizer_->Encode(bytes, true, round % 2 == 0));
    EXPECT_NO_THROW(wordpiece.Encode(bytes, 32));
  }
}

// --- Error paths -------------------------------------------------------------------------------

TEST(WordPieceErrors, BadVocabularies) {
  EXPECT_NE(ErrorOf([] {
              WordPieceTokenizer::FromVocabFile("/nonexistent/vocab.txt");
            }).find("/nonexistent/vocab.txt"),
            std::string::npos);
  const fs::path empty = WriteTemp("wp_empty.txt", "");
  EXPECT_NE(ErrorOf([&] { WordPieceTokenizer::FromVocabFile(empty.string()); }).find("empty"),
            std::string::npos);
  const fs::path dup = WriteTemp("wp_dup.txt", "[PAD]\n[UNK]\n[CLS]\n[SEP]\nhello\nhello\n");
  const std::string dup_error = ErrorOf([&] { WordPieceTokenizer::FromVocabFile(dup.string()); });
  EXPECT_NE(dup_error.find(dup.string() + ":6"), std::string::npos) << dup_error;
  EXPECT_NE(dup_error.find("duplicate token 'hello'"), std::string::npos) << dup_error;
  const fs::path blank = WriteTemp("wp_blank.txt", "[PAD]\n\n[UNK]\n");
  EXPECT_NE(ErrorOf([&] { WordPieceTokenizer::FromVocabFile(blank.string()); }).find(":2"),
            std::string::npos);
  const fs::path no_cls = WriteTemp("wp_no_cls.txt", "[PAD]\n[UNK]\n[SEP]\na\n");
  EXPECT_NE(ErrorOf([&] { WordPieceTokenizer::FromVocabFile(no_cls.string()); }).find("[CLS]"),
            std::string::npos);
}

TEST(WordPieceBasics, TinyVocabulary) {
  const WordPieceTokenizer t = WordPieceTokenizer::FromTokens(
      {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "un", "##aff", "##able", "hello", ",", "!"}, true,
      "tiny");
  EXPECT_EQ(t.Encode("UnAffable, HELLO!"), (std::vector<int32_t>{2, 4, 5, 6, 8, 7, 9, 3}));
  EXPECT_EQ(t.Encode("unknown hello"), (std::vector<int32_t>{2, 1, 7, 3}));
  EXPECT_EQ(t.Encode("h\xC3\xA9llo"), (std::vector<int32_t>{2, 7, 3}));  // accent stripped
  EXPECT_EQ(t.Encode("hel\xFFlo"), (std::vector<int32_t>{2, 7, 3}));     // U+FFFD dropped
}

BpeVocab TinyBpeVocab() {
  BpeVocab v;
  v.tokens = {"<|end|>", "a", "b", "ab", "Ġ", "Ġab"};
  v.token_types = {3, 1, 1, 1, 1, 1};
  v.merges = {"a b", "Ġ ab"};
  v.pre = "smollm";
  v.eos_id = 0;
  return v;
}

TEST(BpeBasics, TinyVocabulary) {
  const BpeTokenizer t = BpeTokenizer::Create(TinyBpeVocab());
  EXPECT_EQ(t.Encode("ab ab", false, false), (std::vector<int32_t>{3, 5}));
  EXPECT_EQ(t.Encode("ab<|end|>", false, true), (std::vector<int32_t>{3, 0}));
  EXPECT_EQ(t.Decode({3, 5, 0}), "ab ab<|end|>");
  EXPECT_TRUE(t.IsEndOfGeneration(0));
  EXPECT_FALSE(t.IsEndOfGeneration(3));
}

TEST(BpeBasics, TokenTypesDecideTheBytes) {
  BpeVocab v = TinyBpeVocab();
  v.tokens.insert(v.tokens.end(), {"<0x41>", "<0xZZ>", "<user>", "<unused0>"});
  v.token_types.insert(v.token_types.end(), {6, 6, 4, 5});
  const BpeTokenizer t = BpeTokenizer::Create(v);
  EXPECT_EQ(t.TokenBytes(6), "A");
  EXPECT_EQ(t.TokenBytes(7), "<0xZZ>");
  EXPECT_EQ(t.TokenBytes(8), "<user>");
  EXPECT_EQ(t.TokenBytes(9), "");
  // User-defined tokens are split out even without parse_special; control ones are not.
  EXPECT_EQ(t.Encode("ab<user>", false, false), (std::vector<int32_t>{3, 8}));
  EXPECT_NE(t.Encode("<|end|>", false, false), (std::vector<int32_t>{0}));
}

TEST(BpeErrors, BadVocabularies) {
  BpeVocab v = TinyBpeVocab();
  v.pre = "llama3";
  EXPECT_NE(ErrorOf([&] { BpeTokenizer::Create(v); }).find("pre-tokenizer 'llama3'"),
            std::string::npos);
  v = TinyBpeVocab();
  v.merges.push_back("ab");
  EXPECT_NE(ErrorOf([&] { BpeTokenizer::Create(v); }).find("tokenizer.ggml.merges[2]"),
            std::string::npos);
  v = TinyBpeVocab();
  v.merges.push_back("a zz");
  EXPECT_NE(ErrorOf([&] { BpeTokenizer::Create(v); }).find("'zz'"), std::string::npos);
  v = TinyBpeVocab();
  v.tokens.push_back("ab");
  v.token_types.push_back(1);
  EXPECT_NE(ErrorOf([&] { BpeTokenizer::Create(v); }).find("duplicate token 'ab'"),
            std::string::npos);
  v = TinyBpeVocab();
  v.eos_id = 6;
  EXPECT_NE(ErrorOf([&] { BpeTokenizer::Create(v); }).find("eos_token_id"), std::string::npos);
  v = TinyBpeVocab();
  v.add_bos = true;
  EXPECT_NE(ErrorOf([&] { BpeTokenizer::Create(v); }).find("add_bos_token"), std::string::npos);
  v = TinyBpeVocab();
  v.token_types.pop_back();
  EXPECT_NE(ErrorOf([&] { BpeTokenizer::Create(v); }).find("token_type"), std::string::npos);
  v = TinyBpeVocab();
  v.tokens.clear();
  v.token_types.clear();
  EXPECT_NE(ErrorOf([&] { BpeTokenizer::Create(v); }).find("empty"), std::string::npos);
}

TEST(ChatTemplateErrors, UnknownTemplateNamesItsStart) {
  const std::string tmpl =
      "{% for m in messages %}[INST] {{ m['content'] }} [/INST]{% endfor %} and a long tail that "
      "goes past eighty characters";
  const std::string error = ErrorOf([&] { ApplyChatTemplate(tmpl, {{"user", "hi"}}, true); });
  EXPECT_NE(error.find(tmpl.substr(0, 80)), std::string::npos) << error;
  EXPECT_EQ(error.find(tmpl.substr(0, 81)), std::string::npos) << error;
}

TEST(ChatTemplateBasics, PlainChatMl) {
  const std::string tmpl =
      "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + "
      "message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ "
      "'<|im_start|>assistant\n' }}{% endif %}";
  EXPECT_EQ(ApplyChatTemplate(tmpl, {{"user", "hi"}}, true),
            "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_EQ(ApplyChatTemplate(tmpl, {}, false), "");
}

}  // namespace
}  // namespace porta::run
