// Host memory registration (porta_host_register, porta_host_unregister): copies both ways from and
// to registered memory at offsets inside the range, 2D copies, copies that straddle the range's
// start or end (which take the ordinary path), unaligned ranges, every validation error (status
// and the argument the message names), unregistering while copies are still queued (the call
// waits for them), graph replays of copies captured from a range registered at the time, and
// threads that register, copy and unregister at once.
// Every copied byte is checked, and so are the bytes around each destination.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "conformance/cts.h"
#include "conformance/gate.h"

namespace porta_cts {
namespace {

using GraphHandle = Handle<porta_graph_t, porta_graph_destroy>;
using ExecHandle = Handle<porta_graph_exec_t, porta_graph_exec_destroy>;

constexpr uint64_t kPage = 4096;
// What the bytes around a destination hold, and must still hold after the copy.
constexpr uint8_t kSentinel = 0xEE;

// Page-aligned host memory, as an application would register it (the CTS also registers
// unaligned ranges inside it).
class HostMemory {
 public:
  explicit HostMemory(uint64_t size)
      : size_(size),
        data_(
            static_cast<uint8_t*>(std::aligned_alloc(kPage, (size + kPage - 1) / kPage * kPage))) {}
  ~HostMemory() { std::free(data_); }
  HostMemory(const HostMemory&) = delete;
  HostMemory& operator=(const HostMemory&) = delete;

  uint8_t* data() const { return data_; }
  uint64_t size() const { return size_; }
  void Fill(uint8_t value) { std::memset(data_, value, size_); }
  void Set(const std::vector<uint8_t>& bytes) { std::memcpy(data_, bytes.data(), bytes.size()); }
  std::vector<uint8_t> Bytes(uint64_t offset, uint64_t size) const {
    return std::vector<uint8_t>(data_ + offset, data_ + offset + size);
  }

 private:
  uint64_t size_;
  uint8_t* data_;
};

// Unregisters a range when it goes out of scope (unless the test did). Declared after the host
// memory and before the SyncOnExit of the stream, so that it runs after the drain and before
// the memory is freed.
class Registration {
 public:
  Registration(porta_device_t device, void* ptr) : device_(device), ptr_(ptr) {}
  ~Registration() {
    if (ptr_ != nullptr) porta_host_unregister(device_, ptr_);
  }
  Registration(const Registration&) = delete;
  Registration& operator=(const Registration&) = delete;
  // Unregisters now.
  porta_status_t Unregister() {
    void* ptr = ptr_;
    ptr_ = nullptr;
    return porta_host_unregister(device_, ptr);
  }

