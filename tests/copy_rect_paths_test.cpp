// Strided copies on the paths the CTS devices do not reach, through the mini test plugins: the
// peer path between two devices of one backend, host staging of a box bigger than the staging
// chunk (one row straddles it), and a backend that fails part way through a box.
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "plugins/fault_walk.h"
#include "porta/porta.h"
#include "test_support.h"

namespace porta_test {
namespace {

class CopyRectPathsTest : public LoaderTest {};

// |height| rows of |width| bytes; the src rows start |src_pitch| apart after |src_offset|, the dst
// rows |dst_pitch| apart after |dst_offset|.
porta_copy_region_t Rows(uint64_t width, uint64_t height, uint64_t src_offset, uint64_t src_pitch,
                         uint64_t dst_offset, uint64_t dst_pitch) {
  porta_copy_region_t region = PORTA_COPY_REGION_INIT;
  region.width_bytes = width;
  region.height = height;
  region.src_offset = src_offset;
  region.src_row_pitch = src_pitch;
  region.dst_offset = dst_offset;
  region.dst_row_pitch = dst_pitch;
  return region;
}

uint64_t End(uint64_t offset, uint64_t pitch, const porta_copy_region_t& region) {
  return offset + (region.height - 1) * pitch + region.width_bytes;
}

// Copies the rows of |region| from a buffer of |src_device| to one of |dst_device| on a stream of
// |stream_device|, and checks every byte of the destination (the gaps keep their zeros).
void ExpectRowsBetween(porta_device_t src_device, porta_device_t dst_device,
                       porta_device_t stream_device, const porta_copy_region_t& region) {
  const uint64_t src_size = End(region.src_offset, region.src_row_pitch, region);
  const uint64_t dst_size = End(region.dst_offset, region.dst_row_pitch, region);
  porta_buffer_t raw = nullptr;
  ASSERT_EQ(porta_buffer_alloc(src_device, src_size, PORTA_MEMORY_DEVICE, &raw), PORTA_OK);
  BufferPtr src(raw);
  ASSERT_EQ(porta_buffer_alloc(dst_device, dst_size, PORTA_MEMORY_DEVICE, &raw), PORTA_OK);
  BufferPtr dst(raw);
  porta_stream_t raw_stream = nullptr;
  ASSERT_EQ(porta_stream_create(src_device, &raw_stream), PORTA_OK);
  StreamPtr src_stream(raw_stream);
  ASSERT_EQ(porta_stream_create(dst_device, &raw_stream), PORTA_OK);
  StreamPtr dst_stream(raw_stream);
  ASSERT_EQ(porta_stream_create(stream_device, &raw_stream), PORTA_OK);
  StreamPtr copy_stream(raw_stream);

  const std::vector<uint8_t> in = Pattern(src_size, 5);
  const uint8_t zero = 0;
  ASSERT_EQ(porta_copy_host_to_device(src_stream.get(), src.get(), 0, in.data(), src_size),
            PORTA_OK);
  ASSERT_EQ(porta_fill_buffer(dst_stream.get(), dst.get(), 0, dst_size, &zero, 1), PORTA_OK);
  ASSERT_EQ(porta_stream_synchronize(src_stream.get()), PORTA_OK);
  ASSERT_EQ(porta_stream_synchronize(dst_stream.get()), PORTA_OK);
  ASSERT_EQ(porta_copy_rect_device_to_device(copy_stream.get(), dst.get(), src.get(), &region),
            PORTA_OK)
      << porta_last_error_message();
  ASSERT_EQ(porta_stream_synchronize(copy_stream.get()), PORTA_OK) << porta_last_error_message();

  std::vector<uint8_t> expected(dst_size, 0);
  for (uint64_t y = 0; y < region.height; ++y) {
    for (uint64_t x = 0; x < region.width_bytes; ++x) {
      expected[region.dst_offset + y * region.dst_row_pitch + x] =
          in[region.src_offset + y * region.src_row_pitch + x];
    }
  }
  std::vector<uint8_t> out(dst_size, 0xff);
  ASSERT_EQ(porta_copy_device_to_host(dst_stream.get(), out.data(), dst.get(), 0, dst_size),
            PORTA_OK);
  ASSERT_EQ(porta_stream_synchronize(dst_stream.get()), PORTA_OK);
  EXPECT_TRUE(out == expected) << "the destination differs from the host reference";
}

TEST_F(CopyRectPathsTest, PeerPathBetweenTwoDevicesOfOneBackend) {
  ScopedEnv two_devices("PORTA_TEST_GOOD_DEVICES", "2");
  RuntimePtr runtime;
  ASSERT_EQ(CreateRuntime({.plugin_paths = PORTA_TEST_PLUGIN_GOOD}, &runtime), PORTA_OK);
  const std::vector<porta_device_t> devices = Devices(runtime.get());
  ASSERT_EQ(devices.size(), 2u) << Diagnostics(runtime.get());
  const porta_copy_region_t region = Rows(100, 9, 3, 130, 7, 111);
  ExpectRowsBetween(devices[0], devices[1], devices[0], region);
  ExpectRowsBetween(devices[1], devices[0], devices[0], region);
}

// Staging moves 16 MiB at a time: 20 rows of about 1 MB put a row across each chunk boundary.
TEST_F(CopyRectPathsTest, StagingSplitsRowsAcrossChunks) {
  ScopedEnv two_devices("PORTA_TEST_OLD_MINOR_DEVICES", "2");
  RuntimePtr runtime;
  ASSERT_EQ(CreateRuntime({.plugin_paths = PORTA_TEST_PLUGIN_OLD_MINOR}, &runtime), PORTA_OK);
  const std::vector<porta_device_t> devices = Devices(runtime.get());
  ASSERT_EQ(devices.size(), 2u) << Diagnostics(runtime.get());
  const porta_copy_region_t region = Rows(1000003, 20, 11, 1000013, 5, 1000019);
  ExpectRowsBetween(devices[0], devices[1], devices[1], region);
}

// The third of five row copies fails: the call returns the backend's error saying so, the two rows
// before it are queued and land, the rest of the destination is untouched, and the stream goes on.
TEST_F(CopyRectPathsTest, FailurePartWayLeavesTheEarlierRowsQueued) {
  FaultWalk walk;
  char text[64];
  std::snprintf(text, sizeof text, "-1 %" PRIxPTR, reinterpret_cast<uintptr_t>(&walk));
  ScopedEnv arm(kFaultWalkVariable, text);
  RuntimePtr runtime;
  ASSERT_EQ(CreateRuntime({.plugin_paths = PORTA_TEST_PLUGIN_FAULTY}, &runtime), PORTA_OK);
  const std::vector<porta_device_t> devices = Devices(runtime.get());
  ASSERT_EQ(devices.size(), 1u) << Diagnostics(runtime.get());
  constexpr uint64_t kWidth = 8, kPitch = 10, kRows = 5, kSize = kPitch * kRows;
  porta_buffer_t raw = nullptr;
  ASSERT_EQ(porta_buffer_alloc(devices[0], kSize, PORTA_MEMORY_DEVICE, &raw), PORTA_OK);
  BufferPtr buffer(raw);
  porta_stream_t raw_stream = nullptr;
  ASSERT_EQ(porta_stream_create(devices[0], &raw_stream), PORTA_OK);
  StreamPtr stream(raw_stream);
  const uint8_t zero = 0;
  ASSERT_EQ(porta_fill_buffer(stream.get(), buffer.get(), 0, kSize, &zero, 1), PORTA_OK);
  ASSERT_EQ(porta_stream_synchronize(stream.get()), PORTA_OK);

  const std::vector<uint8_t> in = Pattern(kWidth * kRows, 1);
  const porta_copy_region_t region = Rows(kWidth, kRows, 0, kWidth, 0, kPitch);
  walk.countdown = 2;
  EXPECT_EQ(porta_copy_rect_host_to_device(stream.get(), buffer.get(), in.data(), &region),
            PORTA_ERROR_BACKEND);
  const std::string message = porta_last_error_message();
  EXPECT_NE(message.find("injected failure of CopyHostToDevice"), std::string::npos) << message;
  EXPECT_NE(message.find("call 3 of 5; the 2 before it stay queued"), std::string::npos) << message;
  ASSERT_EQ(porta_stream_synchronize(stream.get()), PORTA_OK) << porta_last_error_message();

  std::vector<uint8_t> expected(kSize, 0);
  for (uint64_t y = 0; y < 2; ++y) {
    for (uint64_t x = 0; x < kWidth; ++x) expected[y * kPitch + x] = in[y * kWidth + x];
  }
  std::vector<uint8_t> out(kSize, 0xff);
  ASSERT_EQ(porta_copy_device_to_host(stream.get(), out.data(), buffer.get(), 0, kSize), PORTA_OK);
  ASSERT_EQ(porta_stream_synchronize(stream.get()), PORTA_OK);
  EXPECT_TRUE(out == expected) << "only the two rows queued before the failure are written";
}

}  // namespace
}  // namespace porta_test
