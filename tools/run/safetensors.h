// Reading safetensors files (the MiniLM weights): an 8-byte little-endian header length, a JSON
// header naming each tensor's dtype, shape and byte range, then the data. Every field is checked
// against the file before a tensor is handed out, so a bad file is a ModelError, never a crash.
#ifndef PORTA_TOOLS_RUN_SAFETENSORS_H_
#define PORTA_TOOLS_RUN_SAFETENSORS_H_

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

// Bytes per element of a safetensors dtype ("F32" → 4, "BOOL" → 1, ...); 0 for a dtype this
// reader does not know (sub-byte types included).
size_t SafetensorsDtypeSize(std::string_view dtype);

struct SafetensorsTensor {
  std::string name;
  std::string dtype;
  std::vector<int64_t> shape;  // outermost dimension first, as written in the header
  const uint8_t* data;         // into the file; valid while the SafetensorsFile (or bytes) live
  uint64_t size;               // bytes: elements × SafetensorsDtypeSize(dtype)
};

class SafetensorsFile {
 public:
  // Maps and parses the file at |path|. Throws ModelError naming the file, the tensor and the
  // numbers for every inconsistency.
  static SafetensorsFile Open(const std::string& path);
  // Parses |size| bytes at |data|, which the caller keeps alive and unchanged while the result
  // is used; |origin| names them in messages.
  static SafetensorsFile Parse(const uint8_t* data, size_t size, std::string origin);

  // Sorted by data offset, so walking them reads the file front to back.
  const std::vector<SafetensorsTensor>& tensors() const { return tensors_; }
  const SafetensorsTensor* Find(std::string_view name) const;
  // Throws ModelError naming the file and |name| when the tensor is absent.
  const SafetensorsTensor& Get(std::string_view name) const;
  // The header's "__metadata__" object (string → string); empty when absent.
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  const std::string& origin() const { return origin_; }

 private:
  SafetensorsFile() = default;

  std::optional<MappedFile> file_;
  std::string origin_;
  std::vector<SafetensorsTensor> tensors_;
  std::map<std::string, size_t, std::less<>> index_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace porta::run

#endif  // PORTA_TOOLS_RUN_SAFETENSORS_H_
