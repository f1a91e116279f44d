// On-disk cache of compiled artifacts (OpenCL program binaries, Vulkan pipeline caches).
#ifndef PORTA_SDK_DISK_CACHE_H_
#define PORTA_SDK_DISK_CACHE_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace porta::common {

// 64-bit FNV-1a hash, stable across runs and machines.
uint64_t Hash64(const void* data, size_t size, uint64_t seed = 0xcbf29ce484222325ull);
uint64_t Hash64(std::string_view text, uint64_t seed = 0xcbf29ce484222325ull);
// 32 hex digits of two independent 64-bit hashes of |text|.
std::string HexDigest128(std::string_view text);

// A folder of entries, one file each, named by a digest of the entry's key. Every file carries a
// header with a magic number, the full key and a checksum of the payload, so a truncated,
// corrupt or colliding entry is detected and reported as a miss (and removed), never returned.
// Writes go to a temporary file that is renamed into place, so readers never see half a file.
// Thread- and process-safe. An empty folder name disables the cache (every Load misses, every
// Store is a no-op that returns false).
class DiskCache {
 public:
  explicit DiskCache(std::string folder);

  // Returns the payload stored under |key|, or nullopt when there is none or it is invalid.
  std::optional<std::vector<uint8_t>> Load(std::string_view key) const;
  // Stores |size| bytes under |key|, creating the folder if needed. Returns false on I/O errors.
  bool Store(std::string_view key, const void* data, size_t size) const;
  // The file an entry lives in (for tests and diagnostics).
  std::string PathFor(std::string_view key) const;
  const std::string& folder() const { return folder_; }
  bool enabled() const { return !folder_.empty(); }

 private:
  std::string folder_;
};

}  // namespace porta::common

#endif  // PORTA_SDK_DISK_CACHE_H_
