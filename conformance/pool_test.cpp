// The device buffer pool: stream-ordered allocation and free, reuse on one stream (with correct
// data), reuse across streams only once they are ordered after the free (by contents and by the
// statistics), the limit and trimming, frees of the other kind, PORTA_POOL=0, bad input and
// threads. The CTS shares one runtime between tests, so each test starts from an empty cache and
// no limit, and compares statistics as differences.
#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "conformance/c_callers.h"
#include "conformance/cts.h"
#include "conformance/gate.h"

namespace porta_cts {
namespace {

porta_pool_stats_t Stats(porta_device_t device) {
  porta_pool_stats_t stats = PORTA_POOL_STATS_INIT;
  EXPECT_PORTA_OK(porta_device_pool_get_stats(device, &stats));
  return stats;
}

class PoolTest : public StreamTest {
 protected:
  void SetUp() override {
    StreamTest::SetUp();
    if (HasFatalFailure() || IsSkipped()) return;
    ASSERT_PORTA_OK(porta_device_pool_set_limit(device_, 0));
    ASSERT_PORTA_OK(porta_device_pool_trim(device_, 0));
    if (Stats(device_).enabled == 0) {
      RecordSkipReason("PORTA_POOL=0");
      GTEST_SKIP() << "pooling is turned off (PORTA_POOL=0)";
    }
  }
  void TearDown() override {
    if (device_ != nullptr) {
      EXPECT_PORTA_OK(porta_device_pool_set_limit(device_, 0));
    }
    StreamTest::TearDown();
  }
};

// A stream-ordered buffer freed (in stream order) when the test scope ends, however it ends.
class AsyncBuffer {
 public:
  AsyncBuffer() = default;
  ~AsyncBuffer() { reset(); }
  AsyncBuffer(const AsyncBuffer&) = delete;
  AsyncBuffer& operator=(const AsyncBuffer&) = delete;

  porta_status_t Alloc(porta_stream_t stream, uint64_t size) {
    reset();
    stream_ = stream;
    return porta_buffer_alloc_async(stream, size, PORTA_MEMORY_DEVICE, &buffer_);
  }
  porta_status_t Free() {
    porta_buffer_t buffer = buffer_;
    buffer_ = nullptr;
    return porta_buffer_free_async(stream_, buffer);
  }
  void reset() {
    if (buffer_ != nullptr) Free();
  }
  porta_buffer_t get() const { return buffer_; }

