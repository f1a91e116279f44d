#include "hal/native_format.h"

#include <cstdio>
#include <cstring>

namespace porta::hal {
namespace {

static_assert(sizeof(porta_native_header_t) == 64, "the vendor's binary starts at byte 64");

constexpr size_t kMagicSize = sizeof(porta_native_header_t{}.magic);
static_assert(sizeof(PORTA_NATIVE_MAGIC) == kMagicSize + 1, "the magic is 8 characters");

bool IsTagCharacter(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::strchr("._:+-", c) != nullptr;
}

}  // namespace

std::string NativeTagProblem(const char* field, size_t capacity, bool zero_padded) {
  const void* nul = std::memchr(field, '\0', capacity);
  if (nul == nullptr) {
    return "is not NUL-terminated within its " + std::to_string(capacity) + " bytes";
  }
  const size_t length = static_cast<size_t>(static_cast<const char*>(nul) - field);
  if (length == 0) return "is empty";
  for (size_t i = 0; i < length; ++i) {
    const auto c = static_cast<unsigned char>(field[i]);
    if (IsTagCharacter(c)) continue;
    char what[32];
    if (c >= 0x20 && c < 0x7f) {
      std::snprintf(what, sizeof(what), "'%c'", c);
    } else {
      std::snprintf(what, sizeof(what), "the byte 0x%02x", c);
    }
    return std::string("has ") + what + " at position " + std::to_string(i) +
           "; a tag holds only letters, digits and \"._:+-\"";
  }
  if (zero_padded) {
    for (size_t i = length + 1; i < capacity; ++i) {
      if (field[i] != '\0') {
        return "has a nonzero byte at position " + std::to_string(i) +
               ", after its terminating NUL (the rest of the field must be zero)";
      }
    }
  }
  return "";
}

std::string NativeBinaryProblem(const void* data, size_t size, std::string* tag) {
  constexpr size_t kHeader = sizeof(porta_native_header_t);
  if (size < kHeader) {
    return "is " + std::to_string(size) + " bytes, fewer than the " + std::to_string(kHeader) +
           " of its porta_native_header_t";
  }
  // Read through a copy: |data| has no alignment promise (the header is all chars anyway).
  porta_native_header_t header;
  std::memcpy(&header, data, kHeader);
  if (std::memcmp(header.magic, PORTA_NATIVE_MAGIC, kMagicSize) != 0) {
    return "does not start with PORTA_NATIVE_MAGIC (\"" PORTA_NATIVE_MAGIC
           "\"): it is not a native binary in Porta's header";
  }
  std::string problem = NativeTagProblem(header.tag, sizeof(header.tag), true);
  if (!problem.empty()) return "has a malformed tag in its header: the tag " + problem;
  if (size == kHeader) {
    return "holds only its " + std::to_string(kHeader) +
           "-byte header: the vendor's binary after it is missing";
  }
  if (tag != nullptr) *tag = header.tag;
  return "";
}

void CleanNativeTags(porta_device_info_t* info, const std::string& device, std::string* notes) {
  uint32_t declared = info->native_tag_count;
  if (declared > PORTA_MAX_NATIVE_TAGS) {
    *notes += device + " declared native_tag_count " + std::to_string(declared) +
              ", more than PORTA_MAX_NATIVE_TAGS (" + std::to_string(PORTA_MAX_NATIVE_TAGS) +
              "); only the first " + std::to_string(PORTA_MAX_NATIVE_TAGS) + " are read; ";
    declared = PORTA_MAX_NATIVE_TAGS;
  }
  char kept[PORTA_MAX_NATIVE_TAGS][PORTA_NATIVE_TAG_SIZE] = {};
  uint32_t count = 0;
  for (uint32_t i = 0; i < declared; ++i) {
    const char* tag = info->native_tags[i];
    const std::string problem = NativeTagProblem(tag, PORTA_NATIVE_TAG_SIZE, false);
    if (!problem.empty()) {
      *notes += device + "'s native_tags[" + std::to_string(i) + "] " + problem + "; dropped; ";
      continue;
    }
    bool repeated = false;
    for (uint32_t k = 0; k < count && !repeated; ++k) repeated = std::strcmp(kept[k], tag) == 0;
    if (repeated) {
      *notes += device + "'s native_tags[" + std::to_string(i) + "] \"" + tag +
                "\" repeats an earlier tag; dropped; ";
      continue;
    }
    std::strcpy(kept[count++], tag);
  }
  std::memcpy(info->native_tags, kept, sizeof(kept));
  info->native_tag_count = count;
  if (count > 0) {
    info->kernel_formats |= PORTA_FORMAT_BIT(PORTA_FORMAT_NATIVE);
  } else {
    info->kernel_formats &= ~PORTA_FORMAT_BIT(PORTA_FORMAT_NATIVE);
  }
}

bool DeviceRunsNativeTag(const porta_device_info_t& info, const std::string& tag) {
  for (uint32_t i = 0; i < info.native_tag_count && i < PORTA_MAX_NATIVE_TAGS; ++i) {
    if (tag == info.native_tags[i]) return true;
  }
  return false;
}

std::string NativeTagList(const porta_device_info_t& info) {
  std::string list;
  for (uint32_t i = 0; i < info.native_tag_count && i < PORTA_MAX_NATIVE_TAGS; ++i) {
    if (!list.empty()) list += ", ";
    list += info.native_tags[i];
  }
  return list.empty() ? "none" : list;
}

}  // namespace porta::hal