 private:
  porta_device_t device_;
  void* ptr_;
};

class HostRegisterTest : public StreamTest {
 protected:
  // Copies |bytes| into a new device buffer through the ordinary path (unregistered memory).
  void Upload(const std::vector<uint8_t>& bytes, BufferHandle* buffer) {
    ASSERT_PORTA_OK(porta_buffer_alloc(device_, bytes.size(), PORTA_MEMORY_DEVICE, buffer->out()));
    ASSERT_PORTA_OK(
        porta_copy_host_to_device(stream_.get(), buffer->get(), 0, bytes.data(), bytes.size()));
    ASSERT_PORTA_OK(porta_stream_synchronize(stream_.get()));
  }
  // Fills |size| bytes of |buffer| at |offset| with the sentinel, queued without synchronizing:
  // the copy after it then finds work pending on the stream, as copies usually do.
  void FillSentinel(porta_buffer_t buffer, uint64_t offset, uint64_t size) {
    const uint8_t sentinel = kSentinel;
    ASSERT_PORTA_OK(porta_fill_buffer(stream_.get(), buffer, offset, size, &sentinel, 1));
  }
};

// One copy: host offset (from the registered pointer), buffer offset, size.
struct Piece {
  uint64_t host_offset;
  uint64_t buffer_offset;
  uint64_t size;
};

TEST_P(HostRegisterTest, RegisterUnregisterAndRegisterAgain) {
  HostMemory host(16 * kPage);
  ASSERT_PORTA_OK(porta_host_register(device_, host.data(), host.size(), 0));
  ASSERT_PORTA_OK(porta_host_unregister(device_, host.data()));
  // The same range again, and two ranges that touch without overlapping.
  ASSERT_PORTA_OK(porta_host_register(device_, host.data(), host.size(), 0));
  ASSERT_PORTA_OK(porta_host_unregister(device_, host.data()));
  ASSERT_PORTA_OK(porta_host_register(device_, host.data(), 8 * kPage, 0));
  ASSERT_PORTA_OK(porta_host_register(device_, host.data() + 8 * kPage, 8 * kPage, 0));
  EXPECT_PORTA_OK(porta_host_unregister(device_, host.data() + 8 * kPage));
  EXPECT_PORTA_OK(porta_host_unregister(device_, host.data()));
}

TEST_P(HostRegisterTest, HostToDeviceAtOffsetsInsideTheRange) {
  constexpr uint64_t kSize = (uint64_t{1} << 20) + 3 * kPage;
  HostMemory host(kSize);
  host.Set(RandomBytes(kSize, 12));
  BufferHandle dst;
  ASSERT_PORTA_OK(porta_buffer_alloc(device_, kSize, PORTA_MEMORY_DEVICE, dst.out()));
  ASSERT_PORTA_OK(porta_host_register(device_, host.data(), kSize, 0));
  Registration registration(device_, host.data());
  const Piece pieces[] = {
      {0, 0, kSize}, {1, 7, 1000}, {kPage - 1, 2 * kPage, 65536 + 3}, {kSize - 5, 100, 5}};
  for (const Piece& piece : pieces) {
    SCOPED_TRACE(testing::Message() << "host offset " << piece.host_offset << ", buffer offset "
                                    << piece.buffer_offset << ", " << piece.size << " bytes");
    FillSentinel(dst.get(), 0, kSize);
    ASSERT_PORTA_OK(porta_copy_host_to_device(stream_.get(), dst.get(), piece.buffer_offset,
                                              host.data() + piece.host_offset, piece.size));
    std::vector<uint8_t> read(kSize);
    ASSERT_TRUE(ReadBuffer(stream_.get(), dst.get(), 0, kSize, read.data()));
    std::vector<uint8_t> expected(kSize, kSentinel);
    std::memcpy(expected.data() + piece.buffer_offset, host.data() + piece.host_offset, piece.size);
    EXPECT_TRUE(BytesEqual(read, expected));
  }
}

TEST_P(HostRegisterTest, DeviceToHostAtOffsetsInsideTheRange) {
  constexpr uint64_t kSize = (uint64_t{1} << 20) + 3 * kPage;
  const std::vector<uint8_t> data = RandomBytes(kSize, 13);
  BufferHandle src;
  Upload(data, &src);
  BufferHandle scratch;
  ASSERT_PORTA_OK(porta_buffer_alloc(device_, 256, PORTA_MEMORY_DEVICE, scratch.out()));
  HostMemory host(kSize);
  ASSERT_PORTA_OK(porta_host_register(device_, host.data(), kSize, 0));
  Registration registration(device_, host.data());
  const Piece pieces[] = {
      {0, 0, kSize}, {7, 1, 1000}, {2 * kPage, kPage - 1, 65536 + 3}, {kSize - 5, 100, 5}};
  for (const Piece& piece : pieces) {
    SCOPED_TRACE(testing::Message() << "host offset " << piece.host_offset << ", buffer offset "
                                    << piece.buffer_offset << ", " << piece.size << " bytes");
    host.Fill(kSentinel);
    FillSentinel(scratch.get(), 0, 256);
    ASSERT_PORTA_OK(porta_copy_device_to_host(stream_.get(), host.data() + piece.host_offset,
                                              src.get(), piece.buffer_offset, piece.size));
    ASSERT_PORTA_OK(porta_stream_synchronize(stream_.get()));
    std::vector<uint8_t> expected(kSize, kSentinel);
    std::memcpy(expected.data() + piece.host_offset, data.data() + piece.buffer_offset, piece.size);
    EXPECT_TRUE(BytesEqual(host.Bytes(0, kSize), expected));
  }
}

// Copies whose host bytes run past the range's end or start before it take the ordinary path
// and are as exact; so are copies from and to an unaligned range inside the page.
TEST_P(HostRegisterTest, CopiesStraddlingTheRangeAndUnalignedRanges) {
  constexpr uint64_t kSize = 4 * kPage;
  HostMemory host(kSize);
  const std::vector<uint8_t> data = RandomBytes(kSize, 14);
  BufferHandle buffer;
  Upload(data, &buffer);
  // [kPage + 3, 3 * kPage - 5): unaligned at both ends.
  const uint64_t begin = kPage + 3;
  const uint64_t end = 3 * kPage - 5;
  ASSERT_PORTA_OK(porta_host_register(device_, host.data() + begin, end - begin, 0));
  Registration registration(device_, host.data() + begin);
  const Piece pieces[] = {{end - 100, 0, 200},              // past the end
                          {begin - 50, 300, 100},           // before the start
                          {begin - 1, 0, end - begin + 2},  // around the whole range
                          {begin, 11, end - begin},         // exactly the range
                          {begin + 1, 5, 77}};              // inside
  for (const Piece& piece : pieces) {
    SCOPED_TRACE(testing::Message() << "host offset " << piece.host_offset << ", buffer offset "
                                    << piece.buffer_offset << ", " << piece.size << " bytes");
    // Device to host, with the bytes around the destination checked.
    host.Fill(kSentinel);
    ASSERT_PORTA_OK(porta_copy_device_to_host(stream_.get(), host.data() + piece.host_offset,
                                              buffer.get(), piece.buffer_offset, piece.size));
    ASSERT_PORTA_OK(porta_stream_synchronize(stream_.get()));
    std::vector<uint8_t> expected(kSize, kSentinel);
    std::memcpy(expected.data() + piece.host_offset, data.data() + piece.buffer_offset, piece.size);
    EXPECT_TRUE(BytesEqual(host.Bytes(0, kSize), expected));
    // Host to device, back from where the first copy wrote, into a sentinel-filled buffer.
    BufferHandle dst;
    ASSERT_PORTA_OK(porta_buffer_alloc(device_, kSize, PORTA_MEMORY_DEVICE, dst.out()));
    FillSentinel(dst.get(), 0, kSize);
    ASSERT_PORTA_OK(porta_copy_host_to_device(stream_.get(), dst.get(), piece.buffer_offset,
                                              host.data() + piece.host_offset, piece.size));
    std::vector<uint8_t> read(kSize);
    ASSERT_TRUE(ReadBuffer(stream_.get(), dst.get(), 0, kSize, read.data()));
    std::vector<uint8_t> expected_dst(kSize, kSentinel);
    std::memcpy(expected_dst.data() + piece.buffer_offset, data.data() + piece.buffer_offset,
                piece.size);
    EXPECT_TRUE(BytesEqual(read, expected_dst));
  }
}

// A 2D copy from registered memory and back into it: each row is a copy inside the range.
TEST_P(HostRegisterTest, StridedCopiesThroughARegisteredRange) {
  constexpr uint64_t kWidth = 100, kHeight = 9, kPitch = 256, kSize = kPitch * kHeight;
  HostMemory host(kSize);
  const std::vector<uint8_t> data = RandomBytes(kSize, 15);
  host.Set(data);
  ASSERT_PORTA_OK(porta_host_register(device_, host.data(), kSize, 0));
  Registration registration(device_, host.data());
  BufferHandle buffer;
  ASSERT_PORTA_OK(porta_buffer_alloc(device_, kWidth * kHeight, PORTA_MEMORY_DEVICE, buffer.out()));
  porta_copy_region_t region = PORTA_COPY_REGION_INIT;
  region.src_offset = 3;
  region.src_row_pitch = kPitch;
  region.dst_row_pitch = kWidth;
  region.width_bytes = kWidth;
  region.height = kHeight;
  ASSERT_PORTA_OK(
      porta_copy_rect_host_to_device(stream_.get(), buffer.get(), host.data(), &region));
  std::vector<uint8_t> packed(kWidth * kHeight);
  ASSERT_TRUE(ReadBuffer(stream_.get(), buffer.get(), 0, packed.size(), packed.data()));
  std::vector<uint8_t> expected_packed(kWidth * kHeight);
  for (uint64_t y = 0; y < kHeight; ++y) {
    std::memcpy(expected_packed.data() + y * kWidth, data.data() + 3 + y * kPitch, kWidth);
  }
  EXPECT_TRUE(BytesEqual(packed, expected_packed));

  host.Fill(kSentinel);
  porta_copy_region_t back = PORTA_COPY_REGION_INIT;
  back.dst_offset = 5;
  back.dst_row_pitch = kPitch;
  back.src_row_pitch = kWidth;
  back.width_bytes = kWidth;
  back.height = kHeight;
  ASSERT_PORTA_OK(porta_copy_rect_device_to_host(stream_.get(), host.data(), buffer.get(), &back));
  ASSERT_PORTA_OK(porta_stream_synchronize(stream_.get()));
  std::vector<uint8_t> expected(kSize, kSentinel);
  for (uint64_t y = 0; y < kHeight; ++y) {
    std::memcpy(expected.data() + 5 + y * kPitch, expected_packed.data() + y * kWidth, kWidth);
  }
  EXPECT_TRUE(BytesEqual(host.Bytes(0, kSize), expected));
}

TEST_P(HostRegisterTest, RejectsBadArgumentsNamingThem) {
  HostMemory host(4 * kPage);
  uint8_t* p = host.data();
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "device",
                     porta_host_register(nullptr, p, kPage, 0));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "ptr",
                     porta_host_register(device_, nullptr, 1, 0));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "size", porta_host_register(device_, p, 0, 0));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "flags",
                     porta_host_register(device_, p, kPage, 0x80u));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "wraps",
                     porta_host_register(device_, p, UINT64_MAX, 0));

  ASSERT_PORTA_OK(porta_host_register(device_, p + kPage, 2 * kPage, 0));
  Registration registration(device_, p + kPage);
  // Overlapping the start, the end, the inside, and the whole of the registered range.
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_OPERATION, "overlaps",
                     porta_host_register(device_, p, kPage + 1, 0));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_OPERATION, "overlaps",
                     porta_host_register(device_, p + 3 * kPage - 1, kPage, 0));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_OPERATION, "overlaps",
                     porta_host_register(device_, p + kPage + 10, 10, 0));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_OPERATION, "overlaps",
                     porta_host_register(device_, p, 4 * kPage, 0));

  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "device", porta_host_unregister(nullptr, p));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "ptr", porta_host_unregister(device_, nullptr));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "not registered",
                     porta_host_unregister(device_, p));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "inside the range",
                     porta_host_unregister(device_, p + kPage + 1));
  ASSERT_PORTA_OK(registration.Unregister());
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "not registered",
                     porta_host_unregister(device_, p + kPage));
}

