#include "tools/common/device_names.h"

#include <cstdio>
#include <cstring>

namespace porta::tools {

std::string DeviceTypeName(porta_device_type_t type) {
  switch (type) {
    case PORTA_DEVICE_TYPE_CPU:
      return "cpu";
    case PORTA_DEVICE_TYPE_GPU:
      return "gpu";
    case PORTA_DEVICE_TYPE_NPU:
      return "npu";
    case PORTA_DEVICE_TYPE_ACCELERATOR:
      return "accelerator";
  }
  return "unknown(" + std::to_string(static_cast<int>(type)) + ")";
}

std::string KernelFormatName(uint32_t format) {
  const char* name = porta_kernel_format_name(static_cast<int32_t>(format));
  return std::strcmp(name, "unknown") == 0 ? "unknown(" + std::to_string(format) + ")" : name;
}

std::vector<std::string> KernelFormatNames(uint32_t mask) {
  std::vector<std::string> names;
  for (uint32_t format = 0; format < 32; ++format) {
    if ((mask & (1u << format)) != 0) names.push_back(KernelFormatName(format));
  }
  return names;
}

std::vector<std::string> NativeTags(const porta_device_info_t& info) {
  std::vector<std::string> tags;
  for (uint32_t i = 0; i < info.native_tag_count && i < PORTA_MAX_NATIVE_TAGS; ++i) {
    tags.emplace_back(info.native_tags[i], strnlen(info.native_tags[i], PORTA_NATIVE_TAG_SIZE));
  }
  return tags;
}

std::vector<std::string> CapabilityNames(uint64_t capabilities) {
  struct Named {
    uint64_t flag;
    const char* name;
  };
  static constexpr Named kNames[] = {
      {PORTA_CAP_FP16, "fp16"},
      {PORTA_CAP_BF16, "bf16"},
      {PORTA_CAP_FP64, "fp64"},
      {PORTA_CAP_INT64, "int64"},
      {PORTA_CAP_ATOMICS, "atomics"},
      {PORTA_CAP_HOST_VISIBLE_MEMORY, "host-visible-memory"},
      {PORTA_CAP_UNIFIED_MEMORY, "unified-memory"},
      {PORTA_CAP_INT8, "int8"},
      {PORTA_CAP_TIMESTAMPS, "timestamps"},
      {PORTA_CAP_NATIVE_GRAPHS, "native-graphs"},
  };
  std::vector<std::string> names;
  uint64_t named_bits = 0;
  for (const Named& named : kNames) {
    named_bits |= named.flag;
    if ((capabilities & named.flag) != 0) names.emplace_back(named.name);
  }
  for (uint32_t bit = 0; bit < 64; ++bit) {
    const uint64_t flag = uint64_t{1} << bit;
    if ((capabilities & flag) != 0 && (named_bits & flag) == 0) {
      names.push_back("bit(" + std::to_string(bit) + ")");
    }
  }
  return names;
}

std::string UuidHex(const uint8_t (&uuid)[16]) {
  std::string out;
  char digits[3];
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
    std::snprintf(digits, sizeof(digits), "%02x", uuid[i]);
    out += digits;
  }
  return out;
}

std::string JoinOrNone(const std::vector<std::string>& items, const char* separator) {
  if (items.empty()) return "none";
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += separator;
    out += items[i];
  }
  return out;
}

}  // namespace porta::tools
