// Reading GGUF files (versions 2 and 3, little-endian; the SmolLM2 weights, tokenizer and chat
// template): the metadata key/value pairs, the tensor infos and the tensor data, with every count,
// length and offset checked against the file before it is used.
#ifndef PORTA_TOOLS_RUN_GGUF_H_
#define PORTA_TOOLS_RUN_GGUF_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tools/run/mapped_file.h"

namespace porta::run {

// ggml's tensor types with their numbers as stored in GGUF files. The numbers missing from the
// list (4, 5, 31-33, 36-38) belong to types ggml removed; files using them are refused.
enum class GgmlType : uint32_t {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q8_1 = 9,
  Q2_K = 10,
  Q3_K = 11,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  Q8_K = 15,
  IQ2_XXS = 16,
  IQ2_XS = 17,
  IQ3_XXS = 18,
  IQ1_S = 19,
  IQ4_NL = 20,
  IQ3_S = 21,
  IQ2_S = 22,
  IQ4_XS = 23,
  I8 = 24,
  I16 = 25,
  I32 = 26,
  I64 = 27,
  F64 = 28,
  IQ1_M = 29,
  BF16 = 30,
  TQ1_0 = 34,
  TQ2_0 = 35,
  MXFP4 = 39,
};

// "Q4_1" for GgmlType::Q4_1; "unknown" for a number outside the enum.
const char* GgmlTypeName(GgmlType type);
// Elements per block (1 for plain types, 32 for Q4_0, 256 for the K quants); 0 when unknown.
uint64_t GgmlBlockElements(GgmlType type);
// Bytes per block; 0 for types whose layout this reader does not know.
uint64_t GgmlBlockBytes(GgmlType type);

struct GgufTensor {
  std::string name;
  std::vector<uint64_t> dims;  // ne[0] first: the fastest-varying dimension
  GgmlType type;
  uint64_t offset;      // from the start of the data section
  const uint8_t* data;  // into the file; valid while the GgufFile (or the parsed bytes) live
  uint64_t size;        // bytes: elements / GgmlBlockElements(type) × GgmlBlockBytes(type)
};

class GgufFile {
 public:
  // Maps and parses the file at |path|. Throws ModelError naming the file, the key or tensor,
  // and the limit broken.
  static GgufFile Open(const std::string& path);
  // Parses |size| bytes at |data|, which the caller keeps alive and unchanged while the result
  // (its tensors and metadata values point into them) is used; |origin| names them in messages.
  static GgufFile Parse(const uint8_t* data, size_t size, std::string origin);

  uint32_t version() const { return version_; }
  // general.alignment, or 32 when the file does not set it.
  uint64_t alignment() const { return alignment_; }
  const std::string& origin() const { return origin_; }

  bool Has(std::string_view key) const;
  // The typed getters throw ModelError naming the key when it is absent (for the ones without a
  // fallback) or holds another type; a fallback is used only when the key is absent. Integer
  // getters take any integer type whose value fits; GetFloat takes f32 and f64.
  uint64_t GetUint(std::string_view key) const;
  uint64_t GetUint(std::string_view key, uint64_t fallback) const;
  int64_t GetInt(std::string_view key) const;
  double GetFloat(std::string_view key) const;
  double GetFloat(std::string_view key, double fallback) const;
  bool GetBool(std::string_view key, bool fallback) const;
  std::string GetString(std::string_view key) const;
  std::string GetString(std::string_view key, std::string fallback) const;
  std::vector<std::string> GetStringArray(std::string_view key) const;
  // Arrays of f32 or f64.
  std::vector<float> GetFloatArray(std::string_view key) const;
  // Arrays of any integer type whose values all fit in int32.
  std::vector<int32_t> GetInt32Array(std::string_view key) const;
  // In file order.
  std::vector<std::string> Keys() const;

  // In file order.
  const std::vector<GgufTensor>& tensors() const { return tensors_; }
  const GgufTensor* Find(std::string_view name) const;
  // Throws ModelError naming the file and |name| when the tensor is absent.
  const GgufTensor& Get(std::string_view name) const;

 private:
  // A metadata value, kept as a place in the file and decoded when asked for, so the tokenizer's
  // ~100k strings cost nothing until read.
  struct Value {
    std::string key;
    uint32_t type;          // GGUF value type (9 for arrays)
    uint32_t element_type;  // for arrays
    uint64_t count;         // for arrays
    size_t offset;          // where the value (for arrays: the first element) starts
  };

  GgufFile() = default;
  const Value& Lookup(std::string_view key) const;
  const Value& LookupArray(std::string_view key, const char* wanted) const;

  std::optional<MappedFile> file_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  std::string origin_;
  uint32_t version_ = 0;
  uint64_t alignment_ = 32;
  std::vector<Value> values_;
  std::map<std::string, size_t, std::less<>> value_index_;
  std::vector<GgufTensor> tensors_;
  std::map<std::string, size_t, std::less<>> tensor_index_;
};

}  // namespace porta::run

#endif  // PORTA_TOOLS_RUN_GGUF_H_
