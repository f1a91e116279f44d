// The safetensors parser: header length, JSON header (with duplicate keys refused), and the
// checks that keep every tensor's bytes inside the data section and apart from each other.
#include "tools/run/safetensors.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <set>
#include <utility>

#include <nlohmann/json.hpp>

#include "tools/run/model_error.h"

namespace porta::run {
namespace {

using Json = nlohmann::json;

// Real headers are tens of kilobytes; the cap keeps a hostile length from making the JSON parser
// build a huge tree.
constexpr uint64_t kMaxHeaderBytes = 100u << 20;

std::string Quoted(std::string_view name) {
  return "'" + std::string(name) + "'";
}

std::string ShapeText(const std::vector<int64_t>& shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) text += ", ";
    text += std::to_string(shape[i]);
  }
  return text + "]";
}

// nlohmann::json keeps the last of two equal keys without a word, which would let a file carry
// two different definitions of one tensor (or two dtypes in one entry). The parser callback sees
// every key before the tree is built, so a stack of the keys seen per open object finds each
// duplicate, at any depth, in one pass over the text.
class DuplicateKeyCheck {
 public:
  explicit DuplicateKeyCheck(const std::string& origin) : origin_(origin) {}

  bool operator()(int /*depth*/, Json::parse_event_t event, Json& parsed) {
    switch (event) {
      case Json::parse_event_t::object_start:
        open_objects_.emplace_back();
        break;
      case Json::parse_event_t::object_end:
        if (!open_objects_.empty()) open_objects_.pop_back();
        break;
      case Json::parse_event_t::key: {
        if (open_objects_.empty() || !parsed.is_string()) break;
        const std::string& key = parsed.get_ref<const std::string&>();
        if (!open_objects_.back().insert(key).second) {
          throw ModelError(origin_ + ": the header names " + Quoted(key) +
                           " twice in one object (a reader would silently keep one of them)");
        }
        break;
      }
      default:
        break;
    }
    return true;
  }

 private:
  const std::string& origin_;
  std::vector<std::set<std::string>> open_objects_;
};

// A short description of a header value for messages. Containers are named, not printed: dumping
// a hostile, deeply nested value would recurse without bound and could be megabytes long.
std::string Describe(const Json& value) {
  if (value.is_array()) return "an array";
  if (value.is_object()) return "an object";
  std::string text = value.dump();
  if (text.size() > 64) text = text.substr(0, 64) + "...";
  return text;
}

uint64_t ReadLe64(const uint8_t* bytes) {
  uint64_t value = 0;
  for (int i = 7; i >= 0; --i) value = (value << 8) | bytes[i];
  return value;
}

// Reads the non-negative integer |value| of tensor |name|'s field |field|.
uint64_t Unsigned(const Json& value, const std::string& origin, const std::string& name,
                  const char* field) {
  if (!value.is_number_unsigned()) {
    throw ModelError(origin + ": tensor " + Quoted(name) + ": " + field + " holds " +
                     Describe(value) + ", not a non-negative integer");
  }
  return value.get<uint64_t>();
}

}  // namespace

size_t SafetensorsDtypeSize(std::string_view dtype) {
  static const std::pair<std::string_view, size_t> kSizes[] = {
      {"BOOL", 1}, {"U8", 1},  {"I8", 1},   {"F8_E4M3", 1}, {"F8_E5M2", 1}, {"I16", 2},
      {"U16", 2},  {"F16", 2}, {"BF16", 2}, {"I32", 4},     {"U32", 4},     {"F32", 4},
      {"I64", 8},  {"U64", 8}, {"F64", 8},  {"C64", 8},     {"F8_E8M0", 1},
  };
  for (const auto& [name, size] : kSizes) {
    if (name == dtype) return size;
  }
  return 0;
}

SafetensorsFile SafetensorsFile::Open(const std::string& path) {
  MappedFile file = MappedFile::Open(path);
  SafetensorsFile result = Parse(file.data(), file.size(), path);
  result.file_ = std::move(file);
  return result;
}

