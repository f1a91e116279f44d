#include "porta/sdk/disk_cache.h"

#include <unistd.h>

#include <atomic>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <system_error>
#include <thread>

namespace porta::common {
namespace {

constexpr char kMagic[8] = {'P', 'O', 'R', 'T', 'A', 'C', '0', '1'};
// Bumped whenever the layout below changes, so old files read as misses.
constexpr uint32_t kFormatVersion = 1;
// Keys are short descriptions (hashes, device names, options); anything larger is corruption.
constexpr uint32_t kMaxKeyBytes = 1u << 20;
constexpr uint64_t kFnvPrime = 0x100000001b3ull;
// Seed of the second half of HexDigest128; any value unrelated to the FNV offset basis works.
constexpr uint64_t kSecondSeed = 0x9e3779b97f4a7c15ull;

// Integers are stored little-endian byte by byte so cache files do not depend on the host.
void PutU32(std::string& out, uint32_t value) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

void PutU64(std::string& out, uint64_t value) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

// Reads fields from a byte range, failing (without reading past the end) once it runs out.
class Reader {
 public:
  Reader(const uint8_t* data, size_t size) : data_(data), size_(size) {}

  bool Bytes(size_t count, const uint8_t** out) {
    if (size_ - pos_ < count) return false;
    *out = data_ + pos_;
    pos_ += count;
    return true;
  }
  bool U32(uint32_t* out) {
    const uint8_t* bytes = nullptr;
    if (!Bytes(4, &bytes)) return false;
    *out = 0;
    for (int i = 0; i < 4; ++i) *out |= static_cast<uint32_t>(bytes[i]) << (8 * i);
    return true;
  }
  bool U64(uint64_t* out) {
    const uint8_t* bytes = nullptr;
    if (!Bytes(8, &bytes)) return false;
    *out = 0;
    for (int i = 0; i < 8; ++i) *out |= static_cast<uint64_t>(bytes[i]) << (8 * i);
    return true;
  }
  size_t remaining() const { return size_ - pos_; }
  size_t position() const { return pos_; }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

bool ReadWholeFile(const std::string& path, std::vector<uint8_t>* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  in.seekg(0, std::ios::end);
  const std::streamoff end = in.tellg();
  if (end < 0) return false;
  in.seekg(0, std::ios::beg);
  out->resize(static_cast<size_t>(end));
  if (end > 0 && !in.read(reinterpret_cast<char*>(out->data()), end)) return false;
  return true;
}

// A name no other writer (thread or process) uses at the same time.
std::string TemporaryName() {
  static std::atomic<uint64_t> counter{0};
  thread_local std::mt19937_64 rng{std::random_device{}() ^
                                   std::hash<std::thread::id>{}(std::this_thread::get_id())};
  char name[96];
  std::snprintf(name, sizeof(name), ".tmp-%ld-%zx-%" PRIx64 "-%" PRIu64,
                static_cast<long>(getpid()),
                std::hash<std::thread::id>{}(std::this_thread::get_id()),
                static_cast<uint64_t>(rng()), counter.fetch_add(1, std::memory_order_relaxed));
  return name;
}

}  // namespace

uint64_t Hash64(const void* data, size_t size, uint64_t seed) {
  const auto* bytes = static_cast<const uint8_t*>(data);
  uint64_t hash = seed;
  for (size_t i = 0; i < size; ++i) {
    hash ^= bytes[i];
    hash *= kFnvPrime;
  }
  return hash;
}

uint64_t Hash64(std::string_view text, uint64_t seed) {
  return Hash64(text.data(), text.size(), seed);
}

std::string HexDigest128(std::string_view text) {
  char digest[33];
  std::snprintf(digest, sizeof(digest), "%016" PRIx64 "%016" PRIx64, Hash64(text),
                Hash64(text, kSecondSeed));
  return digest;
}

DiskCache::DiskCache(std::string folder) : folder_(std::move(folder)) {}

std::string DiskCache::PathFor(std::string_view key) const {
  return (std::filesystem::path(folder_) / (HexDigest128(key) + ".bin")).string();
}

std::optional<std::vector<uint8_t>> DiskCache::Load(std::string_view key) const {
  if (!enabled()) return std::nullopt;
  const std::string path = PathFor(key);
  std::vector<uint8_t> file;
  if (!ReadWholeFile(path, &file)) return std::nullopt;

  Reader reader(file.data(), file.size());
  const uint8_t* magic = nullptr;
  uint32_t version = 0;
  uint32_t key_size = 0;
  const uint8_t* stored_key = nullptr;
  uint64_t payload_size = 0;
  uint64_t payload_hash = 0;
  const bool valid =
      reader.Bytes(sizeof(kMagic), &magic) && std::memcmp(magic, kMagic, sizeof(kMagic)) == 0 &&
      reader.U32(&version) && version == kFormatVersion && reader.U32(&key_size) &&
      key_size <= kMaxKeyBytes && key_size == key.size() && reader.Bytes(key_size, &stored_key) &&
      (key_size == 0 || std::memcmp(stored_key, key.data(), key_size) == 0) &&
      reader.U64(&payload_size) && reader.U64(&payload_hash) &&
      payload_size == reader.remaining() &&
      Hash64(file.data() + reader.position(), reader.remaining()) == payload_hash;
  if (!valid) {
    // A bad entry would be a miss forever; removing it lets the next Store replace it.
    std::error_code ignored;
    std::filesystem::remove(path, ignored);
    return std::nullopt;
  }
  return std::vector<uint8_t>(file.begin() + static_cast<std::ptrdiff_t>(reader.position()),
                              file.end());
}

bool DiskCache::Store(std::string_view key, const void* data, size_t size) const {
  if (!enabled() || (data == nullptr && size != 0) || key.size() > kMaxKeyBytes) return false;
  std::error_code error;
  std::filesystem::create_directories(folder_, error);
  if (error) return false;

  std::string header(kMagic, sizeof(kMagic));
  PutU32(header, kFormatVersion);
  PutU32(header, static_cast<uint32_t>(key.size()));
  header.append(key);
  PutU64(header, size);
  PutU64(header, Hash64(data, size));

  const std::string temporary = (std::filesystem::path(folder_) / TemporaryName()).string();
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    if (!out) return false;
    out.write(header.data(), static_cast<std::streamsize>(header.size()));
    if (size > 0) out.write(static_cast<const char*>(data), static_cast<std::streamsize>(size));
    out.close();
    if (!out) {
      std::filesystem::remove(temporary, error);
      return false;
    }
  }
  // rename() replaces the target atomically, so a concurrent Load sees the old or the new file.
  std::filesystem::rename(temporary, PathFor(key), error);
  if (error) {
    std::error_code ignored;
    std::filesystem::remove(temporary, ignored);
    return false;
  }
  return true;
}

}  // namespace porta::common
