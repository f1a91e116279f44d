// The device buffer pool against a plugin with a small device memory (the small_memory test
// plugin): when the backend runs out of memory on a miss, the pool gives its cache back and tries
// once more, and a second refusal reaches the caller with the backend's message.
#include <gtest/gtest.h>

#include "porta/porta.h"
#include "test_support.h"

namespace porta_test {
namespace {

using PoolPluginTest = LoaderTest;

constexpr uint64_t kMiB = uint64_t{1} << 20;

porta_pool_stats_t Stats(porta_device_t device) {
  porta_pool_stats_t stats = PORTA_POOL_STATS_INIT;
  EXPECT_EQ(porta_device_pool_get_stats(device, &stats), PORTA_OK) << porta_last_error_message();
  return stats;
}

TEST_F(PoolPluginTest, BackendOutOfMemoryTrimsTheCacheAndRetriesOnce) {
  RuntimePtr runtime;
  ASSERT_EQ(CreateRuntime({.plugin_paths = PORTA_TEST_PLUGIN_SMALL_MEMORY}, &runtime), PORTA_OK)
      << porta_last_error_message();
  porta_device_t device = FindDevice(runtime.get(), "small_memory");
  ASSERT_NE(device, nullptr) << Diagnostics(runtime.get());
  porta_stream_t raw_stream = nullptr;
  ASSERT_EQ(porta_stream_create(device, &raw_stream), PORTA_OK);
  StreamPtr stream(raw_stream);

  // Two 1 MiB blocks cached: 2 of the plugin's 3 MiB.
  porta_buffer_t a = nullptr;
  porta_buffer_t b = nullptr;
  ASSERT_EQ(porta_buffer_alloc_async(stream.get(), kMiB, PORTA_MEMORY_DEVICE, &a), PORTA_OK);
  ASSERT_EQ(porta_buffer_alloc_async(stream.get(), kMiB, PORTA_MEMORY_DEVICE, &b), PORTA_OK);
  ASSERT_EQ(porta_buffer_free_async(stream.get(), a), PORTA_OK);
  ASSERT_EQ(porta_buffer_free_async(stream.get(), b), PORTA_OK);
  porta_pool_stats_t stats = Stats(device);
  EXPECT_EQ(stats.cached_bytes, 2 * kMiB);
  EXPECT_EQ(stats.reserved_bytes, 2 * kMiB);

  // A 2 MiB block does not fit beside them: the backend refuses, the pool releases its cache and
  // the second attempt succeeds.
  porta_buffer_t big = nullptr;
  ASSERT_EQ(porta_buffer_alloc_async(stream.get(), 2 * kMiB, PORTA_MEMORY_DEVICE, &big), PORTA_OK)
      << porta_last_error_message();
  stats = Stats(device);
  EXPECT_EQ(stats.trimmed_blocks, 2u);
  EXPECT_EQ(stats.trimmed_bytes, 2 * kMiB);
  EXPECT_EQ(stats.cached_bytes, 0u);
  EXPECT_EQ(stats.reserved_bytes, 2 * kMiB);
  EXPECT_EQ(stats.in_use_bytes, 2 * kMiB);
  EXPECT_EQ(stats.miss_count, 3u);

  // With nothing cached a refusal is final, carries the backend's message, and leaves the
  // statistics as they were.
  porta_buffer_t more = nullptr;
  EXPECT_EQ(porta_buffer_alloc_async(stream.get(), 2 * kMiB, PORTA_MEMORY_DEVICE, &more),
            PORTA_ERROR_OUT_OF_MEMORY);
  EXPECT_EQ(more, nullptr);
  EXPECT_TRUE(ContainsNoCase(porta_last_error_message(), "device memory full"))
      << porta_last_error_message();
  EXPECT_TRUE(ContainsNoCase(porta_last_error_message(), "porta_buffer_alloc_async"))
      << porta_last_error_message();
  stats = Stats(device);
  EXPECT_EQ(stats.reserved_bytes, 2 * kMiB);
  EXPECT_EQ(stats.miss_count, 3u);
  EXPECT_EQ(stats.alloc_count, 3u);

  // The runtime goes with a block still cached and one freed in stream order.
  ASSERT_EQ(porta_buffer_free_async(stream.get(), big), PORTA_OK);
  ASSERT_EQ(porta_buffer_alloc_async(stream.get(), kMiB, PORTA_MEMORY_DEVICE, &a), PORTA_OK);
  ASSERT_EQ(porta_buffer_free_async(stream.get(), a), PORTA_OK);
}

TEST_F(PoolPluginTest, PoolOffAllocatesFromTheBackendEveryTime) {
  ScopedEnv pool_off("PORTA_POOL", "0");
  RuntimePtr runtime;
  ASSERT_EQ(CreateRuntime({.plugin_paths = PORTA_TEST_PLUGIN_SMALL_MEMORY}, &runtime), PORTA_OK)
      << porta_last_error_message();
  porta_device_t device = FindDevice(runtime.get(), "small_memory");
  ASSERT_NE(device, nullptr) << Diagnostics(runtime.get());
  porta_stream_t raw_stream = nullptr;
  ASSERT_EQ(porta_stream_create(device, &raw_stream), PORTA_OK);
  StreamPtr stream(raw_stream);
  // Freed buffers are released, so 2 MiB allocations in turn keep fitting the 3 MiB.
  for (int i = 0; i < 6; ++i) {
    porta_buffer_t buffer = nullptr;
    ASSERT_EQ(porta_buffer_alloc_async(stream.get(), 2 * kMiB, PORTA_MEMORY_DEVICE, &buffer),
              PORTA_OK)
        << "round " << i << ": " << porta_last_error_message();
    ASSERT_EQ(porta_buffer_free_async(stream.get(), buffer), PORTA_OK);
  }
  const porta_pool_stats_t stats = Stats(device);
  EXPECT_EQ(stats.enabled, 0u);
  EXPECT_EQ(stats.alloc_count, 6u);
  EXPECT_EQ(stats.miss_count, 6u);
  EXPECT_EQ(stats.free_count, 6u);
  EXPECT_EQ(stats.hit_count, 0u);
}

}  // namespace
}  // namespace porta_test