 private:
  porta_stream_t stream_ = nullptr;
  porta_buffer_t buffer_ = nullptr;
};

TEST_P(PoolTest, ReuseOnOneStreamHits) {
  constexpr uint64_t kSize = (1u << 20) + 100003;  // mid-class: kSize +- 4096 share its class
  const porta_pool_stats_t before = Stats(device_);
  AsyncBuffer buffer;
  ASSERT_PORTA_OK(buffer.Alloc(stream_.get(), kSize));
  uint64_t reported = 0;
  ASSERT_PORTA_OK(porta_buffer_size(buffer.get(), &reported));
  EXPECT_EQ(reported, kSize) << "the size is the request, not the block's";
  porta_device_t owner = nullptr;
  ASSERT_PORTA_OK(porta_buffer_device(buffer.get(), &owner));
  EXPECT_EQ(owner, device_);
  porta_pool_stats_t now = Stats(device_);
  EXPECT_EQ(now.miss_count - before.miss_count, 1u);
  EXPECT_GE(now.in_use_bytes - before.in_use_bytes, kSize);
  EXPECT_LE(now.in_use_bytes - before.in_use_bytes, kSize + kSize / 4) << "size class too coarse";
  EXPECT_GE(now.reserved_bytes, now.in_use_bytes + now.cached_bytes);
  EXPECT_GE(now.peak_reserved_bytes, now.reserved_bytes);

  ASSERT_PORTA_OK(buffer.Free());
  now = Stats(device_);
  EXPECT_EQ(now.free_count - before.free_count, 1u);
  EXPECT_EQ(now.in_use_bytes, before.in_use_bytes);
  EXPECT_GE(now.cached_bytes, kSize);

  // Without any synchronization the same stream gets the block back, for this size and for any
  // other of its size class; the backend is not asked again.
  for (uint64_t size : {kSize, kSize - 4096, kSize + 4096}) {
    SCOPED_TRACE("size " + std::to_string(size));
    const porta_pool_stats_t round = Stats(device_);
    ASSERT_PORTA_OK(buffer.Alloc(stream_.get(), size));
    ASSERT_PORTA_OK(porta_buffer_size(buffer.get(), &reported));
    EXPECT_EQ(reported, size);
    ASSERT_PORTA_OK(buffer.Free());
    now = Stats(device_);
    EXPECT_EQ(now.hit_count - round.hit_count, 1u);
    EXPECT_EQ(now.miss_count, round.miss_count);
    EXPECT_EQ(now.reserved_bytes, round.reserved_bytes);
  }
  EXPECT_EQ(now.alloc_count - before.alloc_count, 4u);
}

TEST_P(PoolTest, ReusedBlockKeepsStreamOrderOfData) {
  constexpr uint64_t kSize = 65536 + 12;
  const std::vector<uint8_t> first = RandomBytes(kSize, 1);
  const std::vector<uint8_t> second = RandomBytes(kSize, 2);
  std::vector<uint8_t> read_first(kSize), read_second(kSize);
  SyncOnExit sync(stream_.get());
  const porta_pool_stats_t before = Stats(device_);
  // The first user's read is queued before its free, the second user's write after the reuse: in
  // stream order the read must still see the first data, and the second user its own.
  AsyncBuffer a;
  ASSERT_PORTA_OK(a.Alloc(stream_.get(), kSize));
  ASSERT_PORTA_OK(porta_copy_host_to_device(stream_.get(), a.get(), 0, first.data(), kSize));
  ASSERT_PORTA_OK(porta_copy_device_to_host(stream_.get(), read_first.data(), a.get(), 0, kSize));
  ASSERT_PORTA_OK(a.Free());
  AsyncBuffer b;
  ASSERT_PORTA_OK(b.Alloc(stream_.get(), kSize));
  EXPECT_EQ(Stats(device_).hit_count - before.hit_count, 1u);
  ASSERT_PORTA_OK(porta_copy_host_to_device(stream_.get(), b.get(), 0, second.data(), kSize));
  const uint32_t pattern = 0x5a5a0f0fu;
  ASSERT_PORTA_OK(porta_fill_buffer(stream_.get(), b.get(), 4096, 4096, &pattern, 4));
  ASSERT_PORTA_OK(porta_copy_device_to_host(stream_.get(), read_second.data(), b.get(), 0, kSize));
  ASSERT_PORTA_OK(porta_stream_synchronize(stream_.get()));
  EXPECT_EQ(read_first, first);
  std::vector<uint8_t> expected = second;
  for (size_t i = 4096; i < 8192; i += 4) std::memcpy(&expected[i], &pattern, 4);
  EXPECT_EQ(read_second, expected);
}

TEST_P(PoolTest, OtherStreamWaitsUntilTheFreeIsPassed) {
  constexpr uint64_t kSize = 32768;
  StreamHandle other;
  ASSERT_PORTA_OK(porta_stream_create(device_, other.out()));
  SyncOnExit sync_other(other.get());
  const std::vector<uint8_t> data = RandomBytes(kSize, 3);
  AsyncBuffer a;
  ASSERT_PORTA_OK(a.Alloc(stream_.get(), kSize));
  ASSERT_PORTA_OK(porta_copy_host_to_device(stream_.get(), a.get(), 0, data.data(), kSize));
  ASSERT_PORTA_OK(a.Free());

  // Nothing has shown that stream_ passed the free: the other stream gets a new block.
  porta_pool_stats_t before = Stats(device_);
  AsyncBuffer b;
  ASSERT_PORTA_OK(b.Alloc(other.get(), kSize));
  porta_pool_stats_t now = Stats(device_);
  EXPECT_EQ(now.hit_count, before.hit_count) << "block reused before its stream passed the free";
  EXPECT_EQ(now.miss_count - before.miss_count, 1u);

  // Once the runtime has seen stream_ complete, the block is free for every stream (b is kept, so
  // the hit can only be a's block).
  ASSERT_PORTA_OK(porta_stream_synchronize(stream_.get()));
  before = Stats(device_);
  AsyncBuffer c;
  ASSERT_PORTA_OK(c.Alloc(other.get(), kSize));
  now = Stats(device_);
  EXPECT_EQ(now.hit_count - before.hit_count, 1u);
  EXPECT_EQ(now.miss_count, before.miss_count);
}

TEST_P(PoolTest, EventOrdersReuseAcrossStreams) {
  constexpr uint64_t kSize = 40000;
  StreamHandle other;
  ASSERT_PORTA_OK(porta_stream_create(device_, other.out()));
  SyncOnExit sync_other(other.get());
  EventHandle event;
  ASSERT_PORTA_OK(porta_event_create(device_, PORTA_EVENT_DISABLE_TIMING, event.out()));
  const std::vector<uint8_t> first = RandomBytes(kSize, 4);
  const std::vector<uint8_t> second = RandomBytes(kSize, 5);
  std::vector<uint8_t> read(kSize);

  // A device-side wait on an event recorded after the free orders the other stream after it.
  AsyncBuffer a;
  ASSERT_PORTA_OK(a.Alloc(stream_.get(), kSize));
  ASSERT_PORTA_OK(porta_copy_host_to_device(stream_.get(), a.get(), 0, first.data(), kSize));
  ASSERT_PORTA_OK(a.Free());
  ASSERT_PORTA_OK(porta_event_record(event.get(), stream_.get()));
  ASSERT_PORTA_OK(porta_stream_wait_event(other.get(), event.get()));
  porta_pool_stats_t before = Stats(device_);
  AsyncBuffer b;
  ASSERT_PORTA_OK(b.Alloc(other.get(), kSize));
  EXPECT_EQ(Stats(device_).hit_count - before.hit_count, 1u);
  ASSERT_PORTA_OK(porta_copy_host_to_device(other.get(), b.get(), 0, second.data(), kSize));
  ASSERT_TRUE(ReadBuffer(other.get(), b.get(), 0, kSize, read.data()));
  EXPECT_EQ(read, second);

  // A host wait on such an event shows the runtime that the stream passed the free.
  StreamHandle third;
  ASSERT_PORTA_OK(porta_stream_create(device_, third.out()));
  AsyncBuffer c;
  ASSERT_PORTA_OK(c.Alloc(stream_.get(), kSize));
  ASSERT_PORTA_OK(porta_copy_host_to_device(stream_.get(), c.get(), 0, first.data(), kSize));
  ASSERT_PORTA_OK(c.Free());
  ASSERT_PORTA_OK(porta_event_record(event.get(), stream_.get()));
  before = Stats(device_);
  AsyncBuffer d;
  ASSERT_PORTA_OK(d.Alloc(third.get(), kSize));
  EXPECT_EQ(Stats(device_).hit_count, before.hit_count) << "reused before the event completed";
  ASSERT_PORTA_OK(porta_event_wait(event.get(), UINT64_MAX));
  before = Stats(device_);
  AsyncBuffer e;
  ASSERT_PORTA_OK(e.Alloc(third.get(), kSize));
  EXPECT_EQ(Stats(device_).hit_count - before.hit_count, 1u);
  d.reset();
  e.reset();
  ASSERT_PORTA_OK(porta_stream_synchronize(third.get()));
}

// With the freeing stream held busy by the gate, a block the other stream could wrongly take
// would be overwritten by the gated copy after the other stream's write.
TEST_P(PoolTest, BusyStreamBlockIsNotHandedToAnotherStream) {
  PORTA_CTS_REQUIRE_GATE(device_);
  constexpr uint64_t kSize = 20000;
  StreamHandle other;
  ASSERT_PORTA_OK(porta_stream_create(device_, other.out()));
  EventHandle event;
  ASSERT_PORTA_OK(porta_event_create(device_, PORTA_EVENT_DISABLE_TIMING, event.out()));
  const std::vector<uint8_t> gated = RandomBytes(kSize, 6);
  const std::vector<uint8_t> mine = RandomBytes(kSize, 7);
  std::vector<uint8_t> read(kSize), read_after_wait(kSize);
  Gate gate;
  ASSERT_TRUE(gate.Load(device_));
  SyncOnExit sync_other(other.get());
  SyncOnExit sync(stream_.get(), &gate);

  ASSERT_PORTA_OK(gate.Close(stream_.get()));
  AsyncBuffer a;
  ASSERT_PORTA_OK(a.Alloc(stream_.get(), kSize));
  ASSERT_PORTA_OK(porta_copy_host_to_device(stream_.get(), a.get(), 0, gated.data(), kSize));
  ASSERT_PORTA_OK(a.Free());
  porta_pool_stats_t before = Stats(device_);
  AsyncBuffer b;
  ASSERT_PORTA_OK(b.Alloc(other.get(), kSize));
  EXPECT_EQ(Stats(device_).hit_count, before.hit_count) << "a busy stream's block was handed out";
  ASSERT_PORTA_OK(porta_copy_host_to_device(other.get(), b.get(), 0, mine.data(), kSize));
  ASSERT_PORTA_OK(porta_stream_synchronize(other.get()));
  gate.Open();
  ASSERT_PORTA_OK(porta_stream_synchronize(stream_.get()));
  ASSERT_TRUE(ReadBuffer(other.get(), b.get(), 0, kSize, read.data()));
  EXPECT_EQ(read, mine) << "the busy stream's queued copy landed in the other stream's buffer";

  // After an event wait the other stream may take the block while the first is still busy: its
  // work then runs after the gated copy, so it sees its own data.
  ASSERT_PORTA_OK(porta_device_pool_trim(device_, 0));
  ASSERT_PORTA_OK(gate.Close(stream_.get()));
  AsyncBuffer c;
  ASSERT_PORTA_OK(c.Alloc(stream_.get(), kSize));
  ASSERT_PORTA_OK(porta_copy_host_to_device(stream_.get(), c.get(), 0, gated.data(), kSize));
  ASSERT_PORTA_OK(c.Free());
  ASSERT_PORTA_OK(porta_event_record(event.get(), stream_.get()));
  ASSERT_PORTA_OK(porta_stream_wait_event(other.get(), event.get()));
  before = Stats(device_);
  AsyncBuffer d;
  ASSERT_PORTA_OK(d.Alloc(other.get(), kSize));
  EXPECT_EQ(Stats(device_).hit_count - before.hit_count, 1u);
  ASSERT_PORTA_OK(porta_copy_host_to_device(other.get(), d.get(), 0, mine.data(), kSize));
  ASSERT_PORTA_OK(
      porta_copy_device_to_host(other.get(), read_after_wait.data(), d.get(), 0, kSize));
  EXPECT_PORTA_STATUS(PORTA_NOT_READY, porta_stream_query(other.get()));
  gate.Open();
  ASSERT_PORTA_OK(porta_stream_synchronize(other.get()));
  EXPECT_EQ(read_after_wait, mine);
}

TEST_P(PoolTest, LimitTrimsThenFails) {
  constexpr uint64_t kBlock = 65536;
  const porta_pool_stats_t start = Stats(device_);
  ASSERT_EQ(start.cached_bytes, 0u);
  const uint64_t limit = start.reserved_bytes + 3 * kBlock;
  ASSERT_PORTA_OK(porta_device_pool_set_limit(device_, limit));
  EXPECT_EQ(Stats(device_).limit_bytes, limit);
  AsyncBuffer blocks[3];
  for (AsyncBuffer& block : blocks) ASSERT_PORTA_OK(block.Alloc(stream_.get(), kBlock));
  AsyncBuffer extra;
  EXPECT_PORTA_ERROR(PORTA_ERROR_OUT_OF_MEMORY, "limit", extra.Alloc(stream_.get(), kBlock));
  EXPECT_EQ(extra.get(), nullptr);

  // A cached block is given back to the backend to make room for a block of another class. No
  // queued work used it, so its memory is released at once.
  ASSERT_PORTA_OK(blocks[2].Free());
  const porta_pool_stats_t before = Stats(device_);
  EXPECT_EQ(before.cached_bytes, kBlock);
  ASSERT_PORTA_OK(extra.Alloc(stream_.get(), kBlock / 2));
  porta_pool_stats_t now = Stats(device_);
  EXPECT_EQ(now.trimmed_blocks - before.trimmed_blocks, 1u);
  EXPECT_EQ(now.trimmed_bytes - before.trimmed_bytes, kBlock);
  EXPECT_EQ(now.cached_bytes, 0u);
  EXPECT_LE(now.reserved_bytes, limit);

  // Lowering the limit below what the pool holds trims the cache but leaves blocks in use.
  ASSERT_PORTA_OK(blocks[1].Free());
  ASSERT_PORTA_OK(porta_device_pool_set_limit(device_, start.reserved_bytes + kBlock));
  now = Stats(device_);
  EXPECT_EQ(now.cached_bytes, 0u);
  EXPECT_EQ(now.reserved_bytes, start.reserved_bytes + kBlock + kBlock / 2);
  const uint32_t value = 7;
  ASSERT_PORTA_OK(porta_fill_buffer(stream_.get(), blocks[0].get(), 0, kBlock, &value, 4));
  ASSERT_PORTA_OK(porta_stream_synchronize(stream_.get()));

  // No limit: allocations succeed again.
  ASSERT_PORTA_OK(porta_device_pool_set_limit(device_, 0));
  AsyncBuffer more;
  ASSERT_PORTA_OK(more.Alloc(stream_.get(), kBlock));
  EXPECT_EQ(Stats(device_).limit_bytes, 0u);
}

TEST_P(PoolTest, TrimKeepsAtMostTheBytesAsked) {
  AsyncBuffer buffers[4];
  for (size_t i = 0; i < 4; ++i) {
    ASSERT_PORTA_OK(buffers[i].Alloc(stream_.get(), 4096u << i));
  }
  for (AsyncBuffer& buffer : buffers) ASSERT_PORTA_OK(buffer.Free());
  const porta_pool_stats_t full = Stats(device_);
  EXPECT_EQ(full.cached_bytes, 4096u * 15);
  // Least recently freed first: keeping 40000 bytes drops the 4 KiB, 8 KiB and 16 KiB blocks.
  ASSERT_PORTA_OK(porta_device_pool_trim(device_, 40000));
  porta_pool_stats_t now = Stats(device_);
  EXPECT_EQ(now.cached_bytes, 32768u);
  EXPECT_EQ(now.trimmed_blocks - full.trimmed_blocks, 3u);
  EXPECT_EQ(full.reserved_bytes - now.reserved_bytes, 4096u * 7);
  ASSERT_PORTA_OK(porta_device_pool_trim(device_, 0));
  now = Stats(device_);
  EXPECT_EQ(now.cached_bytes, 0u);
  EXPECT_EQ(now.reserved_bytes, now.in_use_bytes);
}

TEST_P(PoolTest, PlainFreeOfPooledBufferAndAsyncFreeOfPlainBuffer) {
  constexpr uint64_t kSize = 12345;
  const std::vector<uint8_t> data = RandomBytes(kSize, 8);
  std::vector<uint8_t> read(kSize);
  StreamHandle other;
  ASSERT_PORTA_OK(porta_stream_create(device_, other.out()));

  // porta_buffer_free of a pooled buffer: the block returns once queued work is done, then for
  // every stream.
  porta_buffer_t pooled = nullptr;
  ASSERT_PORTA_OK(porta_buffer_alloc_async(stream_.get(), kSize, PORTA_MEMORY_DEVICE, &pooled));
  ASSERT_PORTA_OK(porta_copy_host_to_device(stream_.get(), pooled, 0, data.data(), kSize));
  ASSERT_PORTA_OK(porta_copy_device_to_host(stream_.get(), read.data(), pooled, 0, kSize));
  ASSERT_PORTA_OK(porta_buffer_free(pooled));
  ASSERT_PORTA_OK(porta_stream_synchronize(stream_.get()));
  EXPECT_EQ(read, data);
  porta_pool_stats_t before = Stats(device_);
  EXPECT_GE(before.cached_bytes, kSize);
  AsyncBuffer again;
  ASSERT_PORTA_OK(again.Alloc(other.get(), kSize));
  EXPECT_EQ(Stats(device_).hit_count - before.hit_count, 1u);
  again.reset();
  ASSERT_PORTA_OK(porta_stream_synchronize(other.get()));

  // porta_buffer_free_async of a plain buffer: released like porta_buffer_free, after its queued
  // work, and not added to the pool.
  ASSERT_PORTA_OK(porta_device_pool_trim(device_, 0));
  porta_buffer_t plain = nullptr;
  ASSERT_PORTA_OK(porta_buffer_alloc(device_, kSize, PORTA_MEMORY_DEVICE, &plain));
  std::fill(read.begin(), read.end(), 0);
  ASSERT_PORTA_OK(porta_copy_host_to_device(stream_.get(), plain, 0, data.data(), kSize));
  ASSERT_PORTA_OK(porta_copy_device_to_host(stream_.get(), read.data(), plain, 0, kSize));
  before = Stats(device_);
  ASSERT_PORTA_OK(porta_buffer_free_async(stream_.get(), plain));
  ASSERT_PORTA_OK(porta_stream_synchronize(stream_.get()));
  EXPECT_EQ(read, data);
  const porta_pool_stats_t now = Stats(device_);
  EXPECT_EQ(now.free_count - before.free_count, 1u);
  EXPECT_EQ(now.cached_bytes, 0u);
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "buffer", porta_buffer_free(plain));
}

TEST_P(PoolTest, HostVisibleBlocksMapAndStaySeparate) {
  PORTA_CTS_REQUIRE_CAP(info_, PORTA_CAP_HOST_VISIBLE_MEMORY);
  constexpr uint64_t kSize = 8192;
  porta_buffer_t mapped = nullptr;
  ASSERT_PORTA_OK(
      porta_buffer_alloc_async(stream_.get(), kSize, PORTA_MEMORY_HOST_VISIBLE, &mapped));
  void* ptr = nullptr;
  ASSERT_PORTA_OK(porta_buffer_map(mapped, 0, kSize, &ptr));
  std::memset(ptr, 0x3c, kSize);
  // Freed while mapped: the free unmaps it.
  ASSERT_PORTA_OK(porta_buffer_free_async(stream_.get(), mapped));
  // A device-memory request does not get the host-visible block.
  const porta_pool_stats_t before = Stats(device_);
  AsyncBuffer device_memory;
  ASSERT_PORTA_OK(device_memory.Alloc(stream_.get(), kSize));
  EXPECT_EQ(Stats(device_).hit_count, before.hit_count);
  porta_buffer_t again = nullptr;
  ASSERT_PORTA_OK(
      porta_buffer_alloc_async(stream_.get(), kSize, PORTA_MEMORY_HOST_VISIBLE, &again));
  EXPECT_EQ(Stats(device_).hit_count - before.hit_count, 1u);
  ASSERT_PORTA_OK(porta_stream_synchronize(stream_.get()));
  ASSERT_PORTA_OK(porta_buffer_map(again, 0, kSize, &ptr));
  EXPECT_EQ(static_cast<uint8_t*>(ptr)[kSize - 1], 0x3c) << "the reused block lost its contents";
  ASSERT_PORTA_OK(porta_buffer_unmap(again));
  ASSERT_PORTA_OK(porta_buffer_free_async(stream_.get(), again));
}

TEST_P(PoolTest, DestroyingTheFreeingStreamReleasesItsBlocks) {
  constexpr uint64_t kSize = 50000;
  const std::vector<uint8_t> data = RandomBytes(kSize, 9);
  porta_stream_t temporary = nullptr;
  ASSERT_PORTA_OK(porta_stream_create(device_, &temporary));
  porta_buffer_t buffer = nullptr;
  ASSERT_PORTA_OK(porta_buffer_alloc_async(temporary, kSize, PORTA_MEMORY_DEVICE, &buffer));
  ASSERT_PORTA_OK(porta_copy_host_to_device(temporary, buffer, 0, data.data(), kSize));
  ASSERT_PORTA_OK(porta_buffer_free_async(temporary, buffer));
  ASSERT_PORTA_OK(porta_stream_destroy(temporary));
  const porta_pool_stats_t before = Stats(device_);
  AsyncBuffer reused;
  ASSERT_PORTA_OK(reused.Alloc(stream_.get(), kSize));
  EXPECT_EQ(Stats(device_).hit_count - before.hit_count, 1u);

  // A buffer still allocated when its stream is destroyed stays valid and can be freed on
  // another stream.
  ASSERT_PORTA_OK(porta_stream_create(device_, &temporary));
  ASSERT_PORTA_OK(porta_buffer_alloc_async(temporary, kSize, PORTA_MEMORY_DEVICE, &buffer));
  ASSERT_PORTA_OK(porta_stream_destroy(temporary));
  std::vector<uint8_t> read(kSize);
  ASSERT_PORTA_OK(porta_copy_host_to_device(stream_.get(), buffer, 0, data.data(), kSize));
  ASSERT_TRUE(ReadBuffer(stream_.get(), buffer, 0, kSize, read.data()));
  EXPECT_EQ(read, data);
  ASSERT_PORTA_OK(porta_buffer_free_async(stream_.get(), buffer));
}

TEST_P(PoolTest, BadInput) {
  const porta_stream_t s = stream_.get();
  porta_buffer_t buffer = nullptr;
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "stream",
                     porta_buffer_alloc_async(nullptr, 64, PORTA_MEMORY_DEVICE, &buffer));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "stream",
                     porta_buffer_alloc_async(reinterpret_cast<porta_stream_t>(device_), 64,
                                              PORTA_MEMORY_DEVICE, &buffer));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "out_buffer",
                     porta_buffer_alloc_async(s, 64, PORTA_MEMORY_DEVICE, nullptr));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "size",
                     porta_buffer_alloc_async(s, 0, PORTA_MEMORY_DEVICE, &buffer));
  EXPECT_EQ(buffer, nullptr);
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "kind",
                     porta_cts_buffer_alloc_async_raw_kind(s, 64, 7, &buffer));
  const std::string limit = std::to_string(info_.max_allocation_bytes);
  EXPECT_PORTA_ERROR(
      PORTA_ERROR_OUT_OF_RANGE, ("max_allocation_bytes|" + limit).c_str(),
      porta_buffer_alloc_async(s, info_.max_allocation_bytes + 1, PORTA_MEMORY_DEVICE, &buffer));
  if ((info_.capabilities & PORTA_CAP_HOST_VISIBLE_MEMORY) == 0) {
    EXPECT_PORTA_ERROR(PORTA_ERROR_UNSUPPORTED, "host-visible|HOST_VISIBLE",
                       porta_buffer_alloc_async(s, 64, PORTA_MEMORY_HOST_VISIBLE, &buffer));
  }

  ASSERT_PORTA_OK(porta_buffer_alloc_async(s, 64, PORTA_MEMORY_DEVICE, &buffer));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "stream",
                     porta_buffer_free_async(nullptr, buffer));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "buffer", porta_buffer_free_async(s, nullptr));
  ASSERT_PORTA_OK(porta_buffer_free_async(s, buffer));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "buffer|freed|destroyed",
                     porta_buffer_free_async(s, buffer));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "buffer", porta_buffer_free(buffer));

  // A buffer of another device object (a second runtime opens its own) is refused by the stream.
  porta_runtime_options_t options = RuntimeOptions();
  RuntimeHandle runtime;
  ASSERT_PORTA_OK(porta_runtime_create(&options, runtime.out()));
  porta_device_t foreign_device = nullptr;
  ASSERT_PORTA_OK(porta_runtime_device(runtime.get(), GetParam().index, &foreign_device));
  ASSERT_NE(foreign_device, device_);
  StreamHandle foreign_stream;
  ASSERT_PORTA_OK(porta_stream_create(foreign_device, foreign_stream.out()));
  porta_buffer_t foreign = nullptr;
  ASSERT_PORTA_OK(
      porta_buffer_alloc_async(foreign_stream.get(), 64, PORTA_MEMORY_DEVICE, &foreign));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "device", porta_buffer_free_async(s, foreign));
  ASSERT_PORTA_OK(porta_buffer_free_async(foreign_stream.get(), foreign));

  porta_pool_stats_t stats = PORTA_POOL_STATS_INIT;
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "device",
                     porta_device_pool_get_stats(nullptr, &stats));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "stats",
                     porta_device_pool_get_stats(device_, nullptr));
  stats.struct_size = 1;
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "struct_size",
                     porta_device_pool_get_stats(device_, &stats));
  // An older, shorter struct gets only its own fields.
  struct {
    porta_pool_stats_t stats;
  } guarded;
  std::memset(&guarded, 0xab, sizeof(guarded));
  guarded.stats.struct_size = offsetof(porta_pool_stats_t, reserved_bytes);
  ASSERT_PORTA_OK(porta_device_pool_get_stats(device_, &guarded.stats));
  EXPECT_EQ(guarded.stats.enabled, 1u);
  EXPECT_EQ(guarded.stats.reserved_bytes, 0xababababababababull);
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "device", porta_device_pool_trim(nullptr, 0));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "device",
                     porta_device_pool_set_limit(reinterpret_cast<porta_device_t>(s), 0));
}