// porta_host_unregister with copies from and to the range still queued: it waits for them, so
// what the copy into the range wrote is there when it returns, before any synchronize.
TEST_P(HostRegisterTest, UnregisterWaitsForQueuedCopies) {
  constexpr uint64_t kSize = uint64_t{8} << 20;
  HostMemory from(kSize);
  HostMemory to(kSize);
  const std::vector<uint8_t> data = RandomBytes(kSize, 16);
  from.Set(data);
  to.Fill(kSentinel);
  BufferHandle buffer;
  ASSERT_PORTA_OK(porta_buffer_alloc(device_, kSize, PORTA_MEMORY_DEVICE, buffer.out()));
  ASSERT_PORTA_OK(porta_host_register(device_, from.data(), kSize, 0));
  ASSERT_PORTA_OK(porta_host_register(device_, to.data(), kSize, 0));
  for (int round = 0; round < 3; ++round) {
    ASSERT_PORTA_OK(porta_copy_host_to_device(stream_.get(), buffer.get(), 0, from.data(), kSize));
    ASSERT_PORTA_OK(porta_copy_device_to_host(stream_.get(), to.data(), buffer.get(), 0, kSize));
  }
  EXPECT_PORTA_OK(porta_host_unregister(device_, from.data()));
  EXPECT_PORTA_OK(porta_host_unregister(device_, to.data()));
  EXPECT_TRUE(BytesEqual(to.Bytes(0, kSize), data));
  EXPECT_PORTA_OK(porta_stream_synchronize(stream_.get()));
}

