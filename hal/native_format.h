// PORTA_FORMAT_NATIVE: the checks of a native source's header and of the architecture tags a
// device declares, and the match between them (porta_native_header_t in porta.h).
#ifndef PORTA_HAL_NATIVE_FORMAT_H_
#define PORTA_HAL_NATIVE_FORMAT_H_

#include <cstddef>
#include <string>

#include "porta/porta.h"

namespace porta::hal {

// Why the |capacity| bytes at |field| do not hold a well-formed native tag, as a phrase that
// follows the tag's name ("is empty"), or "" when they do. With |zero_padded| the bytes after the
// terminating NUL must be zero as well (a header's tag; a device's tags are cleaned instead).
std::string NativeTagProblem(const char* field, size_t capacity, bool zero_padded);

// Why the |size| bytes at |data| are not a PORTA_FORMAT_NATIVE source, as a phrase that follows
// the source's name ("is 12 bytes, ..."), or "" when they are; then |tag| (may be null) receives
// the header's tag.
std::string NativeBinaryProblem(const void* data, size_t size, std::string* tag);

// Cleans the native tags a backend declared in |info|: keeps at most PORTA_MAX_NATIVE_TAGS, drops
// malformed and repeated ones, zeroes every byte after the tags kept, and sets the
// PORTA_FORMAT_NATIVE bit of kernel_formats exactly when a tag remains. What it dropped is
// appended to |notes| ("native_tags[2] ... dropped; "), each note prefixed with |device|.
void CleanNativeTags(porta_device_info_t* info, const std::string& device, std::string* notes);

// True when |tag| is one of the device's native tags.
bool DeviceRunsNativeTag(const porta_device_info_t& info, const std::string& tag);

// The device's native tags, comma-separated ("acme-npu2:v3, acme-npu2:v2"), or "none".
std::string NativeTagList(const porta_device_info_t& info);

}  // namespace porta::hal

#endif  // PORTA_HAL_NATIVE_FORMAT_H_