SafetensorsFile SafetensorsFile::Parse(const uint8_t* data, size_t size, std::string origin) {
  SafetensorsFile result;
  result.origin_ = std::move(origin);
  const std::string& where = result.origin_;
  if (size < 8) {
    throw ModelError(where + ": file of " + std::to_string(size) +
                     " bytes is shorter than the 8-byte safetensors header length");
  }
  const uint64_t header_bytes = ReadLe64(data);
  if (header_bytes > size - 8) {
    throw ModelError(where + ": header length " + std::to_string(header_bytes) +
                     " is larger than the " + std::to_string(size - 8) +
                     " bytes after the length field");
  }
  if (header_bytes > kMaxHeaderBytes) {
    throw ModelError(where + ": header length " + std::to_string(header_bytes) +
                     " is larger than the limit of " + std::to_string(kMaxHeaderBytes) + " bytes");
  }
  const char* text = reinterpret_cast<const char*>(data + 8);
  Json header;
  try {
    header = Json::parse(text, text + header_bytes, DuplicateKeyCheck(where));
  } catch (const Json::exception& e) {
    throw ModelError(where + ": the header is not valid JSON: " + e.what());
  }
  if (!header.is_object()) {
    throw ModelError(where + ": the header is JSON of type " + std::string(header.type_name()) +
                     ", not an object");
  }

  const uint64_t data_start = 8 + header_bytes;
  const uint64_t data_bytes = size - data_start;
  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") {
      if (!entry.is_object()) {
        throw ModelError(where + ": __metadata__ is JSON of type " +
                         std::string(entry.type_name()) + ", not an object");
      }
      for (const auto& [key, value] : entry.items()) {
        if (!value.is_string()) {
          throw ModelError(where + ": __metadata__ value of " + Quoted(key) + " is " +
                           Describe(value) + ", not a string");
        }
        result.metadata_[key] = value.get<std::string>();
      }
      continue;
    }
    if (!entry.is_object()) {
      throw ModelError(where + ": tensor " + Quoted(name) + " is JSON of type " +
                       std::string(entry.type_name()) + ", not an object");
    }
    for (const char* field : {"dtype", "shape", "data_offsets"}) {
      if (!entry.contains(field)) {
        throw ModelError(where + ": tensor " + Quoted(name) + " has no " + field);
      }
    }
    const Json& dtype = entry.at("dtype");
    const Json& shape = entry.at("shape");
    const Json& offsets = entry.at("data_offsets");
    if (!dtype.is_string()) {
      throw ModelError(where + ": tensor " + Quoted(name) + ": dtype is " + Describe(dtype) +
                       ", not a string");
    }
    SafetensorsTensor tensor{name, dtype.get<std::string>(), {}, nullptr, 0};
    const uint64_t element_bytes = SafetensorsDtypeSize(tensor.dtype);
    if (element_bytes == 0) {
      throw ModelError(where + ": tensor " + Quoted(name) + " has unknown dtype " +
                       Quoted(tensor.dtype));
    }
    if (!shape.is_array()) {
      throw ModelError(where + ": tensor " + Quoted(name) + ": shape is " + Describe(shape) +
                       ", not an array");
    }
    uint64_t elements = 1;
    bool overflow = false;
    bool empty = false;
    for (const Json& dim : shape) {
      const uint64_t extent = Unsigned(dim, where, name, "shape");
      if (extent > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        throw ModelError(where + ": tensor " + Quoted(name) + ": dimension " +
                         std::to_string(extent) + " is larger than 2^63 - 1");
      }
      tensor.shape.push_back(static_cast<int64_t>(extent));
      if (extent == 0) empty = true;
      if (extent != 0 && elements > std::numeric_limits<uint64_t>::max() / extent) overflow = true;
      elements *= extent;
    }
    // A zero dimension makes the tensor empty however large the other dimensions are.
    if (empty) {
      elements = 0;
      overflow = false;
    }
    if (overflow || elements > std::numeric_limits<uint64_t>::max() / element_bytes) {
      throw ModelError(where + ": tensor " + Quoted(name) + ": shape " + ShapeText(tensor.shape) +
                       " of " + tensor.dtype + " has more bytes than fit in 64 bits");
    }
    if (!offsets.is_array() || offsets.size() != 2) {
      throw ModelError(where + ": tensor " + Quoted(name) + ": data_offsets is " +
                       Describe(offsets) + ", not an array [begin, end]");
    }
    const uint64_t begin = Unsigned(offsets[0], where, name, "data_offsets");
    const uint64_t end = Unsigned(offsets[1], where, name, "data_offsets");
    if (begin > end) {
      throw ModelError(where + ": tensor " + Quoted(name) + ": data_offsets begin " +
                       std::to_string(begin) + " is after end " + std::to_string(end));
    }
    if (end > data_bytes) {
      throw ModelError(where + ": tensor " + Quoted(name) + ": data_offsets end " +
                       std::to_string(end) + " is beyond the data section of " +
                       std::to_string(data_bytes) + " bytes");
    }
    tensor.size = elements * element_bytes;
    if (tensor.size != end - begin) {
      throw ModelError(where + ": tensor " + Quoted(name) + ": shape " + ShapeText(tensor.shape) +
                       " of " + tensor.dtype + " needs " + std::to_string(tensor.size) +
                       " bytes but data_offsets [" + std::to_string(begin) + ", " +
                       std::to_string(end) + "] hold " + std::to_string(end - begin));
    }
    tensor.data = data + data_start + begin;
    result.tensors_.push_back(std::move(tensor));
  }

  std::sort(result.tensors_.begin(), result.tensors_.end(),
            [](const SafetensorsTensor& a, const SafetensorsTensor& b) {
              return a.data != b.data ? a.data < b.data : a.size < b.size;
            });
  // Gaps between tensors are harmless (nothing reads them); shared bytes would let a write meant
  // for one tensor change another, so they are refused. Empty tensors own no bytes.
  const SafetensorsTensor* previous = nullptr;
  for (const SafetensorsTensor& tensor : result.tensors_) {
    if (tensor.size == 0) continue;
    if (previous != nullptr && previous->data + previous->size > tensor.data) {
      const auto offset = [&](const uint8_t* p) {
        return std::to_string(static_cast<uint64_t>(p - (data + data_start)));
      };
      throw ModelError(where + ": tensors " + Quoted(previous->name) + " [" +
                       offset(previous->data) + ", " + offset(previous->data + previous->size) +
                       ") and " + Quoted(tensor.name) + " [" + offset(tensor.data) + ", " +
                       offset(tensor.data + tensor.size) + ") overlap");
    }
    if (previous == nullptr || previous->data + previous->size < tensor.data + tensor.size) {
      previous = &tensor;
    }
  }
  for (size_t i = 0; i < result.tensors_.size(); ++i) {
    result.index_.emplace(result.tensors_[i].name, i);
  }
  return result;
}

const SafetensorsTensor* SafetensorsFile::Find(std::string_view name) const {
  const auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

const SafetensorsTensor& SafetensorsFile::Get(std::string_view name) const {
  const SafetensorsTensor* tensor = Find(name);
  if (tensor == nullptr) {
    throw ModelError(origin_ + ": no tensor " + Quoted(name) + " among its " +
                     std::to_string(tensors_.size()) + " tensors");
  }
  return *tensor;
}

}  // namespace porta::run
