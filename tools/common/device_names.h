// Human-readable names for the enums and bit masks of porta_device_info_t, shared by the tools so
// that porta-info and porta-bench print the same words.
#ifndef PORTA_TOOLS_COMMON_DEVICE_NAMES_H_
#define PORTA_TOOLS_COMMON_DEVICE_NAMES_H_

#include <cstdint>
#include <string>
#include <vector>

#include "porta/porta.h"

namespace porta::tools {

// "cpu", "gpu", "npu", "accelerator", or "unknown(N)".
std::string DeviceTypeName(porta_device_type_t type);

// "host", "opencl-c", "spirv-kernel", "spirv-shader", "ptx", "cubin", "hsaco", "native", or
// "unknown(N)".
std::string KernelFormatName(uint32_t format);

// Names of the formats set in a PORTA_FORMAT_BIT mask; bits without a name appear as
// "unknown(N)" so that nothing a newer library reports is hidden.
std::vector<std::string> KernelFormatNames(uint32_t mask);

// The device's native architecture tags (porta_device_info_t.native_tags), in its order.
std::vector<std::string> NativeTags(const porta_device_info_t& info);

// Names of the PORTA_CAP_* flags set in |capabilities| ("fp16", "host-visible-memory", ...);
// unnamed bits appear as "bit(N)".
std::vector<std::string> CapabilityNames(uint64_t capabilities);

// The UUID as 32 lower-case hex digits in the 8-4-4-4-12 layout.
std::string UuidHex(const uint8_t (&uuid)[16]);

// Joins |items| with |separator|; "none" for an empty list.
std::string JoinOrNone(const std::vector<std::string>& items, const char* separator);

}  // namespace porta::tools

#endif  // PORTA_TOOLS_COMMON_DEVICE_NAMES_H_
