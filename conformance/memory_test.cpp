// Buffers: allocation, mapping, copies in every direction with offsets and odd sizes, fills,
// large and many buffers, cross-device copies, freeing a buffer queued work still uses, and
// reference counts (porta_buffer_retain).
#include <algorithm>
#include <cstddef>
#include <cstring>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include "conformance/cts.h"
#include "conformance/gate.h"

namespace porta_cts {
namespace {

class MemoryTest : public StreamTest {};

TEST_P(MemoryTest, AllocReportsSizeAndDevice) {
  for (uint64_t size :
       {uint64_t{1}, uint64_t{3}, uint64_t{4096}, uint64_t{65537}, uint64_t{(1u << 20) + 7}}) {
    SCOPED_TRACE("size " + std::to_string(size));
    BufferHandle buffer;
    ASSERT_PORTA_OK(porta_buffer_alloc(device_, size, PORTA_MEMORY_DEVICE, buffer.out()));
    uint64_t reported = 0;
    ASSERT_PORTA_OK(porta_buffer_size(buffer.get(), &reported));
    EXPECT_EQ(reported, size);
    porta_device_t owner = nullptr;
    ASSERT_PORTA_OK(porta_buffer_device(buffer.get(), &owner));
    EXPECT_EQ(owner, device_);
    EXPECT_PORTA_OK(porta_buffer_free(buffer.release()));
  }
}

TEST_P(MemoryTest, MemoryInfoCountsThisProcessBuffers) {
  porta_memory_info_t before = PORTA_MEMORY_INFO_INIT;
  ASSERT_PORTA_OK(porta_device_get_memory_info(device_, &before));
  EXPECT_EQ(before.struct_size, sizeof(porta_memory_info_t));
  EXPECT_EQ(before.total_bytes, info_.global_memory_bytes);
  if (before.free_bytes != PORTA_MEMORY_UNKNOWN && before.total_bytes != 0) {
    EXPECT_LE(before.free_bytes, before.total_bytes);
  }
  RecordProperty("free_bytes_known", before.free_bytes != PORTA_MEMORY_UNKNOWN ? 1 : 0);

  constexpr uint64_t kSize = (1u << 20) + 7;
  BufferHandle buffer;
  ASSERT_PORTA_OK(porta_buffer_alloc(device_, kSize, PORTA_MEMORY_DEVICE, buffer.out()));
  porta_memory_info_t during = PORTA_MEMORY_INFO_INIT;
  ASSERT_PORTA_OK(porta_device_get_memory_info(device_, &during));
  EXPECT_EQ(during.allocated_bytes, before.allocated_bytes + kSize);
  EXPECT_EQ(during.total_bytes, before.total_bytes);
  EXPECT_EQ(during.free_bytes == PORTA_MEMORY_UNKNOWN, before.free_bytes == PORTA_MEMORY_UNKNOWN)
      << "whether the driver tells free memory changed between two calls";
  ASSERT_PORTA_OK(porta_buffer_free(buffer.release()));
  porta_memory_info_t after = PORTA_MEMORY_INFO_INIT;
  ASSERT_PORTA_OK(porta_device_get_memory_info(device_, &after));
  EXPECT_EQ(after.allocated_bytes, before.allocated_bytes);
}

TEST_P(MemoryTest, MemoryInfoRefusesBadArgumentsAndWritesOnlyStructSize) {
  EXPECT_EQ(porta_device_get_memory_info(device_, nullptr), PORTA_ERROR_INVALID_ARGUMENT);
  porta_memory_info_t empty = PORTA_MEMORY_INFO_INIT;
  empty.struct_size = 0;
  EXPECT_EQ(porta_device_get_memory_info(device_, &empty), PORTA_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(porta_last_error_message()).find("struct_size"), std::string::npos)
      << porta_last_error_message();
  // An older caller's struct that ends after free_bytes: nothing beyond it is written.
  porta_memory_info_t old = PORTA_MEMORY_INFO_INIT;
  old.struct_size = offsetof(porta_memory_info_t, total_bytes);
  old.total_bytes = 12345;
  old.allocated_bytes = 678;
  ASSERT_PORTA_OK(porta_device_get_memory_info(device_, &old));
  EXPECT_EQ(old.struct_size, offsetof(porta_memory_info_t, total_bytes));
  EXPECT_EQ(old.total_bytes, 12345u);
  EXPECT_EQ(old.allocated_bytes, 678u);
}

TEST_P(MemoryTest, NativeHandleOfEveryBuiltInBackend) {
  // porta.h names the native handle of each built-in backend; a plugin may expose none, and
  // which it does is not a capability the device reports, so only the built-ins are checked.
  static constexpr const char* kBuiltIn[] = {"cpu",  "opencl", "vulkan",
                                             "cuda", "hip",    "level_zero"};
  const std::string backend = info_.backend;
  if (std::find(std::begin(kBuiltIn), std::end(kBuiltIn), backend) == std::end(kBuiltIn)) {
    RecordSkipReason("native handle");
    GTEST_SKIP() << "porta.h names no native handle for backend " << backend;
  }
  BufferHandle buffer;
  ASSERT_PORTA_OK(porta_buffer_alloc(device_, 256, PORTA_MEMORY_DEVICE, buffer.out()));
  uint64_t handle = 0;
  ASSERT_PORTA_OK(porta_buffer_native_handle(buffer.get(), &handle));
  EXPECT_NE(handle, 0u) << "a live buffer's native handle is never 0";
}

TEST_P(MemoryTest, HostVisibleMapRoundTrip) {
  PORTA_CTS_REQUIRE_CAP(info_, PORTA_CAP_HOST_VISIBLE_MEMORY);
  constexpr uint64_t kSize = 4096 + 13;
  BufferHandle buffer;
  ASSERT_PORTA_OK(porta_buffer_alloc(device_, kSize, PORTA_MEMORY_HOST_VISIBLE, buffer.out()));

  // Host writes through a mapping reach device copies...
  const std::vector<uint8_t> written = RandomBytes(kSize, 1);
  void* ptr = nullptr;
  ASSERT_PORTA_OK(porta_buffer_map(buffer.get(), 0, kSize, &ptr));
  ASSERT_NE(ptr, nullptr);
  std::memcpy(ptr, written.data(), kSize);
  ASSERT_PORTA_OK(porta_buffer_unmap(buffer.get()));
  std::vector<uint8_t> read(kSize);
  ASSERT_TRUE(ReadBuffer(stream_.get(), buffer.get(), 0, kSize, read.data()));
  EXPECT_TRUE(BytesEqual(read, written));

  // ...and device writes are visible through a later mapping of a subrange.
  const std::vector<uint8_t> copied = RandomBytes(kSize, 2);
  ASSERT_PORTA_OK(porta_copy_host_to_device(stream_.get(), buffer.get(), 0, copied.data(), kSize));
  ASSERT_PORTA_OK(porta_stream_synchronize(stream_.get()));
  constexpr uint64_t kOffset = 101;
  constexpr uint64_t kLength = 2003;
  ASSERT_PORTA_OK(porta_buffer_map(buffer.get(), kOffset, kLength, &ptr));
  ASSERT_NE(ptr, nullptr);
  const std::vector<uint8_t> mapped(static_cast<uint8_t*>(ptr),
                                    static_cast<uint8_t*>(ptr) + kLength);
  ASSERT_PORTA_OK(porta_buffer_unmap(buffer.get()));
  EXPECT_TRUE(BytesEqual(
      mapped, std::vector<uint8_t>(copied.begin() + kOffset, copied.begin() + kOffset + kLength)));
}

TEST_P(MemoryTest, HostVisibleMapSubrangeWritesLandAtTheOffset) {
  PORTA_CTS_REQUIRE_CAP(info_, PORTA_CAP_HOST_VISIBLE_MEMORY);
  constexpr uint64_t kSize = 1000;
  BufferHandle buffer;
  ASSERT_PORTA_OK(porta_buffer_alloc(device_, kSize, PORTA_MEMORY_HOST_VISIBLE, buffer.out()));
  std::vector<uint8_t> model(kSize, 0x11);
  ASSERT_PORTA_OK(porta_fill_buffer(stream_.get(), buffer.get(), 0, kSize, &model[0], 1));
  ASSERT_PORTA_OK(porta_stream_synchronize(stream_.get()));
  void* ptr = nullptr;
  ASSERT_PORTA_OK(porta_buffer_map(buffer.get(), 333, 17, &ptr));
  std::memset(ptr, 0x77, 17);
  ASSERT_PORTA_OK(porta_buffer_unmap(buffer.get()));
  std::fill(model.begin() + 333, model.begin() + 350, 0x77);
  std::vector<uint8_t> read(kSize);
  ASSERT_TRUE(ReadBuffer(stream_.get(), buffer.get(), 0, kSize, read.data()));
  EXPECT_TRUE(BytesEqual(read, model));
}

TEST_P(MemoryTest, HostToDeviceAtOffsetsWithOddSizes) {
  constexpr uint64_t kSize = 4099;
  BufferHandle buffer;
  ASSERT_PORTA_OK(porta_buffer_alloc(device_, kSize, PORTA_MEMORY_DEVICE, buffer.out()));
  const std::vector<uint8_t> initial = RandomBytes(kSize, 3);
  std::vector<uint8_t> model = initial;
  ASSERT_PORTA_OK(porta_copy_host_to_device(stream_.get(), buffer.get(), 0, initial.data(), kSize));
  // Sources stay alive until the final synchronize, as the API requires.
  std::vector<std::vector<uint8_t>> sources;
  SyncOnExit sync(stream_.get());
  const std::pair<uint64_t, uint64_t> ranges[] = {{0, 1},       {1, 7},    {3, 13},
                                                  {1000, 1023}, {4098, 1}, {2047, 2052}};
  uint32_t seed = 10;
  for (const auto& [offset, size] : ranges) {
    sources.push_back(RandomBytes(size, seed++));
    ASSERT_PORTA_OK(
        porta_copy_host_to_device(stream_.get(), buffer.get(), offset, sources.back().data(), size))
        << "offset " << offset << " size " << size;
    std::copy(sources.back().begin(), sources.back().end(), model.begin() + offset);
  }
  // Read back whole and in odd pieces at odd offsets.
  std::vector<uint8_t> whole(kSize);
  ASSERT_TRUE(ReadBuffer(stream_.get(), buffer.get(), 0, kSize, whole.data()));
  EXPECT_TRUE(BytesEqual(whole, model));
  for (const auto& [offset, size] : ranges) {
    std::vector<uint8_t> piece(size);
    ASSERT_TRUE(ReadBuffer(stream_.get(), buffer.get(), offset, size, piece.data()));
    EXPECT_TRUE(BytesEqual(
        piece, std::vector<uint8_t>(model.begin() + offset, model.begin() + offset + size)))
        << "offset " << offset << " size " << size;
  }
}

TEST_P(MemoryTest, ZeroSizeHostToDeviceIsANoOp) {
  BufferHandle buffer;
  ASSERT_PORTA_OK(porta_buffer_alloc(device_, 16, PORTA_MEMORY_DEVICE, buffer.out()));
  const uint8_t byte = 0;
  EXPECT_PORTA_OK(porta_copy_host_to_device(stream_.get(), buffer.get(), 16, &byte, 0));
  EXPECT_PORTA_OK(porta_stream_synchronize(stream_.get()));
}

TEST_P(MemoryTest, DeviceToDeviceAtOffsetsWithOddSizes) {
  constexpr uint64_t kSize = 3001;
  BufferHandle src, dst;
  ASSERT_PORTA_OK(porta_buffer_alloc(device_, kSize, PORTA_MEMORY_DEVICE, src.out()));
  ASSERT_PORTA_OK(porta_buffer_alloc(device_, kSize, PORTA_MEMORY_DEVICE, dst.out()));
  const std::vector<uint8_t> src_data = RandomBytes(kSize, 4);
  const std::vector<uint8_t> initial = RandomBytes(kSize, 5);
  std::vector<uint8_t> model = initial;
  SyncOnExit sync(stream_.get());
  ASSERT_PORTA_OK(porta_copy_host_to_device(stream_.get(), src.get(), 0, src_data.data(), kSize));
  ASSERT_PORTA_OK(porta_copy_host_to_device(stream_.get(), dst.get(), 0, initial.data(), kSize));
  struct Copy {
    uint64_t dst_offset, src_offset, size;
  };
  for (const Copy& c : {Copy{0, 0, 1}, Copy{5, 3, 7}, Copy{100, 1, 999}, Copy{3000, 0, 1},
                        Copy{0, 2000, 1001}, Copy{1500, 1500, 1501}}) {
    ASSERT_PORTA_OK(porta_copy_device_to_device(stream_.get(), dst.get(), c.dst_offset, src.get(),
                                                c.src_offset, c.size))
        << c.dst_offset << " <- " << c.src_offset << " size " << c.size;
    std::copy(src_data.begin() + c.src_offset, src_data.begin() + c.src_offset + c.size,
              model.begin() + c.dst_offset);
  }
  std::vector<uint8_t> read(kSize);
  ASSERT_TRUE(ReadBuffer(stream_.get(), dst.get(), 0, kSize, read.data()));
  EXPECT_TRUE(BytesEqual(read, model));
}

TEST_P(MemoryTest, DeviceToDeviceWithinOneBuffer) {
  constexpr uint64_t kSize = 1024;
  BufferHandle buffer;
  ASSERT_PORTA_OK(porta_buffer_alloc(device_, kSize, PORTA_MEMORY_DEVICE, buffer.out()));
  // The copy source stays untouched until the synchronize; the model is a separate vector.
  const std::vector<uint8_t> initial = RandomBytes(kSize, 6);
  std::vector<uint8_t> model = initial;
  SyncOnExit sync(stream_.get());
  ASSERT_PORTA_OK(porta_copy_host_to_device(stream_.get(), buffer.get(), 0, initial.data(), kSize));
  // Adjacent but not overlapping ranges are legal.
  ASSERT_PORTA_OK(
      porta_copy_device_to_device(stream_.get(), buffer.get(), 512, buffer.get(), 0, 512));
  ASSERT_PORTA_OK(
      porta_copy_device_to_device(stream_.get(), buffer.get(), 3, buffer.get(), 700, 101));
  std::copy(model.begin(), model.begin() + 512, model.begin() + 512);
  std::copy(model.begin() + 700, model.begin() + 801, model.begin() + 3);
  std::vector<uint8_t> read(kSize);
  ASSERT_TRUE(ReadBuffer(stream_.get(), buffer.get(), 0, kSize, read.data()));
  EXPECT_TRUE(BytesEqual(read, model));
}

TEST_P(MemoryTest, FillWithEveryPatternSizeAtOffsets) {
  constexpr uint64_t kSize = 2048 + 4;
  BufferHandle buffer;
  ASSERT_PORTA_OK(porta_buffer_alloc(device_, kSize, PORTA_MEMORY_DEVICE, buffer.out()));
  std::vector<uint8_t> model(kSize, 0);
  const uint8_t zero = 0;
  ASSERT_PORTA_OK(porta_fill_buffer(stream_.get(), buffer.get(), 0, kSize, &zero, 1));
  const uint8_t pattern[4] = {0xef, 0xbe, 0xad, 0xde};
  struct Fill {
    uint32_t pattern_size;
    uint64_t offset, size;
  };
  // Starts and ends on and off 4-byte boundaries: backends whose native fill works in words
  // (Vulkan, CUDA memset D32) must handle the odd head and tail bytes themselves.
  for (const Fill& f : {Fill{1, 1, 3}, Fill{1, 17, 255}, Fill{1, 40, 7}, Fill{1, 53, 1},
                        Fill{1, 60, 1}, Fill{2, 300, 2}, Fill{2, 402, 998}, Fill{2, 1420, 6},
                        Fill{4, 1404, 4}, Fill{4, 1500, 552}, Fill{4, 0, 4}}) {
    ASSERT_PORTA_OK(
        porta_fill_buffer(stream_.get(), buffer.get(), f.offset, f.size, pattern, f.pattern_size))
        << "pattern " << f.pattern_size << " offset " << f.offset << " size " << f.size;
    for (uint64_t i = 0; i < f.size; ++i) model[f.offset + i] = pattern[i % f.pattern_size];
  }
  std::vector<uint8_t> read(kSize);
  ASSERT_TRUE(ReadBuffer(stream_.get(), buffer.get(), 0, kSize, read.data()));
  EXPECT_TRUE(BytesEqual(read, model));
}

TEST_P(MemoryTest, FillReachesTheEndOfOddSizedBuffers) {
  // A fill that ends at the end of a buffer whose size is not a multiple of 4 has no whole word
  // to cover its tail.
  for (uint64_t size :
       {uint64_t{1}, uint64_t{3}, uint64_t{6}, uint64_t{263}, uint64_t{1030}, uint64_t{4099}}) {
    SCOPED_TRACE("size " + std::to_string(size));
    BufferHandle buffer;
    ASSERT_PORTA_OK(porta_buffer_alloc(device_, size, PORTA_MEMORY_DEVICE, buffer.out()));
    const uint8_t value = static_cast<uint8_t>(size);
    ASSERT_PORTA_OK(porta_fill_buffer(stream_.get(), buffer.get(), 0, size, &value, 1));
    std::vector<uint8_t> read(size);
    ASSERT_TRUE(ReadBuffer(stream_.get(), buffer.get(), 0, size, read.data()));
    EXPECT_TRUE(BytesEqual(read, std::vector<uint8_t>(size, value)));
    if (size % 4 != 2) continue;
    const uint16_t pair = 0xa55a;
    ASSERT_PORTA_OK(porta_fill_buffer(stream_.get(), buffer.get(), 0, size, &pair, 2));
    std::vector<uint8_t> expected(size);
    for (uint64_t i = 0; i < size; ++i) expected[i] = (i % 2 == 0) ? 0x5a : 0xa5;
    ASSERT_TRUE(ReadBuffer(stream_.get(), buffer.get(), 0, size, read.data()));
    EXPECT_TRUE(BytesEqual(read, expected));
  }
}

TEST_P(MemoryTest, LargeBuffer) {
  const uint64_t size = std::min<uint64_t>(info_.max_allocation_bytes, uint64_t{64} << 20) & ~3ull;
  BufferHandle buffer;
  ASSERT_PORTA_OK(porta_buffer_alloc(device_, size, PORTA_MEMORY_DEVICE, buffer.out()));
  const uint32_t pattern = 0x5a5a0001u;
  ASSERT_PORTA_OK(porta_fill_buffer(stream_.get(), buffer.get(), 0, size, &pattern, 4));
  // Marks at both ends catch offset truncation to 32 bits or to a smaller mapping.
  const uint32_t head = 0x12345678u, tail = 0x9abcdef0u;
  std::vector<uint32_t> read(size / 4);
  SyncOnExit sync(stream_.get());
  ASSERT_PORTA_OK(porta_copy_host_to_device(stream_.get(), buffer.get(), 0, &head, 4));
  ASSERT_PORTA_OK(porta_copy_host_to_device(stream_.get(), buffer.get(), size - 4, &tail, 4));
  ASSERT_TRUE(ReadBuffer(stream_.get(), buffer.get(), 0, size, read.data()));
  EXPECT_EQ(read.front(), head);
  EXPECT_EQ(read.back(), tail);
  const auto bad = std::find_if(read.begin() + 1, read.end() - 1,
                                [&](uint32_t value) { return value != pattern; });
  EXPECT_EQ(bad, read.end() - 1) << "word " << (bad - read.begin()) << " is 0x" << std::hex
                                 << (bad != read.end() ? *bad : 0u);
}

TEST_P(MemoryTest, ManyBuffers) {
  constexpr uint32_t kCount = 512;
  std::vector<BufferHandle> buffers(kCount);
  for (uint32_t i = 0; i < kCount; ++i) {
    const uint64_t size = 4 * (1 + i % 61);
    ASSERT_PORTA_OK(porta_buffer_alloc(device_, size, PORTA_MEMORY_DEVICE, buffers[i].out()))
        << "buffer " << i;
    ASSERT_PORTA_OK(porta_fill_buffer(stream_.get(), buffers[i].get(), 0, size, &i, 4));
  }
  std::vector<uint32_t> read(kCount);
  SyncOnExit sync(stream_.get());
  for (uint32_t i = 0; i < kCount; ++i) {
    const uint64_t size = 4 * (1 + i % 61);
    ASSERT_PORTA_OK(
        porta_copy_device_to_host(stream_.get(), &read[i], buffers[i].get(), size - 4, 4));
  }
  ASSERT_PORTA_OK(porta_stream_synchronize(stream_.get()));
  for (uint32_t i = 0; i < kCount; ++i) EXPECT_EQ(read[i], i) << "buffer " << i;
  // Free in an interleaved order so a backend's free list sees holes.
  for (uint32_t i = 0; i < kCount; i += 2) EXPECT_PORTA_OK(porta_buffer_free(buffers[i].release()));
  for (uint32_t i = 1; i < kCount; i += 2) EXPECT_PORTA_OK(porta_buffer_free(buffers[i].release()));
}

// The runtime holds a device's buffers to its global_memory_bytes, so the figure
// porta_device_get_info reports is a true limit: allocating past it fails with
// PORTA_ERROR_OUT_OF_MEMORY naming the figure (or earlier, also cleanly, where the system has
// less memory to give), and the device works on once the buffers are freed.
TEST_P(MemoryTest, AllocatingBeyondGlobalMemoryFailsCleanly) {
  const uint64_t chunk = info_.max_allocation_bytes;
  const uint64_t most = info_.global_memory_bytes / chunk + 1;
  std::vector<BufferHandle> buffers;
  uint64_t held = 0;
  porta_status_t failure = PORTA_OK;
  for (uint64_t i = 0; i < most && failure == PORTA_OK; ++i) {
    BufferHandle buffer;
    failure = porta_buffer_alloc(device_, chunk, PORTA_MEMORY_DEVICE, buffer.out());
    if (failure != PORTA_OK) break;
    held += chunk;
    buffers.push_back(std::move(buffer));
  }
  ASSERT_NE(failure, PORTA_OK) << held << " bytes allocated beyond global_memory_bytes "
                               << info_.global_memory_bytes;
  const std::string message = porta_last_error_message();
  EXPECT_EQ(failure, PORTA_ERROR_OUT_OF_MEMORY) << message;
  if (held + chunk > info_.global_memory_bytes) {
    EXPECT_NE(message.find("global_memory_bytes (" + std::to_string(info_.global_memory_bytes)),
              std::string::npos)
        << message;
  }
  buffers.clear();
  BufferHandle buffer;
  ASSERT_PORTA_OK(porta_buffer_alloc(device_, 4096, PORTA_MEMORY_DEVICE, buffer.out()));
  const uint32_t pattern = 0x0badf00du;
  std::vector<uint32_t> read(1024);
  SyncOnExit sync(stream_.get());
  ASSERT_PORTA_OK(porta_fill_buffer(stream_.get(), buffer.get(), 0, 4096, &pattern, 4));
  ASSERT_TRUE(ReadBuffer(stream_.get(), buffer.get(), 0, 4096, read.data()));
  for (uint32_t value : read) ASSERT_EQ(value, pattern);
}

TEST_P(MemoryTest, CrossDeviceCopies) {
  PORTA_CTS_REQUIRE_DEVICES(2);
  const porta_device_t other = OtherDevices(device_).front();
  constexpr uint64_t kSize = 100003;
  BufferHandle local, remote, back;
  ASSERT_PORTA_OK(porta_buffer_alloc(device_, kSize, PORTA_MEMORY_DEVICE, local.out()));
  ASSERT_PORTA_OK(porta_buffer_alloc(other, kSize + 5, PORTA_MEMORY_DEVICE, remote.out()));
  ASSERT_PORTA_OK(porta_buffer_alloc(device_, kSize, PORTA_MEMORY_DEVICE, back.out()));
  const std::vector<uint8_t> data = RandomBytes(kSize, 7);
  SyncOnExit sync(stream_.get());
  ASSERT_PORTA_OK(porta_copy_host_to_device(stream_.get(), local.get(), 0, data.data(), kSize));
  // This device's stream pushes to the other device, then pulls back from it.
  ASSERT_PORTA_OK(
      porta_copy_device_to_device(stream_.get(), remote.get(), 5, local.get(), 0, kSize));
  ASSERT_PORTA_OK(
      porta_copy_device_to_device(stream_.get(), back.get(), 0, remote.get(), 5, kSize));
  std::vector<uint8_t> read(kSize);
  ASSERT_TRUE(ReadBuffer(stream_.get(), back.get(), 0, kSize, read.data()));
  EXPECT_TRUE(BytesEqual(read, data));

  // The other device's own stream sees the data too.
  StreamHandle other_stream;
  ASSERT_PORTA_OK(porta_stream_create(other, other_stream.out()));
  std::vector<uint8_t> remote_read(kSize);
  ASSERT_TRUE(ReadBuffer(other_stream.get(), remote.get(), 5, kSize, remote_read.data()));
  EXPECT_TRUE(BytesEqual(remote_read, data));
}

TEST_P(MemoryTest, FreeWhileQueuedWorkUsesTheBufferIsSafe) {
  constexpr uint64_t kSize = 4u << 20;
  Gate gate;
  const bool gated = GateApplies(device_);
  if (gated) {
    // Hold the stream so the free below certainly happens while the copies are pending.
    ASSERT_TRUE(gate.Load(device_));
    ASSERT_PORTA_OK(gate.Close(stream_.get()));
  }
  const std::vector<uint8_t> data = RandomBytes(kSize, 8);
  std::vector<uint8_t> read(kSize);
  SyncOnExit sync(stream_.get(), &gate);
  BufferHandle src, dst;
  ASSERT_PORTA_OK(porta_buffer_alloc(device_, kSize, PORTA_MEMORY_DEVICE, src.out()));
  ASSERT_PORTA_OK(porta_buffer_alloc(device_, kSize, PORTA_MEMORY_DEVICE, dst.out()));
  ASSERT_PORTA_OK(porta_copy_host_to_device(stream_.get(), src.get(), 0, data.data(), kSize));
  ASSERT_PORTA_OK(porta_copy_device_to_device(stream_.get(), dst.get(), 0, src.get(), 0, kSize));
  EXPECT_PORTA_OK(porta_buffer_free(src.release()));
  ASSERT_PORTA_OK(porta_copy_device_to_host(stream_.get(), read.data(), dst.get(), 0, kSize));
  EXPECT_PORTA_OK(porta_buffer_free(dst.release()));
  if (gated) gate.Open();
  ASSERT_PORTA_OK(porta_stream_synchronize(stream_.get()));
  EXPECT_TRUE(BytesEqual(read, data));
}

// Each retain needs one more free; the handle, its memory and contents stay until the last one,
// and one free more than that is the "freed" error.
TEST_P(MemoryTest, RetainKeepsTheBufferUntilTheLastFree) {
  constexpr uint64_t kSize = 4096;
  porta_memory_info_t before = PORTA_MEMORY_INFO_INIT;
  ASSERT_PORTA_OK(porta_device_get_memory_info(device_, &before));
  porta_buffer_t buffer = nullptr;
  ASSERT_PORTA_OK(porta_buffer_alloc(device_, kSize, PORTA_MEMORY_DEVICE, &buffer));
  const std::vector<uint8_t> pattern = RandomBytes(kSize, 5);
  ASSERT_PORTA_OK(porta_copy_host_to_device(stream_.get(), buffer, 0, pattern.data(), kSize));
  ASSERT_PORTA_OK(porta_buffer_retain(buffer));
  ASSERT_PORTA_OK(porta_buffer_retain(buffer));
  for (int frees = 0; frees < 2; ++frees) {
    ASSERT_PORTA_OK(porta_buffer_free(buffer));
    uint64_t size = 0;
    EXPECT_PORTA_OK(porta_buffer_size(buffer, &size)) << "after " << frees + 1 << " free(s)";
    std::vector<uint8_t> read(kSize);
    ASSERT_TRUE(ReadBuffer(stream_.get(), buffer, 0, kSize, read.data()));
    EXPECT_TRUE(BytesEqual(read, pattern));
    porta_memory_info_t during = PORTA_MEMORY_INFO_INIT;
    ASSERT_PORTA_OK(porta_device_get_memory_info(device_, &during));
    EXPECT_EQ(during.allocated_bytes, before.allocated_bytes + kSize);
  }
  ASSERT_PORTA_OK(porta_buffer_free(buffer));
  porta_memory_info_t after = PORTA_MEMORY_INFO_INIT;
  ASSERT_PORTA_OK(porta_device_get_memory_info(device_, &after));
  EXPECT_EQ(after.allocated_bytes, before.allocated_bytes) << "the last free releases the memory";
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "freed|not a live", porta_buffer_free(buffer));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "freed|not a live", porta_buffer_retain(buffer));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "buffer", porta_buffer_retain(nullptr));
}