TEST_P(PoolTest, DisabledByEnvironment) {
  // PORTA_POOL is read when a runtime opens its devices.
  ASSERT_EQ(setenv("PORTA_POOL", "0", 1), 0);
  porta_runtime_options_t options = RuntimeOptions();
  RuntimeHandle runtime;
  const porta_status_t created = porta_runtime_create(&options, runtime.out());
  unsetenv("PORTA_POOL");
  ASSERT_PORTA_OK(created);
  porta_device_t device = nullptr;
  ASSERT_PORTA_OK(porta_runtime_device(runtime.get(), GetParam().index, &device));
  StreamHandle stream;
  ASSERT_PORTA_OK(porta_stream_create(device, stream.out()));
  constexpr uint64_t kSize = 10000;
  const std::vector<uint8_t> data = RandomBytes(kSize, 10);
  std::vector<uint8_t> read(kSize);
  for (int round = 0; round < 2; ++round) {
    porta_buffer_t buffer = nullptr;
    ASSERT_PORTA_OK(porta_buffer_alloc_async(stream.get(), kSize, PORTA_MEMORY_DEVICE, &buffer));
    ASSERT_PORTA_OK(porta_copy_host_to_device(stream.get(), buffer, 0, data.data(), kSize));
    ASSERT_PORTA_OK(porta_copy_device_to_host(stream.get(), read.data(), buffer, 0, kSize));
    ASSERT_PORTA_OK(porta_buffer_free_async(stream.get(), buffer));
    ASSERT_PORTA_OK(porta_stream_synchronize(stream.get()));
    EXPECT_EQ(read, data);
  }
  const porta_pool_stats_t stats = Stats(device);
  EXPECT_EQ(stats.enabled, 0u);
  EXPECT_EQ(stats.alloc_count, 2u);
  EXPECT_EQ(stats.free_count, 2u);
  EXPECT_EQ(stats.miss_count, 2u);
  EXPECT_EQ(stats.hit_count, 0u);
  EXPECT_EQ(stats.cached_bytes, 0u);
  EXPECT_EQ(stats.reserved_bytes, 0u);
}

