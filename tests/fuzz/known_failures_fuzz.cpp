// libFuzzer entry for porta-cts's --known-failures file parser (conformance/known_failures.cpp).
// Any text must parse or give an error; what it promises is checked: every entry has a backend, a
// test pattern and a reason, and an error names the source and a line, and quotes a bounded part
// of the input, however long the input is.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "conformance/known_failures.h"

namespace {

// The longest error: the source and line, fixed words and a quote of at most 60 characters,
// each of which may be written as a 4-character \xNN escape.
constexpr size_t kMaxErrorLength = 480;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  porta_cts::KnownFailureFile file;
  std::string error;
  if (file.Parse(text, "kf.txt", &error)) {
    for (const porta_cts::KnownFailure& entry : file.entries()) {
      if (entry.backend == nullptr || entry.device == nullptr || entry.test == nullptr ||
          entry.reason == nullptr) {
        __builtin_trap();
      }
      if (*entry.backend == '\0' || *entry.test == '\0' || *entry.reason == '\0') __builtin_trap();
      if (std::strchr(entry.test, '/') != nullptr) __builtin_trap();
      // Matching never fails on what the parser accepted.
      static_cast<void>(porta_cts::FindKnownFailure(file.entries(), "cpu", "x", "A.B"));
    }
  } else if (error.rfind("kf.txt:", 0) != 0 || error.size() > kMaxErrorLength) {
    __builtin_trap();
  }
  return 0;
}
