// Streams: in-order asynchronous execution (long dependent chains), query and synchronize,
// several independent streams, and destroy waiting for queued work.
#include <atomic>
#include <chrono>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

#include "conformance/cts.h"
#include "conformance/gate.h"

namespace porta_cts {
namespace {

class StreamOrderTest : public StreamTest {};

TEST_P(StreamOrderTest, IdleStreamQueriesAndSynchronizesOk) {
  EXPECT_PORTA_OK(porta_stream_query(stream_.get()));
  EXPECT_PORTA_OK(porta_stream_synchronize(stream_.get()));
  EXPECT_PORTA_OK(porta_stream_synchronize(stream_.get()));
}

// Runs a chain of copies and fills in which every step reads what the previous one wrote, all
// queued before a single synchronize, and checks the result against the same chain on the host.
void RunDependentChain(porta_device_t device, porta_stream_t stream, uint32_t steps,
                       uint32_t seed) {
  constexpr uint64_t kSize = 4096 + 4;
  constexpr int kRing = 4;
  BufferHandle ring[kRing];
  // Copy sources stay untouched until the synchronize; the model evolves in separate vectors.
  std::vector<uint8_t> initial[kRing];
  std::vector<uint8_t> model[kRing];
  SyncOnExit sync(stream);
  for (int i = 0; i < kRing; ++i) {
    ASSERT_PORTA_OK(porta_buffer_alloc(device, kSize, PORTA_MEMORY_DEVICE, ring[i].out()));
    initial[i] = RandomBytes(kSize, seed + i);
    model[i] = initial[i];
    ASSERT_PORTA_OK(porta_copy_host_to_device(stream, ring[i].get(), 0, initial[i].data(), kSize));
  }
  // Fill patterns are copied at call time, so a local one suffices.
  for (uint32_t step = 0; step < steps; ++step) {
    const int from = step % kRing;
    const int to = (step + 1) % kRing;
    const uint64_t shift = 4 * (step % 7);
    ASSERT_PORTA_OK(porta_copy_device_to_device(stream, ring[to].get(), shift, ring[from].get(), 0,
                                                kSize - shift));
    std::memmove(model[to].data() + shift, model[from].data(), kSize - shift);
    const uint32_t value = step * 2654435761u;
    const uint64_t offset = 4 * ((step * 37) % (kSize / 4 - 8));
    ASSERT_PORTA_OK(porta_fill_buffer(stream, ring[to].get(), offset, 16, &value, 4));
    for (uint64_t i = 0; i < 16; ++i) {
      model[to][offset + i] = reinterpret_cast<const uint8_t*>(&value)[i % 4];
    }
  }
  std::vector<uint8_t> read[kRing];
  for (int i = 0; i < kRing; ++i) {
    read[i].resize(kSize);
    ASSERT_PORTA_OK(porta_copy_device_to_host(stream, read[i].data(), ring[i].get(), 0, kSize));
  }
  ASSERT_PORTA_OK(porta_stream_synchronize(stream));
  for (int i = 0; i < kRing; ++i) EXPECT_EQ(read[i], model[i]) << "ring buffer " << i;
}

TEST_P(StreamOrderTest, LongChainOfDependentOperations) {
  RunDependentChain(device_, stream_.get(), 500, 1);
}

TEST_P(StreamOrderTest, LongChainOfDependentKernelLaunches) {
  PORTA_CTS_REQUIRE_KERNEL(info_, "scale_add");
  ModuleHandle module;
  porta_kernel_t kernel = nullptr;
  ASSERT_PORTA_OK(LoadTestKernel(device_, "scale_add", &module, &kernel));
  constexpr uint32_t kN = 1000;
  constexpr int kSteps = 200;
  const std::vector<float> x = RandomFloats(kN, 2);
  std::vector<float> y = RandomFloats(kN, 3);
  SyncOnExit sync(stream_.get());
  BufferHandle x_buf, y_buf;
  ASSERT_PORTA_OK(porta_buffer_alloc(device_, kN * 4, PORTA_MEMORY_DEVICE, x_buf.out()));
  ASSERT_PORTA_OK(porta_buffer_alloc(device_, kN * 4, PORTA_MEMORY_DEVICE, y_buf.out()));
  ASSERT_PORTA_OK(porta_copy_host_to_device(stream_.get(), x_buf.get(), 0, x.data(), kN * 4));
  ASSERT_PORTA_OK(porta_copy_host_to_device(stream_.get(), y_buf.get(), 0, y.data(), kN * 4));
  const uint32_t block = BlockSizeFor(info_, 64);
  porta_launch_config_t config = PORTA_LAUNCH_CONFIG_INIT;
  config.block[0] = block;
  config.grid[0] = (kN + block - 1) / block;
  std::vector<double> model(y.begin(), y.end());
  for (int step = 0; step < kSteps; ++step) {
    // Alternating signs keep the values bounded, and with x in 1/256 steps every intermediate is
    // exact in float, so the comparison can be tight. Every step reads the previous step's y.
    const float alpha = (step % 2 == 0) ? 0.5f : -0.25f;
    const uint32_t n = kN;
    const porta_kernel_arg_t args[] = {porta_arg_buffer(y_buf.get(), 0),
                                       porta_arg_buffer(x_buf.get(), 0),
                                       porta_arg_scalar(&alpha, 4), porta_arg_scalar(&n, 4)};
    ASSERT_PORTA_OK(porta_kernel_launch(stream_.get(), kernel, &config, args, 4));
    for (uint32_t i = 0; i < kN; ++i) {
      model[i] += double{alpha} * x[i];
    }
  }
  ASSERT_TRUE(ReadBuffer(stream_.get(), y_buf.get(), 0, kN * 4, y.data()));
  for (uint32_t i = 0; i < kN; ++i) {
    ASSERT_NEAR(y[i], model[i], 1e-4) << "y[" << i << "] after " << kSteps << " launches";
  }
}

TEST_P(StreamOrderTest, QueryAfterQueueingAnswersAtOnceThenOk) {
  // Whether this work is still running when queried depends on the device and the machine, so the
  // first answer is checked for promptness only (a query never waits for the work); the exact
  // NOT_READY of pending work is QueryIsNotReadyWhileBlockedAndWorkWaits' (devices whose stream
  // can be held).
  constexpr uint64_t kSize = 16u << 20;
  BufferHandle a, b;
  ASSERT_PORTA_OK(porta_buffer_alloc(device_, kSize, PORTA_MEMORY_DEVICE, a.out()));
  ASSERT_PORTA_OK(porta_buffer_alloc(device_, kSize, PORTA_MEMORY_DEVICE, b.out()));
  const uint8_t zero = 0;
  ASSERT_PORTA_OK(porta_fill_buffer(stream_.get(), a.get(), 0, kSize, &zero, 1));
  for (int i = 0; i < 8; ++i) {
    ASSERT_PORTA_OK(porta_copy_device_to_device(stream_.get(), b.get(), 0, a.get(), 0, kSize));
    ASSERT_PORTA_OK(porta_copy_device_to_device(stream_.get(), a.get(), 0, b.get(), 0, kSize));
  }
  const auto start = std::chrono::steady_clock::now();
  const porta_status_t racing = porta_stream_query(stream_.get());
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1))
      << "porta_stream_query blocked (it returned " << porta_status_string(racing) << ")";
  ASSERT_PORTA_OK(porta_stream_synchronize(stream_.get()));
  EXPECT_PORTA_OK(porta_stream_query(stream_.get()));
}

