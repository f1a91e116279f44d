// The GGUF parser and its metadata getters. Every read goes through Reader, which checks the
// bytes left before reading, and every count is compared with the bytes left before anything is
// allocated or looped over, so a hostile count fails at once instead of allocating.
#include "tools/run/gguf.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>
#include <utility>

#include "tools/run/model_error.h"

namespace porta::run {
namespace {

static_assert(std::endian::native == std::endian::little,
              "GGUF values are read in place and are little-endian");

constexpr uint32_t kTypeU8 = 0, kTypeI8 = 1, kTypeU16 = 2, kTypeI16 = 3, kTypeU32 = 4, kTypeI32 = 5,
                   kTypeF32 = 6, kTypeBool = 7, kTypeString = 8, kTypeArray = 9, kTypeU64 = 10,
                   kTypeI64 = 11, kTypeF64 = 12;
constexpr uint32_t kValueTypeCount = 13;
// Keys are short dotted names; the spec caps them at 65535 bytes.
constexpr uint64_t kMaxKeyBytes = 65535;
constexpr uint64_t kMaxTensorNameBytes = 65535;
constexpr uint32_t kMaxDims = 4;  // GGML_MAX_DIMS
// An array of arrays is the deepest nesting any model writes; deeper is refused so a hostile file
// cannot recurse without bound.
constexpr int kMaxArrayDepth = 2;

const char* ValueTypeName(uint32_t type) {
  static const char* const kNames[kValueTypeCount] = {"u8",  "i8",  "u16",  "i16",    "u32",
                                                      "i32", "f32", "bool", "string", "array",
                                                      "u64", "i64", "f64"};
  return type < kValueTypeCount ? kNames[type] : "unknown";
}

// Bytes of a fixed-size value type; 0 for strings, arrays and unknown types.
uint64_t ValueTypeSize(uint32_t type) {
  switch (type) {
    case kTypeU8:
    case kTypeI8:
    case kTypeBool:
      return 1;
    case kTypeU16:
    case kTypeI16:
      return 2;
    case kTypeU32:
    case kTypeI32:
    case kTypeF32:
      return 4;
    case kTypeU64:
    case kTypeI64:
    case kTypeF64:
      return 8;
    default:
      return 0;
  }
}

bool IsIntegerType(uint32_t type) {
  return type <= kTypeI32 || type == kTypeU64 || type == kTypeI64;
}

// Makes bytes from a file printable in a message: control and non-ASCII bytes as \xNN, and at
// most 200 bytes of them.
std::string Printable(std::string_view text) {
  std::string out = "'";
  for (size_t i = 0; i < text.size() && i < 200; ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7F && c != '\\') {
      out.push_back(static_cast<char>(c));
    } else {
      static const char kHex[] = "0123456789abcdef";
      out += "\\x";
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  if (text.size() > 200) out += "...";
  return out + "'";
}

// A read cursor over the file that refuses to step past its end.
class Reader {
 public:
  Reader(const uint8_t* data, size_t size, const std::string& origin)
      : data_(data), size_(size), origin_(origin) {}

  size_t pos() const { return pos_; }
  uint64_t left() const { return size_ - pos_; }

  // |what| and |item| name the field and the key or tensor it belongs to in the message.
  void Need(uint64_t bytes, const char* what, std::string_view item) const {
    if (bytes > left()) {
      throw ModelError(origin_ + ": truncated: " + what + (item.empty() ? "" : " of ") +
                       (item.empty() ? "" : Printable(item)) + " needs " + std::to_string(bytes) +
                       " bytes at offset " + std::to_string(pos_) + " but only " +
                       std::to_string(left()) + " remain");
    }
  }

  template <typename T>
  T Read(const char* what, std::string_view item = {}) {
    Need(sizeof(T), what, item);
    T value;
    std::memcpy(&value, data_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return value;
  }

  void Skip(uint64_t bytes, const char* what, std::string_view item) {
    Need(bytes, what, item);
    pos_ += bytes;
  }

  // A string: u64 length, then that many bytes, at most |max_bytes|.
  std::string_view String(uint64_t max_bytes, const char* what, std::string_view item = {}) {
    const uint64_t length = Read<uint64_t>(what, item);
    if (length > max_bytes) {
      throw ModelError(origin_ + ": " + what + (item.empty() ? "" : " of ") +
                       (item.empty() ? "" : Printable(item)) + " at offset " +
                       std::to_string(pos_ - 8) + " is " + std::to_string(length) +
                       " bytes long, more than the limit of " + std::to_string(max_bytes));
    }
    Need(length, what, item);
    std::string_view text(reinterpret_cast<const char*>(data_ + pos_), length);
    pos_ += length;
    return text;
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
  const std::string& origin_;
};

// Walks over one value of |type| (its type field already read) for key |key|, checking every
// length against the bytes left.
void SkipValue(Reader& reader, uint32_t type, std::string_view key, int depth,
               const std::string& origin) {
  if (type == kTypeString) {
    reader.String(std::numeric_limits<uint64_t>::max(), "string value", key);
    return;
  }
  if (type == kTypeBool) {
    const uint8_t value = reader.Read<uint8_t>("bool value", key);
    if (value > 1) {
      throw ModelError(origin + ": key " + Printable(key) + ": bool value " +
                       std::to_string(value) + " at offset " + std::to_string(reader.pos() - 1) +
                       " is neither 0 nor 1");
    }
    return;
  }
  if (type != kTypeArray) {
    reader.Skip(ValueTypeSize(type), "value", key);
    return;
  }
  if (depth >= kMaxArrayDepth) {
    throw ModelError(origin + ": key " + Printable(key) + ": arrays nested more than " +
                     std::to_string(kMaxArrayDepth) + " deep are not supported");
  }
  const uint32_t element_type = reader.Read<uint32_t>("array element type", key);
  const uint64_t count = reader.Read<uint64_t>("array length", key);
  if (element_type >= kValueTypeCount) {
    throw ModelError(origin + ": key " + Printable(key) + ": unknown array element type " +
                     std::to_string(element_type));
  }
  // The fewest bytes one element can take: a string is at least its length field, an array at
  // least its element type and length.
  const uint64_t fixed = ValueTypeSize(element_type);
  const uint64_t least = fixed != 0 ? fixed : (element_type == kTypeString ? 8 : 12);
  if (count > reader.left() / least) {
    throw ModelError(origin + ": key " + Printable(key) + ": array of " + std::to_string(count) +
                     " " + ValueTypeName(element_type) + " elements needs at least " +
                     std::to_string(least) + " bytes each but only " +
                     std::to_string(reader.left()) + " bytes remain");
  }
  if (fixed != 0 && element_type != kTypeBool) {
    reader.Skip(count * fixed, "array", key);
    return;
  }
  for (uint64_t i = 0; i < count; ++i) SkipValue(reader, element_type, key, depth + 1, origin);
}

// An integer metadata value widened without loss: |negative| says whether |bits| holds a
// negative int64.
struct Integer {
  bool negative;
  uint64_t bits;
};

Integer ReadInteger(const uint8_t* p, uint32_t type) {
  const auto load = [p](auto value) {
    std::memcpy(&value, p, sizeof(value));
    return value;
  };
  switch (type) {
    case kTypeU8:
      return {false, load(uint8_t{})};
    case kTypeI8:
      return {load(int8_t{}) < 0, static_cast<uint64_t>(static_cast<int64_t>(load(int8_t{})))};
    case kTypeU16:
      return {false, load(uint16_t{})};
    case kTypeI16:
      return {load(int16_t{}) < 0, static_cast<uint64_t>(static_cast<int64_t>(load(int16_t{})))};
    case kTypeU32:
      return {false, load(uint32_t{})};
    case kTypeI32:
      return {load(int32_t{}) < 0, static_cast<uint64_t>(static_cast<int64_t>(load(int32_t{})))};
    case kTypeU64:
      return {false, load(uint64_t{})};
    default:
      return {load(int64_t{}) < 0, static_cast<uint64_t>(load(int64_t{}))};
  }
}

std::string IntegerText(Integer value) {
  return value.negative ? std::to_string(static_cast<int64_t>(value.bits))
                        : std::to_string(value.bits);
}

double ReadFloat(const uint8_t* p, uint32_t type) {
  if (type == kTypeF32) {
    float value;
    std::memcpy(&value, p, sizeof(value));
    return value;
  }
  double value;
  std::memcpy(&value, p, sizeof(value));
  return value;
}

std::string ReadString(const uint8_t* p) {
  uint64_t length;
  std::memcpy(&length, p, sizeof(length));
  return std::string(reinterpret_cast<const char*>(p + 8), length);
}

struct TypeInfo {
  GgmlType type;
  const char* name;
  uint64_t block_elements;
  uint64_t block_bytes;
};

// Block sizes of ggml's block structs (ggml-common.h). Q8_1 is 36 bytes there (two f16 and 32
// quants); some older tables list 40, from when its scales were f32.
constexpr TypeInfo kTypes[] = {
    {GgmlType::F32, "F32", 1, 4},
    {GgmlType::F16, "F16", 1, 2},
    {GgmlType::Q4_0, "Q4_0", 32, 18},
    {GgmlType::Q4_1, "Q4_1", 32, 20},
    {GgmlType::Q5_0, "Q5_0", 32, 22},
    {GgmlType::Q5_1, "Q5_1", 32, 24},
    {GgmlType::Q8_0, "Q8_0", 32, 34},
    {GgmlType::Q8_1, "Q8_1", 32, 36},
    {GgmlType::Q2_K, "Q2_K", 256, 84},
    {GgmlType::Q3_K, "Q3_K", 256, 110},
    {GgmlType::Q4_K, "Q4_K", 256, 144},
    {GgmlType::Q5_K, "Q5_K", 256, 176},
    {GgmlType::Q6_K, "Q6_K", 256, 210},
    {GgmlType::Q8_K, "Q8_K", 256, 292},
    {GgmlType::IQ2_XXS, "IQ2_XXS", 256, 66},
    {GgmlType::IQ2_XS, "IQ2_XS", 256, 74},
    {GgmlType::IQ3_XXS, "IQ3_XXS", 256, 98},
    {GgmlType::IQ1_S, "IQ1_S", 256, 50},
    {GgmlType::IQ4_NL, "IQ4_NL", 32, 18},
    {GgmlType::IQ3_S, "IQ3_S", 256, 110},
    {GgmlType::IQ2_S, "IQ2_S", 256, 82},
    {GgmlType::IQ4_XS, "IQ4_XS", 256, 136},
    {GgmlType::I8, "I8", 1, 1},
    {GgmlType::I16, "I16", 1, 2},
    {GgmlType::I32, "I32", 1, 4},
    {GgmlType::I64, "I64", 1, 8},
    {GgmlType::F64, "F64", 1, 8},
    {GgmlType::IQ1_M, "IQ1_M", 256, 56},
    {GgmlType::BF16, "BF16", 1, 2},
    {GgmlType::TQ1_0, "TQ1_0", 256, 54},
    {GgmlType::TQ2_0, "TQ2_0", 256, 66},
    {GgmlType::MXFP4, "MXFP4", 32, 17},
};

const TypeInfo* FindType(GgmlType type) {
  for (const TypeInfo& info : kTypes) {
    if (info.type == type) return &info;
  }
  return nullptr;
}

std::string DimsText(const std::vector<uint64_t>& dims) {
  std::string text = "[";
  for (size_t i = 0; i < dims.size(); ++i) {
    if (i > 0) text += ", ";
    text += std::to_string(dims[i]);
  }
  return text + "]";
}

}  // namespace

const char* GgmlTypeName(GgmlType type) {
  const TypeInfo* info = FindType(type);
  return info != nullptr ? info->name : "unknown";
}

uint64_t GgmlBlockElements(GgmlType type) {
  const TypeInfo* info = FindType(type);
  return info != nullptr ? info->block_elements : 0;
}

uint64_t GgmlBlockBytes(GgmlType type) {
  const TypeInfo* info = FindType(type);
  return info != nullptr ? info->block_bytes : 0;
}

GgufFile GgufFile::Open(const std::string& path) {
  MappedFile file = MappedFile::Open(path);
  GgufFile result = Parse(file.data(), file.size(), path);
  result.file_ = std::move(file);
  return result;
}

GgufFile GgufFile::Parse(const uint8_t* data, size_t size, std::string origin) {
  GgufFile result;
  result.origin_ = std::move(origin);
  result.data_ = data;
  result.size_ = size;
  const std::string& where = result.origin_;
  Reader reader(data, size, where);

  if (size < 4 || std::memcmp(data, "GGUF", 4) != 0) {
    throw ModelError(where + ": not a GGUF file: it does not start with the magic 'GGUF'");
  }
  reader.Skip(4, "magic", {});
  const uint32_t version = reader.Read<uint32_t>("version");
  // A big-endian file's version 2 or 3 reads here as 0x02000000 or 0x03000000.
  if (version != 0 && (version & 0xFFFFu) == 0) {
    throw ModelError(where + ": GGUF version field reads " + std::to_string(version) +
                     ", which is a byte-swapped small version: big-endian GGUF files are not "
                     "supported");
  }
  if (version == 1) {
    throw ModelError(where + ": GGUF version 1 is not supported (only versions 2 and 3)");
  }
  if (version != 2 && version != 3) {
    throw ModelError(where + ": unknown GGUF version " + std::to_string(version) +
                     " (only versions 2 and 3 are supported)");
  }
  result.version_ = version;
  const uint64_t tensor_count = reader.Read<uint64_t>("tensor count");
  const uint64_t kv_count = reader.Read<uint64_t>("metadata key/value count");
  // Each key/value pair takes at least 13 bytes (key length, type, one-byte value) and each tensor
  // info at least 32 (name length, n_dims, one dim, type, offset).
  if (kv_count > reader.left() / 13) {
    throw ModelError(where + ": metadata key/value count " + std::to_string(kv_count) +
                     " cannot fit in the " + std::to_string(reader.left()) +
                     " bytes left (each pair takes at least 13)");
  }
  if (tensor_count > reader.left() / 32) {
    throw ModelError(where + ": tensor count " + std::to_string(tensor_count) +
                     " cannot fit in the " + std::to_string(reader.left()) +
                     " bytes left (each tensor info takes at least 32)");
  }

  // The counts are bounded by the file size, but reserving for all of them up front would still
  // let a small hostile file ask for several times its size; real files have a few hundred.
  result.values_.reserve(std::min<uint64_t>(kv_count, 1024));
  for (uint64_t i = 0; i < kv_count; ++i) {
    const std::string_view key = reader.String(kMaxKeyBytes, "metadata key");
    const uint32_t type = reader.Read<uint32_t>("value type", key);
    if (type >= kValueTypeCount) {
      throw ModelError(where + ": key " + Printable(key) + " has unknown value type " +
                       std::to_string(type));
    }
    Value value{std::string(key), type, 0, 0, reader.pos()};
    if (type == kTypeArray) {
      // Peek the element type and count, which SkipValue checks and walks.
      Reader peek = reader;
      value.element_type = peek.Read<uint32_t>("array element type", key);
      value.count = peek.Read<uint64_t>("array length", key);
      value.offset = peek.pos();
    }
    SkipValue(reader, type, key, 0, where);
    if (!result.value_index_.emplace(value.key, result.values_.size()).second) {
      throw ModelError(where + ": metadata key " + Printable(key) + " appears twice");
    }
    result.values_.push_back(std::move(value));
  }

  if (result.Has("general.alignment")) {
    const Value& value = result.Lookup("general.alignment");
    if (value.type != kTypeU32) {
      throw ModelError(where + ": general.alignment is of type " + ValueTypeName(value.type) +
                       ", not u32");
    }
    uint32_t alignment;
    std::memcpy(&alignment, data + value.offset, sizeof(alignment));
    if (!std::has_single_bit(alignment)) {
      throw ModelError(where + ": general.alignment " + std::to_string(alignment) +
                       " is not a nonzero power of two");
    }
    result.alignment_ = alignment;
  }

  result.tensors_.reserve(std::min<uint64_t>(tensor_count, 1024));
  for (uint64_t i = 0; i < tensor_count; ++i) {
    GgufTensor tensor;
    tensor.name = std::string(reader.String(kMaxTensorNameBytes, "tensor name"));
    const std::string name = Printable(tensor.name);
    const uint32_t n_dims = reader.Read<uint32_t>("dimension count", tensor.name);
    if (n_dims < 1 || n_dims > kMaxDims) {
      throw ModelError(where + ": tensor " + name + " has " + std::to_string(n_dims) +
                       " dimensions, not 1 to " + std::to_string(kMaxDims));
    }
    uint64_t elements = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      const uint64_t extent = reader.Read<uint64_t>("dimension", tensor.name);
      tensor.dims.push_back(extent);
      // ggml keeps extents as int64; an empty tensor has no data to load (and ggml's own loader
      // divides by the extents), so both are refused.
      if (extent == 0 || extent > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        throw ModelError(where + ": tensor " + name + " has dimension " + std::to_string(d) +
                         " of " + std::to_string(extent) + ", not 1 to 2^63 - 1");
      }
      if (elements > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) / extent) {
        throw ModelError(where + ": tensor " + name + " of dimensions " + DimsText(tensor.dims) +
                         "... has more than 2^63 - 1 elements");
      }
      elements *= extent;
    }
    const uint32_t type_number = reader.Read<uint32_t>("tensor type", tensor.name);
    tensor.type = static_cast<GgmlType>(type_number);
    const uint64_t block_elements = GgmlBlockElements(tensor.type);
    const uint64_t block_bytes = GgmlBlockBytes(tensor.type);
    if (block_elements == 0 || block_bytes == 0) {
      throw ModelError(where + ": tensor " + name + " has unknown ggml type " +
                       std::to_string(type_number));
    }
    if (tensor.dims[0] % block_elements != 0) {
      throw ModelError(where + ": tensor " + name + " of type " + GgmlTypeName(tensor.type) +
                       " has rows of " + std::to_string(tensor.dims[0]) +
                       " elements, not a multiple of its block of " +
                       std::to_string(block_elements));
    }
    const uint64_t blocks = elements / block_elements;
    if (blocks > std::numeric_limits<uint64_t>::max() / block_bytes) {
      throw ModelError(where + ": tensor " + name + " of dimensions " + DimsText(tensor.dims) +
                       " has more bytes than fit in 64 bits");
    }
    tensor.size = blocks * block_bytes;
    tensor.offset = reader.Read<uint64_t>("tensor data offset", tensor.name);
    if (tensor.offset % result.alignment_ != 0) {
      throw ModelError(where + ": tensor " + name + " has data offset " +
                       std::to_string(tensor.offset) + ", not a multiple of the alignment " +
                       std::to_string(result.alignment_));
    }
    if (!result.tensor_index_.emplace(tensor.name, result.tensors_.size()).second) {
      throw ModelError(where + ": tensor name " + name + " appears twice");
    }
    result.tensors_.push_back(std::move(tensor));
  }

  if (result.tensors_.empty()) return result;
  const uint64_t data_start = (static_cast<uint64_t>(reader.pos()) + result.alignment_ - 1) /
                              result.alignment_ * result.alignment_;
  if (data_start > size) {
    throw ModelError(where + ": the data section would start at offset " +
                     std::to_string(data_start) + ", beyond the end of the file (" +
                     std::to_string(size) + " bytes)");
  }
  const uint64_t data_bytes = size - data_start;
  for (GgufTensor& tensor : result.tensors_) {
    if (tensor.offset > data_bytes || tensor.size > data_bytes - tensor.offset) {
      throw ModelError(where + ": tensor " + Printable(tensor.name) + " of " +
                       std::to_string(tensor.size) + " bytes at data offset " +
                       std::to_string(tensor.offset) + " ends beyond the data section of " +
                       std::to_string(data_bytes) + " bytes");
    }
    tensor.data = data + data_start + tensor.offset;
  }
  std::vector<const GgufTensor*> by_offset;
  by_offset.reserve(result.tensors_.size());
  for (const GgufTensor& tensor : result.tensors_) by_offset.push_back(&tensor);
  std::sort(by_offset.begin(), by_offset.end(),
            [](const GgufTensor* a, const GgufTensor* b) { return a->offset < b->offset; });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    const GgufTensor& previous = *by_offset[i - 1];
    const GgufTensor& tensor = *by_offset[i];
    if (previous.offset + previous.size > tensor.offset) {
      throw ModelError(where + ": tensors " + Printable(previous.name) + " [" +
                       std::to_string(previous.offset) + ", " +
                       std::to_string(previous.offset + previous.size) + ") and " +
                       Printable(tensor.name) + " [" + std::to_string(tensor.offset) + ", " +
                       std::to_string(tensor.offset + tensor.size) + ") overlap");
    }
  }
  return result;
}

bool GgufFile::Has(std::string_view key) const {
  return value_index_.find(key) != value_index_.end();
}

const GgufFile::Value& GgufFile::Lookup(std::string_view key) const {
  const auto it = value_index_.find(key);
  if (it == value_index_.end()) {
    throw ModelError(origin_ + ": no metadata key " + Printable(key));
  }
  return values_[it->second];
}

const GgufFile::Value& GgufFile::LookupArray(std::string_view key, const char* wanted) const {
  const Value& value = Lookup(key);
  if (value.type != kTypeArray) {
    throw ModelError(origin_ + ": metadata key " + Printable(key) + " is of type " +
                     ValueTypeName(value.type) + ", not " + wanted);
  }
  return value;
}

uint64_t GgufFile::GetUint(std::string_view key) const {
  const Value& value = Lookup(key);
  if (!IsIntegerType(value.type)) {
    throw ModelError(origin_ + ": metadata key " + Printable(key) + " is of type " +
                     ValueTypeName(value.type) + ", not an integer");
  }
  const Integer integer = ReadInteger(data_ + value.offset, value.type);
  if (integer.negative) {
    throw ModelError(origin_ + ": metadata key " + Printable(key) + " is " + IntegerText(integer) +
                     ", not a non-negative integer");
  }
  return integer.bits;
}

uint64_t GgufFile::GetUint(std::string_view key, uint64_t fallback) const {
  return Has(key) ? GetUint(key) : fallback;
}

int64_t GgufFile::GetInt(std::string_view key) const {
  const Value& value = Lookup(key);
  if (!IsIntegerType(value.type)) {
    throw ModelError(origin_ + ": metadata key " + Printable(key) + " is of type " +
                     ValueTypeName(value.type) + ", not an integer");
  }
  const Integer integer = ReadInteger(data_ + value.offset, value.type);
  if (!integer.negative && integer.bits > static_cast<uint64_t>(INT64_MAX)) {
    throw ModelError(origin_ + ": metadata key " + Printable(key) + " is " + IntegerText(integer) +
                     ", more than 2^63 - 1");
  }
  return static_cast<int64_t>(integer.bits);
}

double GgufFile::GetFloat(std::string_view key) const {
  const Value& value = Lookup(key);
  if (value.type != kTypeF32 && value.type != kTypeF64) {
    throw ModelError(origin_ + ": metadata key " + Printable(key) + " is of type " +
                     ValueTypeName(value.type) + ", not f32 or f64");
  }
  return ReadFloat(data_ + value.offset, value.type);
}

double GgufFile::GetFloat(std::string_view key, double fallback) const {
  return Has(key) ? GetFloat(key) : fallback;
}

bool GgufFile::GetBool(std::string_view key, bool fallback) const {
  if (!Has(key)) return fallback;
  const Value& value = Lookup(key);
  if (value.type != kTypeBool) {
    throw ModelError(origin_ + ": metadata key " + Printable(key) + " is of type " +
                     ValueTypeName(value.type) + ", not bool");
  }
  return data_[value.offset] != 0;
}

std::string GgufFile::GetString(std::string_view key) const {
  const Value& value = Lookup(key);
  if (value.type != kTypeString) {
    throw ModelError(origin_ + ": metadata key " + Printable(key) + " is of type " +
                     ValueTypeName(value.type) + ", not string");
  }
  return ReadString(data_ + value.offset);
}

std::string GgufFile::GetString(std::string_view key, std::string fallback) const {
  return Has(key) ? GetString(key) : fallback;
}

std::vector<std::string> GgufFile::GetStringArray(std::string_view key) const {
  const Value& value = LookupArray(key, "an array of strings");
  if (value.element_type != kTypeString) {
    throw ModelError(origin_ + ": metadata key " + Printable(key) + " is an array of " +
                     ValueTypeName(value.element_type) + ", not of strings");
  }
  std::vector<std::string> strings;
  strings.reserve(value.count);
  size_t offset = value.offset;
  for (uint64_t i = 0; i < value.count; ++i) {
    strings.push_back(ReadString(data_ + offset));
    offset += 8 + strings.back().size();
  }
  return strings;
}

std::vector<float> GgufFile::GetFloatArray(std::string_view key) const {
  const Value& value = LookupArray(key, "an array of floats");
  if (value.element_type != kTypeF32 && value.element_type != kTypeF64) {
    throw ModelError(origin_ + ": metadata key " + Printable(key) + " is an array of " +
                     ValueTypeName(value.element_type) + ", not of f32 or f64");
  }
  const uint64_t stride = ValueTypeSize(value.element_type);
  std::vector<float> floats(value.count);
  for (uint64_t i = 0; i < value.count; ++i) {
    floats[i] =
        static_cast<float>(ReadFloat(data_ + value.offset + i * stride, value.element_type));
  }
  return floats;
}

std::vector<int32_t> GgufFile::GetInt32Array(std::string_view key) const {
  const Value& value = LookupArray(key, "an array of integers");
  if (!IsIntegerType(value.element_type)) {
    throw ModelError(origin_ + ": metadata key " + Printable(key) + " is an array of " +
                     ValueTypeName(value.element_type) + ", not of integers");
  }
  const uint64_t stride = ValueTypeSize(value.element_type);
  std::vector<int32_t> integers(value.count);
  for (uint64_t i = 0; i < value.count; ++i) {
    const Integer integer = ReadInteger(data_ + value.offset + i * stride, value.element_type);
    const int64_t as_signed = static_cast<int64_t>(integer.bits);
    const bool fits = integer.negative ? as_signed >= INT32_MIN : integer.bits <= INT32_MAX;
    if (!fits) {
      throw ModelError(origin_ + ": metadata key " + Printable(key) + " element " +
                       std::to_string(i) + " is " + IntegerText(integer) +
                       ", outside the int32 range");
    }
    integers[i] = static_cast<int32_t>(as_signed);
  }
  return integers;
}

std::vector<std::string> GgufFile::Keys() const {
  std::vector<std::string> keys;
  keys.reserve(values_.size());
  for (const Value& value : values_) keys.push_back(value.key);
  return keys;
}

const GgufTensor* GgufFile::Find(std::string_view name) const {
  const auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

const GgufTensor& GgufFile::Get(std::string_view name) const {
  const GgufTensor* tensor = Find(name);
  if (tensor == nullptr) {
    throw ModelError(origin_ + ": no tensor " + Printable(name) + " among its " +
                     std::to_string(tensors_.size()) + " tensors");
  }
  return *tensor;
}

}  // namespace porta::run