// A stream-ordered free of a retained buffer drops one reference and returns nothing to the pool.
TEST_P(MemoryTest, FreeAsyncOfARetainedBufferDropsOneReference) {
  constexpr uint64_t kSize = 1024;
  porta_buffer_t buffer = nullptr;
  ASSERT_PORTA_OK(porta_buffer_alloc_async(stream_.get(), kSize, PORTA_MEMORY_DEVICE, &buffer));
  const uint32_t word = 0x12345678u;
  ASSERT_PORTA_OK(porta_fill_buffer(stream_.get(), buffer, 0, kSize, &word, 4));
  ASSERT_PORTA_OK(porta_buffer_retain(buffer));
  ASSERT_PORTA_OK(porta_buffer_free_async(stream_.get(), buffer));
  // A new block allocated on the same stream must not be the retained one.
  BufferHandle other;
  ASSERT_PORTA_OK(porta_buffer_alloc_async(stream_.get(), kSize, PORTA_MEMORY_DEVICE, other.out()));
  const uint32_t zero = 0;
  ASSERT_PORTA_OK(porta_fill_buffer(stream_.get(), other.get(), 0, kSize, &zero, 4));
  uint32_t got = 0;
  ASSERT_TRUE(ReadBuffer(stream_.get(), buffer, kSize - 4, 4, &got));
  EXPECT_EQ(got, word) << "the retained buffer's block went back to the pool";
  ASSERT_PORTA_OK(porta_buffer_free_async(stream_.get(), buffer));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "freed|not a live",
                     porta_buffer_free_async(stream_.get(), buffer));
}

// Threads retain and free one buffer at once: every pair balances, the buffer lives through all
// of them, and the allocation's own free is the last.
TEST_P(MemoryTest, ConcurrentRetainAndFreeBalance) {
  porta_buffer_t buffer = nullptr;
  ASSERT_PORTA_OK(porta_buffer_alloc(device_, 256, PORTA_MEMORY_DEVICE, &buffer));
  constexpr int kThreads = 4;
  constexpr int kRounds = 2000;
  std::vector<int> failures(kThreads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kRounds; ++i) {
        if (porta_buffer_retain(buffer) != PORTA_OK) ++failures[t];
        uint64_t size = 0;
        if (porta_buffer_size(buffer, &size) != PORTA_OK || size != 256) ++failures[t];
        if (porta_buffer_free(buffer) != PORTA_OK) ++failures[t];
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(failures[t], 0) << "thread " << t;
  ASSERT_PORTA_OK(porta_buffer_free(buffer));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "freed|not a live", porta_buffer_free(buffer));
}

PORTA_CTS_INSTANTIATE(MemoryTest);

}  // namespace
}  // namespace porta_cts