TEST_P(StreamOrderTest, QueryIsNotReadyWhileBlockedAndWorkWaits) {
  PORTA_CTS_REQUIRE_GATE(device_);
  Gate gate;
  ASSERT_TRUE(gate.Load(device_));
  ASSERT_PORTA_OK(gate.Close(stream_.get()));
  BufferHandle buffer;
  ASSERT_PORTA_OK(porta_buffer_alloc(device_, 64, PORTA_MEMORY_DEVICE, buffer.out()));
  const uint32_t value = 0xc0ffee00u;
  std::vector<uint32_t> read(16, 0);
  SyncOnExit sync(stream_.get(), &gate);
  ASSERT_PORTA_OK(porta_fill_buffer(stream_.get(), buffer.get(), 0, 64, &value, 4));
  ASSERT_PORTA_OK(porta_copy_device_to_host(stream_.get(), read.data(), buffer.get(), 0, 64));
  EXPECT_PORTA_STATUS(PORTA_NOT_READY, porta_stream_query(stream_.get()));
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(read[0], 0u) << "work queued behind a blocked kernel ran before it";
  EXPECT_PORTA_STATUS(PORTA_NOT_READY, porta_stream_query(stream_.get()));
  gate.Open();
  ASSERT_PORTA_OK(porta_stream_synchronize(stream_.get()));
  EXPECT_PORTA_OK(porta_stream_query(stream_.get()));
  for (uint32_t word : read) EXPECT_EQ(word, value);
}

