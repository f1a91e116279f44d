// The runtime's configuration strings — the device filter (PORTA_DEVICES, options->device_filter)
// and the plugin path list (PORTA_PLUGIN_PATH, options->plugin_paths) — parsed from untrusted
// text: every input gives entries or an error, never a crash (tests/fuzz fuzzes both).
#ifndef PORTA_HAL_CONFIG_TEXT_H_
#define PORTA_HAL_CONFIG_TEXT_H_

#include <cstdint>
#include <string>
#include <vector>

namespace porta::hal {

// One element of a device filter: a backend name (or a device type: gpu, npu, accelerator) and a
// device index, or every device.
struct FilterEntry {
  std::string text;     // the entry as written, for diagnostics
  std::string backend;  // lower case
  bool all = true;
  uint32_t index = 0;
};

// Parses "opencl:0,vulkan:*,cpu" (spaces around entries ignored, names case-insensitive); returns
// false with |error| set for malformed text, quoting at most a bounded prefix of it.
bool ParseDeviceFilter(const std::string& text, std::vector<FilterEntry>* entries,
                       std::string* error);

// Splits a ':'-separated list of plugin files and folders; empty elements are dropped. NULL gives
// an empty list.
std::vector<std::string> SplitPluginPaths(const char* text);

// |text| in double quotes for a message, cut to its first 80 characters (with the full length
// named) when longer.
std::string QuoteConfigText(const std::string& text);

// |text| with ASCII letters in lower case.
std::string LowerAscii(std::string text);

// The device type (PORTA_DEVICE_TYPE_*) a filter word names, or 0 when it is not a type word.
// "cpu" is a backend, not a type word.
uint32_t DeviceTypeWord(const std::string& word);

}  // namespace porta::hal

#endif  // PORTA_HAL_CONFIG_TEXT_H_
