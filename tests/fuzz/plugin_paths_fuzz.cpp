// libFuzzer entry for the plugin path list (PORTA_PLUGIN_PATH, options->plugin_paths;
// hal/config_text.cpp): the input up to its first NUL is split at ':'; every element must be
// nonempty, free of ':', and together they must be exactly the input's non-separator characters.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "hal/config_text.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // The C string the environment or the options would hold.
  const std::string text(reinterpret_cast<const char*>(data), size);
  const std::string c_text(text.c_str());
  const std::vector<std::string> paths = porta::hal::SplitPluginPaths(c_text.c_str());
  std::string joined;
  for (const std::string& path : paths) {
    if (path.empty() || path.find(':') != std::string::npos) __builtin_trap();
    joined += path;
  }
  std::string expected;
  for (char c : c_text) {
    if (c != ':') expected.push_back(c);
  }
  if (joined != expected) __builtin_trap();
  if (!porta::hal::SplitPluginPaths(nullptr).empty()) __builtin_trap();
  return 0;
}