TEST_P(StreamOrderTest, IndependentStreamsOnOneDevice) {
  constexpr int kStreams = 4;
  StreamHandle streams[kStreams];
  for (auto& stream : streams) ASSERT_PORTA_OK(porta_stream_create(device_, stream.out()));
  // Interleave the streams' chains so their work overlaps on the device.
  for (int i = 0; i < kStreams; ++i) {
    RunDependentChain(device_, streams[i].get(), 40, 100 + 10 * i);
    if (HasFatalFailure()) return;
  }
  for (auto& stream : streams) EXPECT_PORTA_OK(porta_stream_destroy(stream.release()));
}

TEST_P(StreamOrderTest, BlockedStreamDoesNotBlockAnotherStream) {
  PORTA_CTS_REQUIRE_GATE(device_);
  Gate gate;
  ASSERT_TRUE(gate.Load(device_));
  ASSERT_PORTA_OK(gate.Close(stream_.get()));
  StreamHandle other;
  ASSERT_PORTA_OK(porta_stream_create(device_, other.out()));
  BufferHandle buffer;
  ASSERT_PORTA_OK(porta_buffer_alloc(device_, 1024, PORTA_MEMORY_DEVICE, buffer.out()));
  const std::vector<uint8_t> data = RandomBytes(1024, 9);
  std::vector<uint8_t> read(1024);
  SyncOnExit sync_other(other.get());
  ASSERT_PORTA_OK(porta_copy_host_to_device(other.get(), buffer.get(), 0, data.data(), 1024));
  ASSERT_TRUE(ReadBuffer(other.get(), buffer.get(), 0, 1024, read.data()));
  EXPECT_EQ(read, data);
  EXPECT_PORTA_STATUS(PORTA_NOT_READY, porta_stream_query(stream_.get()));
  gate.Open();
  EXPECT_PORTA_OK(porta_stream_synchronize(stream_.get()));
}

TEST_P(StreamOrderTest, DestroyWaitsForQueuedWork) {
  constexpr uint64_t kSize = 1u << 20;
  const std::vector<uint8_t> data = RandomBytes(kSize, 11);
  std::vector<uint8_t> read(kSize, 0);
  // Declared after the host vectors: on an early return its destroy drains the copies first.
  StreamHandle stream;
  ASSERT_PORTA_OK(porta_stream_create(device_, stream.out()));
  BufferHandle buffer;
  ASSERT_PORTA_OK(porta_buffer_alloc(device_, kSize, PORTA_MEMORY_DEVICE, buffer.out()));
  ASSERT_PORTA_OK(porta_copy_host_to_device(stream.get(), buffer.get(), 0, data.data(), kSize));
  ASSERT_PORTA_OK(porta_copy_device_to_host(stream.get(), read.data(), buffer.get(), 0, kSize));
  ASSERT_PORTA_OK(porta_stream_destroy(stream.release()));
  EXPECT_EQ(read, data) << "porta_stream_destroy returned before its queued copies completed";
}

