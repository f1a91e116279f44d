// Running out of memory under a bounded address space: on every device, allocating (and using)
// buffers until one fails must end with PORTA_ERROR_OUT_OF_MEMORY naming the size, never with an
// abort inside a driver, and the runtime must work afterwards. The process limits its own address
// space (setrlimit) before any driver loads, so the limit reaches the drivers' lazy allocations.
#include <sys/resource.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "porta/porta.h"

namespace {

// The limit of the original report: 8 GiB of address space, 512 MiB buffers.
constexpr uint64_t kAddressSpaceBytes = uint64_t{8} << 30;
constexpr uint64_t kChunkBytes = uint64_t{512} << 20;

struct Fixture {
  porta_runtime_t runtime = nullptr;
  ~Fixture() { porta_runtime_destroy(runtime); }
};

// Allocates and touches chunks on |device| until one fails, checks the failure, frees them.
void ExhaustDevice(porta_device_t device, const porta_device_info_t& info) {
  porta_stream_t stream = nullptr;
  ASSERT_EQ(porta_stream_create(device, &stream), PORTA_OK) << porta_last_error_message();
  const uint64_t chunk = std::min(kChunkBytes, info.max_allocation_bytes);
  // The runtime refuses anything beyond global_memory_bytes, so one more chunk than fits there
  // must fail at the latest.
  const uint64_t most = info.global_memory_bytes / chunk + 1;
  std::vector<porta_buffer_t> buffers;
  porta_status_t failure = PORTA_OK;
  std::string message;
  const uint32_t pattern = 0x5a5a5a5a;
  for (uint64_t i = 0; i < most; ++i) {
    porta_buffer_t buffer = nullptr;
    failure = porta_buffer_alloc(device, chunk, PORTA_MEMORY_DEVICE, &buffer);
    if (failure != PORTA_OK) {
      message = porta_last_error_message();
      break;
    }
    buffers.push_back(buffer);
    // The first use is where a lazy driver really allocates.
    ASSERT_EQ(porta_fill_buffer(stream, buffer, chunk - 4, 4, &pattern, 4), PORTA_OK)
        << "buffer " << i << ": " << porta_last_error_message();
    ASSERT_EQ(porta_stream_synchronize(stream), PORTA_OK)
        << "buffer " << i << ": " << porta_last_error_message();
  }
  std::printf("%s: %zu buffers of %llu bytes, then: %s\n", info.name, buffers.size(),
              static_cast<unsigned long long>(chunk), message.c_str());
  EXPECT_EQ(failure, PORTA_ERROR_OUT_OF_MEMORY)
      << "after " << buffers.size() << " buffers: " << message;
  EXPECT_NE(message.find(std::to_string(chunk)), std::string::npos) << message;
  for (porta_buffer_t buffer : buffers) EXPECT_EQ(porta_buffer_free(buffer), PORTA_OK);

  // The device still works: a round trip through a new buffer.
  porta_buffer_t buffer = nullptr;
  ASSERT_EQ(porta_buffer_alloc(device, 1 << 20, PORTA_MEMORY_DEVICE, &buffer), PORTA_OK)
      << porta_last_error_message();
  std::vector<uint32_t> out(256, 0);
  EXPECT_EQ(porta_fill_buffer(stream, buffer, 0, 1 << 20, &pattern, 4), PORTA_OK);
  EXPECT_EQ(porta_copy_device_to_host(stream, out.data(), buffer, 4096, out.size() * 4), PORTA_OK);
  EXPECT_EQ(porta_stream_synchronize(stream), PORTA_OK) << porta_last_error_message();
  for (uint32_t value : out) ASSERT_EQ(value, pattern);
  EXPECT_EQ(porta_buffer_free(buffer), PORTA_OK);
  EXPECT_EQ(porta_stream_destroy(stream), PORTA_OK);
}

TEST(MemoryLimitTest, EveryDeviceRunsOutCleanly) {
  Fixture fixture;
  ASSERT_EQ(porta_runtime_create(nullptr, &fixture.runtime), PORTA_OK)
      << porta_last_error_message();
  uint32_t count = 0;
  ASSERT_EQ(porta_runtime_device_count(fixture.runtime, &count), PORTA_OK);
  ASSERT_GT(count, 0u) << "no device to test";
  for (uint32_t i = 0; i < count; ++i) {
    porta_device_t device = nullptr;
    ASSERT_EQ(porta_runtime_device(fixture.runtime, i, &device), PORTA_OK);
    porta_device_info_t info = PORTA_DEVICE_INFO_INIT;
    ASSERT_EQ(porta_device_get_info(device, &info), PORTA_OK);
    SCOPED_TRACE(info.name);
    ExhaustDevice(device, info);
  }
}

}  // namespace

int main(int argc, char** argv) {
  // Before the runtime (and with it every driver) loads.
  rlimit limit{};
  limit.rlim_cur = kAddressSpaceBytes;
  limit.rlim_max = kAddressSpaceBytes;
  if (setrlimit(RLIMIT_AS, &limit) != 0) {
    std::perror("setrlimit(RLIMIT_AS)");
    return 1;
  }
  testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
