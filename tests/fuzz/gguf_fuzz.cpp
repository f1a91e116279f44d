// libFuzzer entry for the GGUF parser: any bytes must parse or give a ModelError. A parsed file's
// getters are all called on every key (each may refuse the type with a ModelError), and every
// tensor's first and last bytes are touched and its first rows dequantized, so the address
// sanitizer checks that what the parser hands out lies inside the input.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>

#include "tools/run/gguf.h"
#include "tools/run/model_error.h"
#include "tools/run/quant.h"

namespace {

using porta::run::GgmlType;
using porta::run::GgufFile;
using porta::run::ModelError;

template <typename Getter>
void Try(Getter&& getter) {
  try {
    getter();
  } catch (const ModelError&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const GgufFile file = GgufFile::Parse(data, size, "fuzz input");
    for (const std::string& key : file.Keys()) {
      Try([&] { file.GetUint(key); });
      Try([&] { file.GetInt(key); });
      Try([&] { file.GetFloat(key); });
      Try([&] { file.GetBool(key, false); });
      Try([&] { file.GetString(key); });
      Try([&] { file.GetStringArray(key); });
      Try([&] { file.GetFloatArray(key); });
      Try([&] { file.GetInt32Array(key); });
    }
    volatile uint8_t sink = 0;
    float floats[256];
    uint16_t halves[256];
    for (const porta::run::GgufTensor& tensor : file.tensors()) {
      sink = sink + tensor.data[0] + tensor.data[tensor.size - 1];
      if (file.Find(tensor.name) != &tensor) __builtin_trap();
      const uint64_t block = porta::run::GgmlBlockElements(tensor.type);
      const uint64_t n = std::min<uint64_t>(tensor.dims[0], 256) / block * block;
      Try([&] { porta::run::DequantizeRow(tensor.type, tensor.data, n, floats); });
      Try([&] { porta::run::DequantizeRowF16(tensor.type, tensor.data, n, halves); });
    }
  } catch (const ModelError&) {
  }
  return 0;
}
