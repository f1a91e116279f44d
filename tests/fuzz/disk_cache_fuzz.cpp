// libFuzzer entry for the disk cache's file reader (backends/common/disk_cache.cpp): the input is
// written as the cache file of a fixed key and loaded. Load must return a miss (and remove the
// file) or a payload no longer than the file; an entry stored from the same bytes must read back
// exactly.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "porta/sdk/disk_cache.h"

namespace {

constexpr const char* kKey = "fuzz:device=cpu;options=-O2";

const porta::common::DiskCache& Cache() {
  // In memory (/dev/shm) where there is one: every input is a file write, rename and read.
  static const porta::common::DiskCache* cache = [] {
    char in_memory[] = "/dev/shm/porta-disk-cache-fuzz.XXXXXX";
    char on_disk[] = "/tmp/porta-disk-cache-fuzz.XXXXXX";
    const char* folder = mkdtemp(in_memory);
    if (folder == nullptr) folder = mkdtemp(on_disk);
    if (folder == nullptr) std::abort();
    std::atexit([] { std::filesystem::remove_all(Cache().folder()); });
    return new porta::common::DiskCache(folder);
  }();
  return *cache;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const porta::common::DiskCache& cache = Cache();
  const std::string path = cache.PathFor(kKey);
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
    if (!out) std::abort();
  }
  const auto loaded = cache.Load(kKey);
  if (loaded.has_value()) {
    if (loaded->size() > size) __builtin_trap();
  } else if (std::filesystem::exists(path)) {
    __builtin_trap();  // a bad entry is removed
  }
  if (!cache.Store(kKey, data, size)) std::abort();
  const auto stored = cache.Load(kKey);
  if (!stored.has_value() || stored->size() != size ||
      (size != 0 && std::memcmp(stored->data(), data, size) != 0)) {
    __builtin_trap();
  }
  return 0;
}