// What host functions of one test saw, shared with them through their user_data.
struct HostCallProbe {
  const std::vector<uint32_t>* seen = nullptr;  // written by the copy queued before the first call
  uint32_t expected = 0;
  std::atomic<bool> saw_copy{false};
  std::atomic<bool> returned{false};
  std::mutex mutex;
  std::vector<int> order;
};

struct OrderedCall {
  HostCallProbe* probe;
  int index;
};

TEST_P(StreamOrderTest, HostFunctionRunsBetweenTheWorkBeforeAndAfterIt) {
  constexpr uint32_t kWords = 64;
  BufferHandle buffer;
  ASSERT_PORTA_OK(porta_buffer_alloc(device_, kWords * 4, PORTA_MEMORY_DEVICE, buffer.out()));
  HostCallProbe probe;
  probe.expected = 0x11223344u;
  std::vector<uint32_t> seen(kWords, 0);
  probe.seen = &seen;
  EventHandle after;
  ASSERT_PORTA_OK(porta_event_create(device_, PORTA_EVENT_DEFAULT, after.out()));
  std::vector<OrderedCall> calls;
  for (int i = 0; i < 5; ++i) calls.push_back({&probe, i});
  {
    SyncOnExit sync(stream_.get());
    ASSERT_PORTA_OK(
        porta_fill_buffer(stream_.get(), buffer.get(), 0, kWords * 4, &probe.expected, 4));
    ASSERT_PORTA_OK(
        porta_copy_device_to_host(stream_.get(), seen.data(), buffer.get(), 0, kWords * 4));
    // Sees the copy's result, then holds the stream a while: the event recorded after it must
    // not complete before it returns.
    ASSERT_PORTA_OK(porta_stream_enqueue_host_func(
        stream_.get(),
        [](void* data) {
          auto* p = static_cast<HostCallProbe*>(data);
          bool all = true;
          for (uint32_t word : *p->seen) all = all && word == p->expected;
          p->saw_copy = all;
          std::this_thread::sleep_for(std::chrono::milliseconds(30));
          p->returned = true;
        },
        &probe));
    ASSERT_PORTA_OK(porta_event_record(after.get(), stream_.get()));
    for (OrderedCall& call : calls) {
      ASSERT_PORTA_OK(porta_stream_enqueue_host_func(
          stream_.get(),
          [](void* data) {
            auto* c = static_cast<OrderedCall*>(data);
            std::lock_guard<std::mutex> lock(c->probe->mutex);
            c->probe->order.push_back(c->index);
          },
          &call));
    }
    ASSERT_PORTA_OK(porta_event_wait(after.get(), UINT64_MAX));
    EXPECT_TRUE(probe.returned.load()) << "an event recorded after a host function completed "
                                          "before the function returned";
  }
  EXPECT_TRUE(probe.saw_copy.load())
      << "the host function ran before the copy queued ahead of it had completed";
  EXPECT_EQ(probe.order, (std::vector<int>{0, 1, 2, 3, 4})) << "host functions ran out of order";
}

TEST_P(StreamOrderTest, HostFunctionIsRefusedWithoutAFunctionAndInCapture) {
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "fn",
                     porta_stream_enqueue_host_func(stream_.get(), nullptr, nullptr));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "stream",
                     porta_stream_enqueue_host_func(
                         nullptr, [](void*) {}, nullptr));
  std::atomic<int> calls{0};
  ASSERT_PORTA_OK(porta_stream_begin_capture(stream_.get()));
  EXPECT_PORTA_ERROR(
      PORTA_ERROR_INVALID_OPERATION, "host function",
      porta_stream_enqueue_host_func(
          stream_.get(), [](void* data) { ++*static_cast<std::atomic<int>*>(data); }, &calls));
  porta_graph_t graph = nullptr;
  EXPECT_NE(porta_stream_end_capture(stream_.get(), &graph), PORTA_OK);
  if (graph != nullptr) porta_graph_destroy(graph);
  ASSERT_PORTA_OK(porta_stream_synchronize(stream_.get()));
  EXPECT_EQ(calls.load(), 0) << "a refused host function was called";
}

PORTA_CTS_INSTANTIATE(StreamOrderTest);

}  // namespace
}  // namespace porta_cts
