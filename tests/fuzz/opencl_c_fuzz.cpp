// libFuzzer entry for the OpenCL backend's scan of OpenCL C sources (the constrained profile's
// check for double types, backends/opencl/opencl_c_scan.cpp). Any text must give an answer, and a
// line it names must exist and hold the word "double".
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "backends/opencl/opencl_c_scan.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string source(reinterpret_cast<const char*>(data), size);
  const int line = porta::opencl::FirstDoubleUse(source);
  if (line < 0) __builtin_trap();
  if (line == 0) return 0;
  size_t start = 0;
  for (int i = 1; i < line; ++i) {
    start = source.find('\n', start);
    if (start == std::string::npos) __builtin_trap();  // fewer lines than the answer
    ++start;
  }
  const std::string_view text =
      std::string_view(source).substr(start, source.find('\n', start) - start);
  if (text.find("double") == std::string_view::npos) __builtin_trap();
  return 0;
}
