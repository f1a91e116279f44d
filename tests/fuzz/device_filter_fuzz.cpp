// libFuzzer entry for the device filter parser (PORTA_DEVICES, options->device_filter;
// hal/config_text.cpp). Any text must parse or give an error; what it promises is checked: entries
// have a lower-case, nonempty backend name, and an error message quotes a bounded prefix of the
// input, however long the input is.
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "hal/config_text.h"

namespace {

// The longest error: fixed words around two quotes of at most 80 characters each, plus lengths.
constexpr size_t kMaxErrorLength = 320;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  std::vector<porta::hal::FilterEntry> entries;
  std::string error;
  if (porta::hal::ParseDeviceFilter(text, &entries, &error)) {
    if (entries.empty()) __builtin_trap();
    for (const porta::hal::FilterEntry& entry : entries) {
      if (entry.backend.empty() || entry.text.empty()) __builtin_trap();
      for (char c : entry.backend) {
        if (std::isupper(static_cast<unsigned char>(c))) __builtin_trap();
      }
      if (entry.all && entry.index != 0) __builtin_trap();
    }
  } else if (error.empty() || error.size() > kMaxErrorLength) {
    __builtin_trap();
  }
  return 0;
}
