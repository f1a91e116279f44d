// Unit tests of porta::common::DiskCache: every damaged entry must read as a miss, never as data.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "porta/sdk/disk_cache.h"

namespace porta::common {
namespace {

class DiskCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "porta-cache-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    root_ = pattern;
    // A nested folder checks that Store creates missing parents.
    folder_ = (std::filesystem::path(root_) / "nested" / "cache").string();
  }
  void TearDown() override {
    std::error_code ignored;
    std::filesystem::remove_all(root_, ignored);
  }

  static std::vector<uint8_t> Payload(size_t size) {
    std::vector<uint8_t> bytes(size);
    for (size_t i = 0; i < size; ++i) bytes[i] = static_cast<uint8_t>(i * 31 + 7);
    return bytes;
  }

  static std::vector<char> ReadFile(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::vector<char>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }

  static void WriteFile(const std::string& path, const std::vector<char>& bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }

  std::string root_;
  std::string folder_;
};

TEST_F(DiskCacheTest, RoundTrip) {
  DiskCache cache(folder_);
  const std::vector<uint8_t> payload = Payload(4099);
  ASSERT_TRUE(cache.Store("program|opts=-O2|device=x", payload.data(), payload.size()));
  EXPECT_TRUE(std::filesystem::exists(cache.PathFor("program|opts=-O2|device=x")));
  auto loaded = cache.Load("program|opts=-O2|device=x");
  ASSERT_TRUE(loaded.has_value());
  EXPECT_EQ(*loaded, payload);

  // Storing again replaces the entry.
  const std::vector<uint8_t> other = Payload(17);
  ASSERT_TRUE(cache.Store("program|opts=-O2|device=x", other.data(), other.size()));
  EXPECT_EQ(cache.Load("program|opts=-O2|device=x"), other);

  // No temporary files are left behind.
  size_t files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(folder_)) {
    EXPECT_EQ(entry.path().extension(), ".bin") << entry.path();
    ++files;
  }
  EXPECT_EQ(files, 1u);
}

TEST_F(DiskCacheTest, EmptyPayload) {
  DiskCache cache(folder_);
  ASSERT_TRUE(cache.Store("empty", nullptr, 0));
  auto loaded = cache.Load("empty");
  ASSERT_TRUE(loaded.has_value());
  EXPECT_TRUE(loaded->empty());
}

TEST_F(DiskCacheTest, MissOnUnknownKey) {
  DiskCache cache(folder_);
  EXPECT_FALSE(cache.Load("never stored").has_value());
  const std::vector<uint8_t> payload = Payload(64);
  ASSERT_TRUE(cache.Store("a", payload.data(), payload.size()));
  EXPECT_FALSE(cache.Load("b").has_value());
  EXPECT_NE(cache.PathFor("a"), cache.PathFor("b"));
}

TEST_F(DiskCacheTest, DisabledCacheNeverStores) {
  DiskCache cache("");
  EXPECT_FALSE(cache.enabled());
  const uint8_t byte = 1;
  EXPECT_FALSE(cache.Store("k", &byte, 1));
  EXPECT_FALSE(cache.Load("k").has_value());
}

TEST_F(DiskCacheTest, TruncatedEntryIsMissAndCanBeStoredAgain) {
  DiskCache cache(folder_);
  const std::vector<uint8_t> payload = Payload(1000);
  ASSERT_TRUE(cache.Store("key", payload.data(), payload.size()));
  const std::string path = cache.PathFor("key");
  const std::vector<char> bytes = ReadFile(path);
  // Cut inside the payload, then inside the header, as a crashed writer of an old version might.
  for (size_t cut : {bytes.size() - 1, bytes.size() / 2, size_t{20}, size_t{3}, size_t{0}}) {
    WriteFile(path, std::vector<char>(bytes.begin(), bytes.begin() + static_cast<long>(cut)));
    EXPECT_FALSE(cache.Load("key").has_value()) << "cut at " << cut;
    EXPECT_FALSE(std::filesystem::exists(path)) << "cut at " << cut;
  }
  ASSERT_TRUE(cache.Store("key", payload.data(), payload.size()));
  EXPECT_EQ(cache.Load("key"), payload);
}

TEST_F(DiskCacheTest, CorruptPayloadByteIsMiss) {
  DiskCache cache(folder_);
  const std::vector<uint8_t> payload = Payload(256);
  ASSERT_TRUE(cache.Store("key", payload.data(), payload.size()));
  const std::string path = cache.PathFor("key");
  std::vector<char> bytes = ReadFile(path);
  bytes[bytes.size() - 100] ^= 0x40;
  WriteFile(path, bytes);
  EXPECT_FALSE(cache.Load("key").has_value());
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST_F(DiskCacheTest, CorruptMagicIsMiss) {
  DiskCache cache(folder_);
  const std::vector<uint8_t> payload = Payload(32);
  ASSERT_TRUE(cache.Store("key", payload.data(), payload.size()));
  std::vector<char> bytes = ReadFile(cache.PathFor("key"));
  bytes[0] = 'X';
  WriteFile(cache.PathFor("key"), bytes);
  EXPECT_FALSE(cache.Load("key").has_value());
}

TEST_F(DiskCacheTest, OtherKeyInSameFileIsMiss) {
  DiskCache cache(folder_);
  // Simulate a digest collision: a well-formed entry for "other" at the file name of "key".
  const std::string stored_key = "other";
  const std::vector<uint8_t> payload = Payload(48);
  std::vector<char> bytes = {'P', 'O', 'R', 'T', 'A', 'C', '0', '1'};
  auto put = [&bytes](uint64_t value, int width) {
    for (int i = 0; i < width; ++i) bytes.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
  };
  put(1, 4);
  put(stored_key.size(), 4);
  bytes.insert(bytes.end(), stored_key.begin(), stored_key.end());
  put(payload.size(), 8);
  put(Hash64(payload.data(), payload.size()), 8);
  bytes.insert(bytes.end(), payload.begin(), payload.end());
  std::filesystem::create_directories(folder_);
  WriteFile(cache.PathFor("key"), bytes);

  // The hand-made file is valid under its own key: the layout matches what Store writes.
  std::filesystem::copy_file(cache.PathFor("key"), cache.PathFor(stored_key));
  EXPECT_EQ(cache.Load(stored_key), payload);

  EXPECT_FALSE(cache.Load("key").has_value());
  EXPECT_FALSE(std::filesystem::exists(cache.PathFor("key")));
}

TEST(HashTest, StableValues) {
  // FNV-1a reference values: the digest names files shared across runs and machines.
  EXPECT_EQ(Hash64(""), 0xcbf29ce484222325ull);
  EXPECT_EQ(Hash64("a"), 0xaf63dc4c8601ec8cull);
  EXPECT_EQ(HexDigest128("a").size(), 32u);
  EXPECT_EQ(HexDigest128("a"), HexDigest128("a"));
  EXPECT_NE(HexDigest128("a"), HexDigest128("b"));
  EXPECT_NE(HexDigest128("a").substr(0, 16), HexDigest128("a").substr(16));
}

}  // namespace
}  // namespace porta::common