// The same with the copies held behind a closed gate that another thread opens later: the
// unregister cannot return before the copies ran.
TEST_P(HostRegisterTest, UnregisterWaitsForCopiesBehindABlockedStream) {
  PORTA_CTS_REQUIRE_GATE(device_);
  constexpr uint64_t kSize = 64 * kPage;
  HostMemory to(kSize);
  to.Fill(kSentinel);
  const std::vector<uint8_t> data = RandomBytes(kSize, 17);
  BufferHandle buffer;
  Upload(data, &buffer);
  ASSERT_PORTA_OK(porta_host_register(device_, to.data(), kSize, 0));
  Gate gate;
  ASSERT_TRUE(gate.Load(device_));
  ASSERT_PORTA_OK(gate.Close(stream_.get()));
  SyncOnExit sync(stream_.get(), &gate);
  ASSERT_PORTA_OK(porta_copy_device_to_host(stream_.get(), to.data(), buffer.get(), 0, kSize));
  std::atomic<bool> opened{false};
  std::thread opener([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    opened = true;
    gate.Open();
  });
  const porta_status_t status = porta_host_unregister(device_, to.data());
  const bool opened_before_return = opened.load();
  opener.join();
  EXPECT_PORTA_OK(status);
  EXPECT_TRUE(opened_before_return) << "porta_host_unregister returned before the copy could run";
  EXPECT_TRUE(BytesEqual(to.Bytes(0, kSize), data));
}

