// libFuzzer entry for the safetensors parser: any bytes must parse or give a ModelError, and
// every tensor handed out must lie inside the input (touched here so the address sanitizer
// checks it).
//
// Byte mutations of a whole file rarely keep the 8-byte header length in step with the JSON after
// it, so most of them would only ever test the length check. Each input is therefore parsed twice:
// as it is, and read as "JSON header, a NUL byte, data" (JSON text holds no raw NUL) with the
// length field that split implies, which lets the mutations reach every check of the header.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "tools/run/model_error.h"
#include "tools/run/safetensors.h"

namespace {

void ParseAndTouch(const uint8_t* data, size_t size) {
  try {
    const porta::run::SafetensorsFile file =
        porta::run::SafetensorsFile::Parse(data, size, "fuzz input");
    volatile uint8_t sink = 0;
    for (const porta::run::SafetensorsTensor& tensor : file.tensors()) {
      if (tensor.size > 0) sink = sink + tensor.data[0] + tensor.data[tensor.size - 1];
      if (file.Find(tensor.name) != &tensor) __builtin_trap();
    }
    for (const auto& [key, value] : file.metadata()) sink = sink + key.size() + value.size();
  } catch (const porta::run::ModelError&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ParseAndTouch(data, size);
  const uint8_t* split =
      size > 0 ? static_cast<const uint8_t*>(std::memchr(data, 0, size)) : nullptr;
  if (split != nullptr) {
    const uint64_t header_bytes = static_cast<uint64_t>(split - data);
    std::vector<uint8_t> file(8);
    for (int i = 0; i < 8; ++i) file[i] = static_cast<uint8_t>(header_bytes >> (8 * i));
    file.insert(file.end(), data, split);
    file.insert(file.end(), split + 1, data + size);
    ParseAndTouch(file.data(), file.size());
  }
  return 0;
}
