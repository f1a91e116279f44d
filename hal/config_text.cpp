// Parsing of the device filter and the plugin path list (config_text.h).
#include "hal/config_text.h"

#include <cctype>
#include <cstddef>

#include "porta/porta.h"

namespace porta::hal {
namespace {

// Filter text quoted in messages: at most this many characters of it.
constexpr size_t kQuoteLimit = 80;

std::string Trim(const std::string& text) {
  const size_t first = text.find_first_not_of(" \t");
  if (first == std::string::npos) return std::string();
  return text.substr(first, text.find_last_not_of(" \t") - first + 1);
}

}  // namespace

std::string QuoteConfigText(const std::string& text) {
  if (text.size() <= kQuoteLimit) return "\"" + text + "\"";
  return "\"" + text.substr(0, kQuoteLimit) + "\"... (" + std::to_string(text.size()) +
         " characters)";
}

std::string LowerAscii(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

uint32_t DeviceTypeWord(const std::string& word) {
  if (word == "gpu") return PORTA_DEVICE_TYPE_GPU;
  if (word == "npu") return PORTA_DEVICE_TYPE_NPU;
  if (word == "accelerator") return PORTA_DEVICE_TYPE_ACCELERATOR;
  return 0;
}

bool ParseDeviceFilter(const std::string& text, std::vector<FilterEntry>* entries,
                       std::string* error) {
  entries->clear();
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string::npos) comma = text.size();
    const std::string item = Trim(text.substr(start, comma - start));
    start = comma + 1;
    if (item.empty()) {
      *error =
          "empty entry in device filter " + QuoteConfigText(text) + " (expected backend[:index|*])";
      return false;
    }
    FilterEntry entry;
    entry.text = item;
    size_t colon = item.find(':');
    entry.backend = LowerAscii(Trim(item.substr(0, colon)));
    if (entry.backend.empty()) {
      *error = "entry " + QuoteConfigText(item) + " of device filter has no backend name";
      return false;
    }
    if (colon != std::string::npos) {
      std::string index = Trim(item.substr(colon + 1));
      if (index != "*") {
        if (index.empty() || index.size() > 9 ||
            index.find_first_not_of("0123456789") != std::string::npos) {
          *error = "entry " + QuoteConfigText(item) +
                   " of device filter: the index must be a decimal number or *";
          return false;
        }
        entry.all = false;
        entry.index = static_cast<uint32_t>(std::stoul(index));
      }
    }
    entries->push_back(entry);
    if (comma == text.size()) break;
  }
  return true;
}

std::vector<std::string> SplitPluginPaths(const char* text) {
  std::vector<std::string> paths;
  if (text == nullptr) return paths;
  std::string all = text;
  size_t start = 0;
  while (start <= all.size()) {
    size_t colon = all.find(':', start);
    if (colon == std::string::npos) colon = all.size();
    if (colon > start) paths.push_back(all.substr(start, colon - start));
    start = colon + 1;
  }
  return paths;
}

}  // namespace porta::hal