// A stream destroyed with copies through the range queued, then the range unregistered; and a
// captured copy from a range that is unregistered before the replays (they take the ordinary
// path, reading the memory, which stays allocated).
TEST_P(HostRegisterTest, UnregisterAfterStreamDestroyAndGraphReplay) {
  constexpr uint64_t kSize = 16 * kPage;
  HostMemory host(kSize);
  const std::vector<uint8_t> data = RandomBytes(kSize, 18);
  host.Set(data);
  BufferHandle buffer;
  ASSERT_PORTA_OK(porta_buffer_alloc(device_, kSize, PORTA_MEMORY_DEVICE, buffer.out()));
  ASSERT_PORTA_OK(porta_host_register(device_, host.data(), kSize, 0));
  {
    StreamHandle other;
    ASSERT_PORTA_OK(porta_stream_create(device_, other.out()));
    ASSERT_PORTA_OK(porta_copy_host_to_device(other.get(), buffer.get(), 0, host.data(), kSize));
  }
  ASSERT_PORTA_OK(porta_stream_begin_capture(stream_.get()));
  ASSERT_PORTA_OK(porta_copy_host_to_device(stream_.get(), buffer.get(), 0, host.data(), kSize));
  GraphHandle graph;
  ASSERT_PORTA_OK(porta_stream_end_capture(stream_.get(), graph.out()));
  ExecHandle exec;
  ASSERT_PORTA_OK(porta_graph_instantiate(graph.get(), exec.out()));
  ASSERT_PORTA_OK(porta_host_unregister(device_, host.data()));
  std::vector<uint8_t> read(kSize);
  ASSERT_TRUE(ReadBuffer(stream_.get(), buffer.get(), 0, kSize, read.data()));
  EXPECT_TRUE(BytesEqual(read, data));
  const uint8_t zero = 0;
  ASSERT_PORTA_OK(porta_fill_buffer(stream_.get(), buffer.get(), 0, kSize, &zero, 1));
  ASSERT_PORTA_OK(porta_graph_launch(exec.get(), stream_.get()));
  ASSERT_TRUE(ReadBuffer(stream_.get(), buffer.get(), 0, kSize, read.data()));
  EXPECT_TRUE(BytesEqual(read, data));
}

// Threads that each register their own range, copy through it on their own stream and
// unregister, over and over, while the others do the same on the same device.
TEST_P(HostRegisterTest, ThreadsRegisterCopyAndUnregisterConcurrently) {
  constexpr int kThreads = 4;
  constexpr int kRounds = 20;
  constexpr uint64_t kSize = 16 * kPage;
  std::vector<std::thread> threads;
  std::mutex mutex;
  std::string first_failure;  // guarded by |mutex|
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      HostMemory from(kSize);
      HostMemory to(kSize);
      const std::vector<uint8_t> data = RandomBytes(kSize, 100 + t);
      from.Set(data);
      porta_stream_t stream = nullptr;
      porta_buffer_t buffer = nullptr;
      bool ok = porta_stream_create(device_, &stream) == PORTA_OK &&
                porta_buffer_alloc(device_, kSize, PORTA_MEMORY_DEVICE, &buffer) == PORTA_OK;
      for (int round = 0; ok && round < kRounds; ++round) {
        to.Fill(kSentinel);
        ok = porta_host_register(device_, from.data(), kSize, 0) == PORTA_OK &&
             porta_host_register(device_, to.data(), kSize, 0) == PORTA_OK &&
             porta_copy_host_to_device(stream, buffer, 0, from.data(), kSize) == PORTA_OK &&
             porta_copy_device_to_host(stream, to.data(), buffer, 0, kSize) == PORTA_OK &&
             porta_host_unregister(device_, from.data()) == PORTA_OK &&
             porta_host_unregister(device_, to.data()) == PORTA_OK &&
             std::memcmp(to.data(), data.data(), kSize) == 0;
      }
      if (!ok) {
        std::lock_guard<std::mutex> lock(mutex);
        if (first_failure.empty()) {
          first_failure = "thread " + std::to_string(t) + ": " + porta_last_error_message();
        }
      }
      if (buffer != nullptr) porta_buffer_free(buffer);
      if (stream != nullptr) porta_stream_destroy(stream);
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(first_failure, "");
}

PORTA_CTS_INSTANTIATE(HostRegisterTest);

}  // namespace
}  // namespace porta_cts