TEST_P(PoolTest, ThreadsAllocateAndFreeConcurrently) {
  constexpr int kThreads = 4;
  constexpr int kIterations = 60;
  const porta_pool_stats_t before = Stats(device_);
  std::atomic<int> failures{0};
  std::vector<std::string> messages(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      porta_stream_t stream = nullptr;
      if (porta_stream_create(device_, &stream) != PORTA_OK) {
        messages[t] = "stream_create failed";
        ++failures;
        return;
      }
      for (int i = 0; i < kIterations && messages[t].empty(); ++i) {
        // Sizes shared between threads, so blocks move between their streams' caches.
        const uint64_t size = 1000 + static_cast<uint64_t>((i * 7 + t) % 5) * 3000;
        const std::vector<uint8_t> data = RandomBytes(size, static_cast<uint32_t>(t * 1000 + i));
        std::vector<uint8_t> read(size);
        porta_buffer_t buffer = nullptr;
        porta_status_t status =
            porta_buffer_alloc_async(stream, size, PORTA_MEMORY_DEVICE, &buffer);
        if (status == PORTA_OK) {
          status = porta_copy_host_to_device(stream, buffer, 0, data.data(), size);
        }
        if (status == PORTA_OK) {
          status = porta_copy_device_to_host(stream, read.data(), buffer, 0, size);
        }
        if (buffer != nullptr && porta_buffer_free_async(stream, buffer) != PORTA_OK) {
          status = PORTA_ERROR_INVALID_HANDLE;
        }
        // Synchronized every iteration: |data| and |read| go out of scope.
        if (status == PORTA_OK) status = porta_stream_synchronize(stream);
        if (status != PORTA_OK) {
          messages[t] = "iteration " + std::to_string(i) + ": " + porta_status_string(status) +
                        ": " + porta_last_error_message();
        } else if (read != data) {
          messages[t] = "iteration " + std::to_string(i) + ": data differs";
        }
      }
      if (!messages[t].empty()) ++failures;
      porta_stream_destroy(stream);
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(messages[t], "") << "thread " << t;
  EXPECT_EQ(failures.load(), 0);
  const porta_pool_stats_t now = Stats(device_);
  EXPECT_EQ(now.alloc_count - before.alloc_count, uint64_t{kThreads} * kIterations);
  EXPECT_EQ(now.free_count - before.free_count, uint64_t{kThreads} * kIterations);
  EXPECT_EQ(now.in_use_bytes, before.in_use_bytes);
  EXPECT_GT(now.hit_count - before.hit_count, 0u);
  EXPECT_EQ(now.reserved_bytes, now.in_use_bytes + now.cached_bytes);
}

PORTA_CTS_INSTANTIATE(PoolTest);

}  // namespace
}  // namespace porta_cts
