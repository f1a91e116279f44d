// Threads: several threads with several streams each doing verified round trips at once, several
// threads feeding one stream, and concurrent allocation, stream and event churn. Worker threads
// collect their failures as text and the test thread reports them, so every message says which
// thread and iteration failed.
#include <algorithm>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "conformance/cts.h"

namespace porta_cts {
namespace {

class ThreadingTest : public StreamTest {};

// Collects failures from worker threads.
class Failures {
 public:
  void Add(const std::string& text) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (texts_.size() < 20) texts_.push_back(text);
  }
  // Adds a failure for a status other than PORTA_OK; returns whether it was OK.
  bool Check(porta_status_t status, const std::string& what) {
    if (status == PORTA_OK) return true;
    Add(what + ": " + porta_status_string(status) + ": " + porta_last_error_message());
    return false;
  }
  testing::AssertionResult Result() const {
    std::lock_guard<std::mutex> lock(mutex_);
    if (texts_.empty()) return testing::AssertionSuccess();
    testing::AssertionResult result = testing::AssertionFailure();
    for (const std::string& text : texts_) result << text << "\n";
    return result;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::string> texts_;
};

void RunThreads(int count, const std::function<void(int)>& body) {
  std::vector<std::thread> threads;
  for (int t = 0; t < count; ++t) threads.emplace_back(body, t);
  for (std::thread& thread : threads) thread.join();
}

TEST_P(ThreadingTest, ThreadsTimesStreamsRoundTrips) {
  constexpr int kThreads = 4, kStreamsPerThread = 2, kIterations = 12;
  ModuleHandle module;
  porta_kernel_t kernel = nullptr;
  const bool have_kernel = DeviceAcceptsTestKernel(info_, "vector_add");
  if (have_kernel) {
    ASSERT_PORTA_OK(LoadTestKernel(device_, "vector_add", &module, &kernel));
  }
  const uint32_t block = BlockSizeFor(info_, 64);
  Failures failures;
  RunThreads(kThreads, [&](int t) {
    StreamHandle streams[kStreamsPerThread];
    for (auto& stream : streams) {
      if (!failures.Check(porta_stream_create(device_, stream.out()), "stream_create")) return;
    }
    for (int i = 0; i < kIterations; ++i) {
      const porta_stream_t stream = streams[i % kStreamsPerThread].get();
      const std::string where = "thread " + std::to_string(t) + " iteration " + std::to_string(i);
      // A copy round trip through two buffers ...
      const uint64_t size = 4096 + 4 * (t * kIterations + i);
      const std::vector<uint8_t> data = RandomBytes(size, t * 1000 + i);
      std::vector<uint8_t> read(size);
      SyncOnExit sync(stream);
      BufferHandle a, b;
      if (!failures.Check(porta_buffer_alloc(device_, size, PORTA_MEMORY_DEVICE, a.out()),
                          where + " alloc") ||
          !failures.Check(porta_buffer_alloc(device_, size, PORTA_MEMORY_DEVICE, b.out()),
                          where + " alloc") ||
          !failures.Check(porta_copy_host_to_device(stream, a.get(), 0, data.data(), size),
                          where + " h2d") ||
          !failures.Check(porta_copy_device_to_device(stream, b.get(), 0, a.get(), 0, size),
                          where + " d2d") ||
          !failures.Check(porta_copy_device_to_host(stream, read.data(), b.get(), 0, size),
                          where + " d2h") ||
          !failures.Check(porta_stream_synchronize(stream), where + " synchronize")) {
        return;
      }
      if (read != data) failures.Add(where + ": copy round trip returned different bytes");
      // ... and a kernel sharing one kernel handle across threads.
      if (have_kernel) {
        testing::AssertionResult result =
            RunVectorAdd(device_, stream, kernel, 1000 + 17 * t + i, block, t * 100 + i);
        if (!result) failures.Add(where + ": " + result.message());
      }
    }
  });
  EXPECT_TRUE(failures.Result());
}

TEST_P(ThreadingTest, SeveralThreadsFeedOneStream) {
  constexpr int kThreads = 4, kIterations = 50;
  constexpr uint64_t kSlice = 1024;
  BufferHandle buffer;
  ASSERT_PORTA_OK(
      porta_buffer_alloc(device_, kSlice * kThreads, PORTA_MEMORY_DEVICE, buffer.out()));
  Failures failures;
  RunThreads(kThreads, [&](int t) {
    // Each thread owns one slice of the shared buffer; stream order within a thread's own calls
    // makes each read see that thread's preceding write.
    const uint64_t offset = kSlice * t;
    for (int i = 0; i < kIterations; ++i) {
      const std::string where = "thread " + std::to_string(t) + " iteration " + std::to_string(i);
      const std::vector<uint8_t> data = RandomBytes(kSlice, t * 7919 + i);
      std::vector<uint8_t> read(kSlice);
      SyncOnExit sync(stream_.get());
      const uint8_t fill = static_cast<uint8_t>(i);
      if (!failures.Check(porta_fill_buffer(stream_.get(), buffer.get(), offset, kSlice, &fill, 1),
                          where + " fill") ||
          !failures.Check(porta_copy_host_to_device(stream_.get(), buffer.get(), offset,
                                                    data.data(), kSlice / 2),
                          where + " h2d") ||
          !failures.Check(
              porta_copy_device_to_host(stream_.get(), read.data(), buffer.get(), offset, kSlice),
              where + " d2h") ||
          !failures.Check(porta_stream_synchronize(stream_.get()), where + " synchronize")) {
        return;
      }
      std::vector<uint8_t> expected(data.begin(), data.begin() + kSlice / 2);
      expected.resize(kSlice, fill);
      if (read != expected) failures.Add(where + ": slice holds other bytes than written");
    }
  });
  EXPECT_TRUE(failures.Result());
}

TEST_P(ThreadingTest, ConcurrentObjectChurn) {
  constexpr int kThreads = 4, kIterations = 100;
  Failures failures;
  RunThreads(kThreads, [&](int t) {
    StreamHandle stream;
    if (!failures.Check(porta_stream_create(device_, stream.out()), "stream_create")) return;
    std::vector<BufferHandle> kept;
    for (int i = 0; i < kIterations; ++i) {
      const std::string where = "thread " + std::to_string(t) + " iteration " + std::to_string(i);
      const uint64_t size = 1 + (static_cast<uint64_t>(t) * 7717 + i * 131) % 65536;
      BufferHandle buffer;
      if (!failures.Check(porta_buffer_alloc(device_, size, PORTA_MEMORY_DEVICE, buffer.out()),
                          where + " alloc")) {
        return;
      }
      const uint8_t value = static_cast<uint8_t>(t * 31 + i);
      uint8_t last = 0;
      SyncOnExit sync(stream.get());
      if (!failures.Check(porta_fill_buffer(stream.get(), buffer.get(), 0, size, &value, 1),
                          where + " fill") ||
          !failures.Check(porta_copy_device_to_host(stream.get(), &last, buffer.get(), size - 1, 1),
                          where + " d2h") ||
          !failures.Check(porta_stream_synchronize(stream.get()), where + " synchronize")) {
        return;
      }
      if (last != value) failures.Add(where + ": fill not visible");
      // Keep some buffers a while so frees interleave with other threads' allocations.
      if (i % 3 == 0) kept.push_back(std::move(buffer));
      if (kept.size() > 8) kept.erase(kept.begin());

      EventHandle event;
      StreamHandle extra;
      if (!failures.Check(porta_event_create(device_, PORTA_EVENT_DEFAULT, event.out()),
                          where + " event_create") ||
          !failures.Check(porta_stream_create(device_, extra.out()), where + " stream_create") ||
          !failures.Check(porta_event_record(event.get(), extra.get()), where + " record") ||
          !failures.Check(porta_stream_wait_event(stream.get(), event.get()), where + " wait") ||
          !failures.Check(porta_event_wait(event.get(), UINT64_MAX), where + " event_wait")) {
        return;
      }
    }
  });
  EXPECT_TRUE(failures.Result());
}

// Timing two completed events must answer from those events, without waiting for the rest of
// the device: while another stream still copies a gigabyte and more, porta_event_elapsed_ms
// returns and that stream is still busy afterwards (lavapipe's vkGetQueryPoolResults waited for
// the whole device, 1.4 s here, and raced other threads' submissions). Timing an event that is
// still pending answers PORTA_NOT_READY.
TEST_P(ThreadingTest, TimingAnswersWhileAnotherStreamIsBusy) {
  PORTA_CTS_REQUIRE_CAP(info_, PORTA_CAP_TIMESTAMPS);
  const uint64_t size = std::min<uint64_t>(uint64_t{64} << 20, info_.max_allocation_bytes);
  constexpr int kCopies = 24;
  EventHandle start, end, busy_end;
  ASSERT_PORTA_OK(porta_event_create(device_, PORTA_EVENT_DEFAULT, start.out()));
  ASSERT_PORTA_OK(porta_event_create(device_, PORTA_EVENT_DEFAULT, end.out()));
  ASSERT_PORTA_OK(porta_event_create(device_, PORTA_EVENT_DEFAULT, busy_end.out()));
  BufferHandle a, b;
  ASSERT_PORTA_OK(porta_buffer_alloc(device_, size, PORTA_MEMORY_DEVICE, a.out()));
  ASSERT_PORTA_OK(porta_buffer_alloc(device_, size, PORTA_MEMORY_DEVICE, b.out()));
  const uint8_t zero = 0;
  ASSERT_PORTA_OK(porta_event_record(start.get(), stream_.get()));
  ASSERT_PORTA_OK(porta_fill_buffer(stream_.get(), a.get(), 0, size, &zero, 1));
  ASSERT_PORTA_OK(porta_event_record(end.get(), stream_.get()));
  ASSERT_PORTA_OK(porta_stream_synchronize(stream_.get()));

  StreamHandle busy;
  ASSERT_PORTA_OK(porta_stream_create(device_, busy.out()));
  SyncOnExit sync(busy.get());
  for (int i = 0; i < kCopies; ++i) {
    ASSERT_PORTA_OK(porta_copy_device_to_device(busy.get(), i % 2 ? a.get() : b.get(), 0,
                                                i % 2 ? b.get() : a.get(), 0, size));
  }
  ASSERT_PORTA_OK(porta_event_record(busy_end.get(), busy.get()));
  float ms = -1.0f;
  EXPECT_PORTA_OK(porta_event_elapsed_ms(start.get(), end.get(), &ms));
  EXPECT_GE(ms, 0.0f);
  const porta_status_t still_busy = porta_event_query(busy_end.get());
  EXPECT_EQ(still_busy, PORTA_NOT_READY)
      << "porta_event_elapsed_ms of two completed events returned only after another stream's "
      << kCopies << " copies of " << size
      << " bytes had finished: " << porta_status_string(still_busy);
  const porta_status_t pending = porta_event_elapsed_ms(start.get(), busy_end.get(), &ms);
  if (porta_event_query(busy_end.get()) == PORTA_NOT_READY) {
    EXPECT_EQ(pending, PORTA_NOT_READY)
        << "timing an event that is still pending: " << porta_status_string(pending);
  }
  EXPECT_PORTA_OK(porta_stream_synchronize(busy.get()));
  EXPECT_PORTA_OK(porta_event_elapsed_ms(start.get(), busy_end.get(), &ms));
  EXPECT_GE(ms, 0.0f);
}

PORTA_CTS_INSTANTIATE(ThreadingTest);

}  // namespace
}  // namespace porta_cts
