// Graphs: capture and replay give what direct execution gives (launches with buffer and scalar
// arguments, copies both ways, fills, event record and wait), replays repeat and run on other
// streams, argument updates change the result, instances outlive their graph and the handles of
// what they use, calls that are illegal while capturing fail and invalidate the capture (the
// stream stays usable), bad input is refused, and threads replay separate instances at once.
// Runs of device-side nodes may replay through the backend's native graph: the same results are
// required, argument updates must reach later replays and leave queued ones alone, and the
// native node count must be consistent with the runs.
#include <algorithm>
#include <cstring>
#include <functional>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include "conformance/cts.h"
#include "conformance/gate.h"

namespace porta_cts {
namespace {

using GraphHandle = Handle<porta_graph_t, porta_graph_destroy>;
using ExecHandle = Handle<porta_graph_exec_t, porta_graph_exec_destroy>;

constexpr uint32_t kN = 1000;
constexpr uint64_t kBytes = uint64_t{kN} * sizeof(float);

// Small integers, so that every sum and product below is exact in float.
std::vector<float> IntegerFloats(uint32_t seed) {
  std::vector<float> values(kN);
  for (uint32_t i = 0; i < kN; ++i) values[i] = static_cast<float>((i * 7 + seed * 13) % 17) - 8;
  return values;
}

class GraphTest : public StreamTest {
 protected:
  void SetUp() override {
    StreamTest::SetUp();
    if (HasFatalFailure() || IsSkipped()) return;
    PORTA_CTS_REQUIRE_KERNEL(info_, "scale_add");
    ASSERT_PORTA_OK(LoadTestKernel(device_, "scale_add", &module_, &kernel_));
    block_ = BlockSizeFor(info_, 64);
  }

  // How many nodes of |run_nodes| (runs of kernel, copy and fill nodes) replay natively: all of
  // them where the device has native graphs, none where it does not.
  uint32_t Native(uint32_t run_nodes) const {
    return (info_.capabilities & PORTA_CAP_NATIVE_GRAPHS) != 0 ? run_nodes : 0;
  }

  porta_launch_config_t Config() const {
    porta_launch_config_t config = PORTA_LAUNCH_CONFIG_INIT;
    config.block[0] = block_;
    config.grid[0] = (kN + block_ - 1) / block_;
    return config;
  }

  // Queues y = alpha * x + y over the first |n| elements on |stream|.
  porta_status_t ScaleAdd(porta_stream_t stream, porta_buffer_t y, porta_buffer_t x,
                          const float* alpha, const uint32_t* n) {
    const porta_launch_config_t config = Config();
    const porta_kernel_arg_t args[] = {porta_arg_buffer(y, 0), porta_arg_buffer(x, 0),
                                       porta_arg_scalar(alpha, 4), porta_arg_scalar(n, 4)};
    return porta_kernel_launch(stream, kernel_, &config, args, 4);
  }

  void Alloc(BufferHandle* buffer) {
    ASSERT_PORTA_OK(porta_buffer_alloc(device_, kBytes, PORTA_MEMORY_DEVICE, buffer->out()));
  }

  // Captures |body| on stream_ into *graph.
  template <typename Body>
  void Capture(GraphHandle* graph, Body&& body) {
    ASSERT_PORTA_OK(porta_stream_begin_capture(stream_.get()));
    body();
    ASSERT_PORTA_OK(porta_stream_end_capture(stream_.get(), graph->out()));
  }

  // Checks that the stream works after a failed capture: a round trip through a buffer.
  void ExpectStreamUsable() {
    int32_t capturing = -1;
    EXPECT_PORTA_OK(porta_stream_is_capturing(stream_.get(), &capturing));
    EXPECT_EQ(capturing, 0);
    BufferHandle buffer;
    Alloc(&buffer);
    const std::vector<float> data = IntegerFloats(9);
    std::vector<float> read(kN, 0.0f);
    ASSERT_PORTA_OK(porta_copy_host_to_device(stream_.get(), buffer.get(), 0, data.data(), kBytes));
    ASSERT_TRUE(ReadBuffer(stream_.get(), buffer.get(), 0, kBytes, read.data()));
    EXPECT_EQ(read, data);
  }

  ModuleHandle module_;
  porta_kernel_t kernel_ = nullptr;
  uint32_t block_ = 1;
};

// The sequence both the direct run and the capture queue: every node kind, the results of each
// step feeding the next.
struct Sequence {
  BufferHandle x, y, z, w;
  EventHandle event;
  std::vector<float> hx = IntegerFloats(1), hy = IntegerFloats(2);
  std::vector<float> out = std::vector<float>(kN, -100.0f);
  float two = 2.0f, half = 0.5f;
  uint32_t n = kN;
};

TEST_P(GraphTest, ReplayMatchesDirectExecution) {
  auto queue = [&](Sequence& s) {
    const float one = 1.0f;
    ASSERT_PORTA_OK(porta_copy_host_to_device(stream_.get(), s.x.get(), 0, s.hx.data(), kBytes));
    ASSERT_PORTA_OK(porta_copy_host_to_device(stream_.get(), s.y.get(), 0, s.hy.data(), kBytes));
    ASSERT_PORTA_OK(porta_fill_buffer(stream_.get(), s.z.get(), 0, kBytes, &one, 4));
    ASSERT_PORTA_OK(ScaleAdd(stream_.get(), s.y.get(), s.x.get(), &s.two, &s.n));
    ASSERT_PORTA_OK(ScaleAdd(stream_.get(), s.z.get(), s.y.get(), &s.half, &s.n));
    ASSERT_PORTA_OK(porta_event_record(s.event.get(), stream_.get()));
    ASSERT_PORTA_OK(porta_stream_wait_event(stream_.get(), s.event.get()));
    ASSERT_PORTA_OK(porta_copy_device_to_device(stream_.get(), s.w.get(), 0, s.z.get(), 0, kBytes));
    ASSERT_PORTA_OK(porta_copy_device_to_host(stream_.get(), s.out.data(), s.w.get(), 0, kBytes));
  };
  Sequence direct, captured;
  for (Sequence* s : {&direct, &captured}) {
    for (BufferHandle* b : {&s->x, &s->y, &s->z, &s->w}) Alloc(b);
    ASSERT_PORTA_OK(porta_event_create(device_, PORTA_EVENT_DEFAULT, s->event.out()));
  }
  SyncOnExit sync(stream_.get());
  queue(direct);
  if (HasFatalFailure()) return;
  ASSERT_PORTA_OK(porta_stream_synchronize(stream_.get()));

  GraphHandle graph;
  Capture(&graph, [&] { queue(captured); });
  if (HasFatalFailure()) return;
  ASSERT_PORTA_OK(porta_stream_synchronize(stream_.get()));
  EXPECT_EQ(captured.out, std::vector<float>(kN, -100.0f)) << "captured work ran during capture";

  const porta_graph_node_kind_t kinds[] = {PORTA_GRAPH_NODE_COPY_HOST_TO_DEVICE,
                                           PORTA_GRAPH_NODE_COPY_HOST_TO_DEVICE,
                                           PORTA_GRAPH_NODE_FILL,
                                           PORTA_GRAPH_NODE_KERNEL,
                                           PORTA_GRAPH_NODE_KERNEL,
                                           PORTA_GRAPH_NODE_EVENT_RECORD,
                                           PORTA_GRAPH_NODE_EVENT_WAIT,
                                           PORTA_GRAPH_NODE_COPY_DEVICE_TO_DEVICE,
                                           PORTA_GRAPH_NODE_COPY_DEVICE_TO_HOST};
  uint32_t count = 0;
  ASSERT_PORTA_OK(porta_graph_node_count(graph.get(), &count));
  ASSERT_EQ(count, std::size(kinds));
  for (uint32_t i = 0; i < count; ++i) {
    porta_graph_node_kind_t kind{};
    ASSERT_PORTA_OK(porta_graph_node_kind(graph.get(), i, &kind));
    EXPECT_EQ(kind, kinds[i]) << "node " << i;
  }

  ExecHandle exec;
  ASSERT_PORTA_OK(porta_graph_instantiate(graph.get(), exec.out()));
  // The fill and the two launches are the only run of device-side nodes a native graph may take.
  uint32_t native = 99;
  ASSERT_PORTA_OK(porta_graph_exec_native_node_count(exec.get(), &native));
  EXPECT_EQ(native, Native(3)) << "PORTA_CAP_NATIVE_GRAPHS says how the instance replays";
  ASSERT_PORTA_OK(porta_graph_launch(exec.get(), stream_.get()));
  ASSERT_PORTA_OK(porta_stream_synchronize(stream_.get()));
  // The replay recorded the event on the stream; it has completed.
  EXPECT_PORTA_OK(porta_event_query(captured.event.get()));
  EXPECT_EQ(captured.out, direct.out);
  for (uint32_t i = 0; i < kN; ++i) {
    const float expected = 0.5f * (2.0f * direct.hx[i] + direct.hy[i]) + 1.0f;
    ASSERT_EQ(captured.out[i], expected) << "element " << i;
  }
}

TEST_P(GraphTest, ReplaysRepeatAndReadHostMemoryAtReplayTime) {
  BufferHandle x, y;
  Alloc(&x);
  Alloc(&y);
  std::vector<float> hx = IntegerFloats(3);
  const float one = 1.0f, zero = 0.0f;
  const uint32_t n = kN;
  SyncOnExit sync(stream_.get());
  ASSERT_PORTA_OK(porta_fill_buffer(stream_.get(), y.get(), 0, kBytes, &zero, 4));
  GraphHandle graph;
  Capture(&graph, [&] {
    ASSERT_PORTA_OK(porta_copy_host_to_device(stream_.get(), x.get(), 0, hx.data(), kBytes));
    ASSERT_PORTA_OK(ScaleAdd(stream_.get(), y.get(), x.get(), &one, &n));
  });
  if (HasFatalFailure()) return;
  ExecHandle exec;
  ASSERT_PORTA_OK(porta_graph_instantiate(graph.get(), exec.out()));
  constexpr int kReplays = 40;
  std::vector<float> expected(kN, 0.0f);
  for (int r = 0; r < kReplays; ++r) {
    // The copy node reads hx when the replay runs, so each replay adds the current contents.
    for (uint32_t i = 0; i < kN; ++i) hx[i] = static_cast<float>((i + r) % 5);
    for (uint32_t i = 0; i < kN; ++i) expected[i] += hx[i];
    ASSERT_PORTA_OK(porta_graph_launch(exec.get(), stream_.get()));
    ASSERT_PORTA_OK(porta_stream_synchronize(stream_.get()));
  }
  // Queued back to back without a synchronize in between, too.
  for (uint32_t i = 0; i < kN; ++i) expected[i] += 10 * hx[i];
  for (int r = 0; r < 10; ++r) ASSERT_PORTA_OK(porta_graph_launch(exec.get(), stream_.get()));
  std::vector<float> read(kN);
  ASSERT_TRUE(ReadBuffer(stream_.get(), y.get(), 0, kBytes, read.data()));
  EXPECT_EQ(read, expected);
}

TEST_P(GraphTest, ReplayOnAnotherStreamAndEmptyGraph) {
  BufferHandle x, y;
  Alloc(&x);
  Alloc(&y);
  const std::vector<float> hx = IntegerFloats(4);
  const float three = 3.0f, zero = 0.0f;
  const uint32_t n = kN;
  SyncOnExit sync(stream_.get());
  ASSERT_PORTA_OK(porta_copy_host_to_device(stream_.get(), x.get(), 0, hx.data(), kBytes));
  ASSERT_PORTA_OK(porta_stream_synchronize(stream_.get()));
  GraphHandle graph;
  Capture(&graph, [&] {
    ASSERT_PORTA_OK(porta_fill_buffer(stream_.get(), y.get(), 0, kBytes, &zero, 4));
    ASSERT_PORTA_OK(ScaleAdd(stream_.get(), y.get(), x.get(), &three, &n));
  });
  if (HasFatalFailure()) return;
  ExecHandle exec;
  ASSERT_PORTA_OK(porta_graph_instantiate(graph.get(), exec.out()));
  StreamHandle other;
  ASSERT_PORTA_OK(porta_stream_create(device_, other.out()));
  SyncOnExit sync_other(other.get());
  ASSERT_PORTA_OK(porta_graph_launch(exec.get(), other.get()));
  std::vector<float> read(kN);
  ASSERT_TRUE(ReadBuffer(other.get(), y.get(), 0, kBytes, read.data()));
  for (uint32_t i = 0; i < kN; ++i) ASSERT_EQ(read[i], 3.0f * hx[i]) << "element " << i;

  GraphHandle empty;
  Capture(&empty, [] {});
  if (HasFatalFailure()) return;
  uint32_t count = 1;
  ASSERT_PORTA_OK(porta_graph_node_count(empty.get(), &count));
  EXPECT_EQ(count, 0u);
  ExecHandle empty_exec;
  ASSERT_PORTA_OK(porta_graph_instantiate(empty.get(), empty_exec.out()));
  EXPECT_PORTA_OK(porta_graph_launch(empty_exec.get(), other.get()));
  EXPECT_PORTA_OK(porta_stream_synchronize(other.get()));
}

TEST_P(GraphTest, ArgumentUpdateChangesTheResult) {
  BufferHandle x, y1, y2;
  Alloc(&x);
  Alloc(&y1);
  Alloc(&y2);
  const std::vector<float> hx = IntegerFloats(5);
  const float one = 1.0f, zero = 0.0f;
  const uint32_t n = kN;
  SyncOnExit sync(stream_.get());
  ASSERT_PORTA_OK(porta_copy_host_to_device(stream_.get(), x.get(), 0, hx.data(), kBytes));
  for (porta_buffer_t y : {y1.get(), y2.get()}) {
    ASSERT_PORTA_OK(porta_fill_buffer(stream_.get(), y, 0, kBytes, &zero, 4));
  }
  ASSERT_PORTA_OK(porta_stream_synchronize(stream_.get()));
  GraphHandle graph;
  Capture(&graph, [&] { ASSERT_PORTA_OK(ScaleAdd(stream_.get(), y1.get(), x.get(), &one, &n)); });
  if (HasFatalFailure()) return;
  ExecHandle exec;
  ASSERT_PORTA_OK(porta_graph_instantiate(graph.get(), exec.out()));
  ASSERT_PORTA_OK(porta_graph_launch(exec.get(), stream_.get()));

  // New buffer and new scalars: y2 = 4 * x over the first half only; y1 keeps one replay's x.
  const float four = 4.0f;
  const uint32_t half = kN / 2;
  const porta_kernel_arg_t args[] = {porta_arg_buffer(y2.get(), 0), porta_arg_buffer(x.get(), 0),
                                     porta_arg_scalar(&four, 4), porta_arg_scalar(&half, 4)};
  ASSERT_PORTA_OK(porta_graph_exec_update_kernel_args(exec.get(), 0, args, 4));
  ASSERT_PORTA_OK(porta_graph_launch(exec.get(), stream_.get()));
  std::vector<float> r1(kN), r2(kN);
  ASSERT_TRUE(ReadBuffer(stream_.get(), y1.get(), 0, kBytes, r1.data()));
  ASSERT_TRUE(ReadBuffer(stream_.get(), y2.get(), 0, kBytes, r2.data()));
  for (uint32_t i = 0; i < kN; ++i) {
    ASSERT_EQ(r1[i], hx[i]) << "y1 element " << i;
    ASSERT_EQ(r2[i], i < half ? 4.0f * hx[i] : 0.0f) << "y2 element " << i;
  }
  // The graph itself still holds the captured arguments.
  ExecHandle fresh;
  ASSERT_PORTA_OK(porta_graph_instantiate(graph.get(), fresh.out()));
  ASSERT_PORTA_OK(porta_graph_launch(fresh.get(), stream_.get()));
  ASSERT_TRUE(ReadBuffer(stream_.get(), y1.get(), 0, kBytes, r1.data()));
  for (uint32_t i = 0; i < kN; ++i) ASSERT_EQ(r1[i], 2.0f * hx[i]) << "y1 element " << i;
}

TEST_P(GraphTest, InstanceOutlivesGraphAndFreedHandles) {
  const std::vector<float> hx = IntegerFloats(6);
  std::vector<float> out(kN, -1.0f);
  const float two = 2.0f, zero = 0.0f;
  const uint32_t n = kN;
  ExecHandle exec;
  {
    BufferHandle x, y;
    Alloc(&x);
    Alloc(&y);
    ModuleHandle module;
    porta_kernel_t kernel = nullptr;
    ASSERT_PORTA_OK(LoadTestKernel(device_, "scale_add", &module, &kernel));
    GraphHandle graph;
    const porta_launch_config_t config = Config();
    const porta_kernel_arg_t args[] = {porta_arg_buffer(y.get(), 0), porta_arg_buffer(x.get(), 0),
                                       porta_arg_scalar(&two, 4), porta_arg_scalar(&n, 4)};
    Capture(&graph, [&] {
      ASSERT_PORTA_OK(porta_copy_host_to_device(stream_.get(), x.get(), 0, hx.data(), kBytes));
      ASSERT_PORTA_OK(porta_fill_buffer(stream_.get(), y.get(), 0, kBytes, &zero, 4));
      ASSERT_PORTA_OK(porta_kernel_launch(stream_.get(), kernel, &config, args, 4));
      ASSERT_PORTA_OK(porta_copy_device_to_host(stream_.get(), out.data(), y.get(), 0, kBytes));
    });
    if (HasFatalFailure()) return;
    ASSERT_PORTA_OK(porta_graph_instantiate(graph.get(), exec.out()));
    // Everything the instance uses loses its application handle here.
    EXPECT_PORTA_OK(porta_graph_destroy(graph.release()));
    EXPECT_PORTA_OK(porta_buffer_free(x.release()));
    EXPECT_PORTA_OK(porta_buffer_free(y.release()));
    EXPECT_PORTA_OK(porta_module_destroy(module.release()));
  }
  SyncOnExit sync(stream_.get());
  for (int r = 0; r < 2; ++r) {
    std::fill(out.begin(), out.end(), -1.0f);
    ASSERT_PORTA_OK(porta_graph_launch(exec.get(), stream_.get()));
    ASSERT_PORTA_OK(porta_stream_synchronize(stream_.get()));
    for (uint32_t i = 0; i < kN; ++i) ASSERT_EQ(out[i], 2.0f * hx[i]) << "element " << i;
  }
  // Destroying the instance with a replay queued is safe: the replay keeps what it uses.
  ASSERT_PORTA_OK(porta_graph_launch(exec.get(), stream_.get()));
  EXPECT_PORTA_OK(porta_graph_exec_destroy(exec.release()));
  ASSERT_PORTA_OK(porta_stream_synchronize(stream_.get()));
  for (uint32_t i = 0; i < kN; ++i) ASSERT_EQ(out[i], 2.0f * hx[i]) << "element " << i;
}

// A pool buffer that an instance uses and the application frees in stream order keeps its
// memory for the instance: the pool does not hand it to the next allocation of that size.
TEST_P(GraphTest, PoolBufferFreedInStreamOrderStaysWithTheInstance) {
  porta_buffer_t used = nullptr;
  ASSERT_PORTA_OK(porta_buffer_alloc_async(stream_.get(), kBytes, PORTA_MEMORY_DEVICE, &used));
  const float five = 5.0f, one = 1.0f;
  GraphHandle graph;
  Capture(&graph, [&] {
    ASSERT_PORTA_OK(porta_fill_buffer(stream_.get(), used, 0, kBytes, &five, sizeof(five)));
  });
  if (HasFatalFailure()) return;
  ExecHandle exec;
  ASSERT_PORTA_OK(porta_graph_instantiate(graph.get(), exec.out()));
  EXPECT_PORTA_OK(porta_graph_destroy(graph.release()));
  ASSERT_PORTA_OK(porta_buffer_free_async(stream_.get(), used));
  // The same size on the same stream: a pool hit would be the freed block.
  porta_buffer_t next = nullptr;
  ASSERT_PORTA_OK(porta_buffer_alloc_async(stream_.get(), kBytes, PORTA_MEMORY_DEVICE, &next));
  ASSERT_PORTA_OK(porta_fill_buffer(stream_.get(), next, 0, kBytes, &one, sizeof(one)));
  ASSERT_PORTA_OK(porta_graph_launch(exec.get(), stream_.get()));
  std::vector<float> read(kN, 0.0f);
  ASSERT_TRUE(ReadBuffer(stream_.get(), next, 0, kBytes, read.data()));
  for (uint32_t i = 0; i < kN; ++i) {
    ASSERT_EQ(read[i], 1.0f) << "element " << i << ": the replay wrote into the new buffer";
  }
  EXPECT_PORTA_OK(porta_buffer_free_async(stream_.get(), next));
  EXPECT_PORTA_OK(porta_graph_exec_destroy(exec.release()));
  EXPECT_PORTA_OK(porta_stream_synchronize(stream_.get()));
}

TEST_P(GraphTest, IllegalCallsInvalidateTheCaptureAndTheStreamStaysUsable) {
  BufferHandle x, y;
  Alloc(&x);
  Alloc(&y);
  const float one = 1.0f;
  const uint32_t n = kN;
  EventHandle event;
  ASSERT_PORTA_OK(porta_event_create(device_, PORTA_EVENT_DEFAULT, event.out()));
  StreamHandle other;
  ASSERT_PORTA_OK(porta_stream_create(device_, other.out()));
  GraphHandle graph;
  ExecHandle exec;
  Capture(&graph, [&] { ASSERT_PORTA_OK(ScaleAdd(stream_.get(), y.get(), x.get(), &one, &n)); });
  if (HasFatalFailure()) return;
  ASSERT_PORTA_OK(porta_graph_instantiate(graph.get(), exec.out()));
  // A pool buffer allocated before the captures, whose stream-ordered free a capture refuses.
  porta_buffer_t pooled = nullptr;
  ASSERT_PORTA_OK(porta_buffer_alloc_async(stream_.get(), kBytes, PORTA_MEMORY_DEVICE, &pooled));
  porta_buffer_t never = nullptr;

  // Each case: begin, a legal node, the illegal call, a call after it, then end_capture.
  struct Case {
    const char* name;
    std::function<porta_status_t()> illegal;
    const char* needle;
  };
  const Case cases[] = {
      {"synchronize", [&] { return porta_stream_synchronize(stream_.get()); }, "synchroniz"},
      {"query", [&] { return porta_stream_query(stream_.get()); }, "query"},
      {"graph launch", [&] { return porta_graph_launch(exec.get(), stream_.get()); },
       "graph instance"},
      {"buffer free", [&] { return porta_buffer_free(x.get()); }, "buffer"},
      {"event wait from the host",
       [&] {
         porta_status_t status = porta_event_record(event.get(), stream_.get());
         return status != PORTA_OK ? status : porta_event_wait(event.get(), UINT64_MAX);
       },
       "outside"},
      {"event query from the host",
       [&] {
         porta_status_t status = porta_event_record(event.get(), stream_.get());
         return status != PORTA_OK ? status : porta_event_query(event.get());
       },
       "outside"},
      {"stream wait on another stream",
       [&] {
         porta_status_t status = porta_event_record(event.get(), stream_.get());
         return status != PORTA_OK ? status : porta_stream_wait_event(other.get(), event.get());
       },
       "outside"},
      {"stream-ordered allocation",
       [&] { return porta_buffer_alloc_async(stream_.get(), kBytes, PORTA_MEMORY_DEVICE, &never); },
       "stream-ordered"},
      {"stream-ordered free", [&] { return porta_buffer_free_async(stream_.get(), pooled); },
       "stream-ordered"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    ASSERT_PORTA_OK(porta_stream_begin_capture(stream_.get()));
    ASSERT_PORTA_OK(ScaleAdd(stream_.get(), y.get(), x.get(), &one, &n));
    EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_OPERATION, c.needle, c.illegal());
    int32_t capturing = 0;
    EXPECT_PORTA_OK(porta_stream_is_capturing(stream_.get(), &capturing));
    EXPECT_EQ(capturing, 1) << "an invalidated capture stays open until it is ended";
    EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_OPERATION, "invalidated",
                       ScaleAdd(stream_.get(), y.get(), x.get(), &one, &n));
    GraphHandle failed;
    EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_OPERATION, c.needle,
                       porta_stream_end_capture(stream_.get(), failed.out()));
    EXPECT_EQ(failed.get(), nullptr);
    ExpectStreamUsable();
    if (HasFatalFailure()) return;
  }
  // The refused frees left the buffers alive, the refused allocation made none; the event is
  // usable again once recorded outside.
  uint64_t size = 0;
  EXPECT_PORTA_OK(porta_buffer_size(x.get(), &size));
  EXPECT_PORTA_OK(porta_buffer_size(pooled, &size));
  EXPECT_EQ(never, nullptr);
  EXPECT_PORTA_OK(porta_buffer_free_async(stream_.get(), pooled));
  EXPECT_PORTA_OK(porta_event_record(event.get(), stream_.get()));
  EXPECT_PORTA_OK(porta_event_wait(event.get(), UINT64_MAX));

  // Beginning twice and ending without a capture are errors that do not break anything.
  ASSERT_PORTA_OK(porta_stream_begin_capture(stream_.get()));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_OPERATION, "already capturing",
                     porta_stream_begin_capture(stream_.get()));
  ASSERT_PORTA_OK(ScaleAdd(stream_.get(), y.get(), x.get(), &one, &n));
  GraphHandle ok;
  EXPECT_PORTA_OK(porta_stream_end_capture(stream_.get(), ok.out()));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_OPERATION, "not capturing",
                     porta_stream_end_capture(stream_.get(), ok.out()));
  // Work on another stream is not captured, and a capturing stream can be destroyed.
  StreamHandle doomed;
  ASSERT_PORTA_OK(porta_stream_create(device_, doomed.out()));
  ASSERT_PORTA_OK(porta_stream_begin_capture(doomed.get()));
  ASSERT_PORTA_OK(ScaleAdd(doomed.get(), y.get(), x.get(), &one, &n));
  ASSERT_PORTA_OK(porta_copy_device_to_device(other.get(), y.get(), 0, x.get(), 0, kBytes));
  EXPECT_PORTA_OK(porta_stream_synchronize(other.get()));
  EXPECT_PORTA_OK(porta_stream_destroy(doomed.release()));
  ExpectStreamUsable();
}

TEST_P(GraphTest, CrossDeviceWorkCannotBeCaptured) {
  PORTA_CTS_REQUIRE_DEVICES(2);
  const porta_device_t peer = OtherDevices(device_).front();
  BufferHandle local, remote;
  Alloc(&local);
  ASSERT_PORTA_OK(porta_buffer_alloc(peer, kBytes, PORTA_MEMORY_DEVICE, remote.out()));
  EventHandle peer_event;
  ASSERT_PORTA_OK(porta_event_create(peer, PORTA_EVENT_DEFAULT, peer_event.out()));
  ASSERT_PORTA_OK(porta_stream_begin_capture(stream_.get()));
  EXPECT_PORTA_ERROR(
      PORTA_ERROR_INVALID_OPERATION, "two devices",
      porta_copy_device_to_device(stream_.get(), local.get(), 0, remote.get(), 0, kBytes));
  GraphHandle graph;
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_OPERATION, "two devices",
                     porta_stream_end_capture(stream_.get(), graph.out()));
  ASSERT_PORTA_OK(porta_stream_begin_capture(stream_.get()));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_OPERATION, "another device",
                     porta_stream_wait_event(stream_.get(), peer_event.get()));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_OPERATION, "another device",
                     porta_stream_end_capture(stream_.get(), graph.out()));
  ExpectStreamUsable();
  if (HasFatalFailure()) return;
  // An instance replays only on streams of the device it was captured on.
  const float zero = 0.0f;
  Capture(&graph, [&] {
    ASSERT_PORTA_OK(porta_fill_buffer(stream_.get(), local.get(), 0, kBytes, &zero, 4));
  });
  if (HasFatalFailure()) return;
  ExecHandle exec;
  ASSERT_PORTA_OK(porta_graph_instantiate(graph.get(), exec.out()));
  StreamHandle peer_stream;
  ASSERT_PORTA_OK(porta_stream_create(peer, peer_stream.out()));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "device",
                     porta_graph_launch(exec.get(), peer_stream.get()));
}

TEST_P(GraphTest, BadInputIsRefused) {
  BufferHandle x, y;
  Alloc(&x);
  Alloc(&y);
  const float one = 1.0f, zero = 0.0f;
  const uint32_t n = kN;
  GraphHandle graph;
  Capture(&graph, [&] {
    ASSERT_PORTA_OK(porta_fill_buffer(stream_.get(), y.get(), 0, kBytes, &zero, 4));
    ASSERT_PORTA_OK(ScaleAdd(stream_.get(), y.get(), x.get(), &one, &n));
  });
  if (HasFatalFailure()) return;
  ExecHandle exec;
  ASSERT_PORTA_OK(porta_graph_instantiate(graph.get(), exec.out()));
  auto* as_graph = reinterpret_cast<porta_graph_t>(stream_.get());
  auto* as_exec = reinterpret_cast<porta_graph_exec_t>(graph.get());
  uint32_t count = 0;
  porta_graph_node_kind_t kind{};
  int32_t capturing = 0;

  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "stream", porta_stream_begin_capture(nullptr));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "stream",
                     porta_stream_is_capturing(nullptr, &capturing));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "stream",
                     porta_stream_end_capture(nullptr, nullptr));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "out_graph",
                     porta_stream_end_capture(stream_.get(), nullptr));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "out_capturing",
                     porta_stream_is_capturing(stream_.get(), nullptr));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "porta_stream_t",
                     porta_graph_node_count(as_graph, &count));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "porta_graph_t",
                     porta_graph_launch(as_exec, stream_.get()));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "graph", porta_graph_destroy(nullptr));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "exec", porta_graph_exec_destroy(nullptr));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "stream", porta_graph_launch(exec.get(), nullptr));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "out_count",
                     porta_graph_node_count(graph.get(), nullptr));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "out_kind",
                     porta_graph_node_kind(graph.get(), 0, nullptr));
  EXPECT_PORTA_ERROR(PORTA_ERROR_OUT_OF_RANGE, "index 2",
                     porta_graph_node_kind(graph.get(), 2, &kind));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "out_exec",
                     porta_graph_instantiate(graph.get(), nullptr));
  EXPECT_PORTA_OK(porta_stream_is_capturing(stream_.get(), &capturing));
  EXPECT_EQ(capturing, 0);

  const float two = 2.0f;
  const uint16_t short_n = 5;
  const porta_kernel_arg_t good[] = {porta_arg_buffer(y.get(), 0), porta_arg_buffer(x.get(), 0),
                                     porta_arg_scalar(&two, 4), porta_arg_scalar(&n, 4)};
  porta_kernel_arg_t args[4];
  auto update = [&](uint32_t node, uint32_t arg_count) {
    return porta_graph_exec_update_kernel_args(exec.get(), node, args, arg_count);
  };
  std::copy(std::begin(good), std::end(good), args);
  EXPECT_PORTA_ERROR(PORTA_ERROR_OUT_OF_RANGE, "node 2", update(2, 4));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "not a kernel node", update(0, 4));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "4 arguments", update(1, 3));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "args is NULL",
                     porta_graph_exec_update_kernel_args(exec.get(), 1, nullptr, 4));
  args[0] = porta_arg_scalar(&two, 4);
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "args[0]", update(1, 4));
  std::copy(std::begin(good), std::end(good), args);
  args[2] = porta_arg_buffer(x.get(), 0);
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "args[2]", update(1, 4));
  std::copy(std::begin(good), std::end(good), args);
  args[3] = porta_arg_scalar(&short_n, 2);
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "4-byte scalar", update(1, 4));
  std::copy(std::begin(good), std::end(good), args);
  args[1].offset = kBytes;
  EXPECT_PORTA_ERROR(PORTA_ERROR_OUT_OF_RANGE, "args[1].offset", update(1, 4));
  std::copy(std::begin(good), std::end(good), args);
  args[1].buffer = reinterpret_cast<porta_buffer_t>(stream_.get());
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "args[1].buffer", update(1, 4));
  std::copy(std::begin(good), std::end(good), args);
  std::memset(&args[0].kind, 0x7f, sizeof(args[0].kind));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "args[0].kind", update(1, 4));

  // A refused update leaves the captured arguments: one replay gives y = 1 * x + 0.
  const std::vector<float> hx = IntegerFloats(7);
  SyncOnExit sync(stream_.get());
  ASSERT_PORTA_OK(porta_copy_host_to_device(stream_.get(), x.get(), 0, hx.data(), kBytes));
  ASSERT_PORTA_OK(porta_graph_launch(exec.get(), stream_.get()));
  std::vector<float> read(kN);
  ASSERT_TRUE(ReadBuffer(stream_.get(), y.get(), 0, kBytes, read.data()));
  EXPECT_EQ(read, hx);
}

TEST_P(GraphTest, ThreadsReplaySeparateInstances) {
  constexpr int kThreads = 4, kReplays = 25;
  BufferHandle x, y0;
  Alloc(&x);
  Alloc(&y0);
  const std::vector<float> hx = IntegerFloats(8);
  const float one = 1.0f;
  const uint32_t n = kN;
  ASSERT_PORTA_OK(porta_copy_host_to_device(stream_.get(), x.get(), 0, hx.data(), kBytes));
  ASSERT_PORTA_OK(porta_stream_synchronize(stream_.get()));
  GraphHandle graph;
  Capture(&graph, [&] { ASSERT_PORTA_OK(ScaleAdd(stream_.get(), y0.get(), x.get(), &one, &n)); });
  if (HasFatalFailure()) return;
  // One instance, stream and output per thread; each thread's scalar differs.
  std::vector<BufferHandle> outputs(kThreads);
  std::vector<ExecHandle> execs(kThreads);
  std::vector<StreamHandle> streams(kThreads);
  std::vector<float> alphas(kThreads);
  const float zero = 0.0f;
  for (int t = 0; t < kThreads; ++t) {
    Alloc(&outputs[t]);
    ASSERT_PORTA_OK(porta_stream_create(device_, streams[t].out()));
    ASSERT_PORTA_OK(porta_fill_buffer(streams[t].get(), outputs[t].get(), 0, kBytes, &zero, 4));
    ASSERT_PORTA_OK(porta_graph_instantiate(graph.get(), execs[t].out()));
    alphas[t] = static_cast<float>(t + 1);
    const porta_kernel_arg_t args[] = {porta_arg_buffer(outputs[t].get(), 0),
                                       porta_arg_buffer(x.get(), 0),
                                       porta_arg_scalar(&alphas[t], 4), porta_arg_scalar(&n, 4)};
    ASSERT_PORTA_OK(porta_graph_exec_update_kernel_args(execs[t].get(), 0, args, 4));
  }
  std::vector<std::string> failures(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int r = 0; r < kReplays && failures[t].empty(); ++r) {
        porta_status_t status = porta_graph_launch(execs[t].get(), streams[t].get());
        if (status == PORTA_OK && r % 5 == 4) status = porta_stream_synchronize(streams[t].get());
        if (status != PORTA_OK) {
          failures[t] = "thread " + std::to_string(t) + " replay " + std::to_string(r) + ": " +
                        porta_last_error_message();
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_TRUE(failures[t].empty()) << failures[t];
    std::vector<float> read(kN);
    ASSERT_TRUE(ReadBuffer(streams[t].get(), outputs[t].get(), 0, kBytes, read.data()));
    for (uint32_t i = 0; i < kN; ++i) {
      ASSERT_EQ(read[i], kReplays * alphas[t] * hx[i]) << "thread " << t << " element " << i;
    }
  }
}

// A chain of kLaunches launches y += alpha * x: one run of device-side nodes, so a backend with
// native graphs replays it as one. Updates to the first and last node after kReplays replays were
// queued must apply to the next kReplays replays only. On a device that can run the gate it holds
// the first replays queued until the updates are made; elsewhere they are queued behind
// each other and most are still queued when the updates arrive.
TEST_P(GraphTest, NativeRunUpdatesApplyToLaterReplaysOnly) {
  constexpr uint32_t kLaunches = 16, kReplays = 8;
  BufferHandle x, y, y2;
  Alloc(&x);
  Alloc(&y);
  Alloc(&y2);
  const std::vector<float> hx = IntegerFloats(3);
  const float zero = 0.0f, one = 1.0f, two = 2.0f;
  const uint32_t n = kN;
  Gate gate;
  const bool gated = GateApplies(device_);
  if (gated) {
    ASSERT_TRUE(gate.Load(device_));
  }
  SyncOnExit sync(stream_.get(), gated ? &gate : nullptr);
  ASSERT_PORTA_OK(porta_copy_host_to_device(stream_.get(), x.get(), 0, hx.data(), kBytes));
  for (porta_buffer_t b : {y.get(), y2.get()}) {
    ASSERT_PORTA_OK(porta_fill_buffer(stream_.get(), b, 0, kBytes, &zero, 4));
  }
  ASSERT_PORTA_OK(porta_stream_synchronize(stream_.get()));
  GraphHandle graph;
  Capture(&graph, [&] {
    for (uint32_t i = 0; i < kLaunches; ++i) {
      ASSERT_PORTA_OK(ScaleAdd(stream_.get(), y.get(), x.get(), &one, &n));
    }
  });
  if (HasFatalFailure()) return;
  ExecHandle exec;
  ASSERT_PORTA_OK(porta_graph_instantiate(graph.get(), exec.out()));
  uint32_t native = 99;
  ASSERT_PORTA_OK(porta_graph_exec_native_node_count(exec.get(), &native));
  EXPECT_EQ(native, Native(kLaunches)) << "PORTA_CAP_NATIVE_GRAPHS says how the instance replays";
  RecordProperty("native_nodes", static_cast<int>(native));

  if (gated) {
    ASSERT_PORTA_OK(gate.Close(stream_.get()));
  }
  for (uint32_t r = 0; r < kReplays; ++r) {
    ASSERT_PORTA_OK(porta_graph_launch(exec.get(), stream_.get()));
  }
  // Node 0 now adds 2 * x; the last node adds into y2 instead of y.
  const porta_kernel_arg_t first[] = {porta_arg_buffer(y.get(), 0), porta_arg_buffer(x.get(), 0),
                                      porta_arg_scalar(&two, 4), porta_arg_scalar(&n, 4)};
  const porta_kernel_arg_t last[] = {porta_arg_buffer(y2.get(), 0), porta_arg_buffer(x.get(), 0),
                                     porta_arg_scalar(&one, 4), porta_arg_scalar(&n, 4)};
  ASSERT_PORTA_OK(porta_graph_exec_update_kernel_args(exec.get(), 0, first, 4));
  ASSERT_PORTA_OK(porta_graph_exec_update_kernel_args(exec.get(), kLaunches - 1, last, 4));
  uint32_t native_after = 99;
  ASSERT_PORTA_OK(porta_graph_exec_native_node_count(exec.get(), &native_after));
  EXPECT_EQ(native_after, native) << "an argument update changed how the instance replays";
  for (uint32_t r = 0; r < kReplays; ++r) {
    ASSERT_PORTA_OK(porta_graph_launch(exec.get(), stream_.get()));
  }
  if (gated) gate.Open();
  ASSERT_PORTA_OK(porta_stream_synchronize(stream_.get()));
  std::vector<float> ry(kN), ry2(kN);
  ASSERT_TRUE(ReadBuffer(stream_.get(), y.get(), 0, kBytes, ry.data()));
  ASSERT_TRUE(ReadBuffer(stream_.get(), y2.get(), 0, kBytes, ry2.data()));
  // Before the updates: kLaunches per replay. After: 2 + (kLaunches - 2) into y, 1 into y2.
  const float per_x = static_cast<float>(kReplays * kLaunches + kReplays * kLaunches);
  for (uint32_t i = 0; i < kN; ++i) {
    ASSERT_EQ(ry[i], per_x * hx[i]) << "y element " << i;
    ASSERT_EQ(ry2[i], static_cast<float>(kReplays) * hx[i]) << "y2 element " << i;
  }
}

// A stream may change how it queues work once an event on it is timed (OpenCL moves to a
// profiling queue); replays before and after that, and timing around a replay, must work.
TEST_P(GraphTest, ReplaysBeforeAndAfterTheStreamIsTimed) {
  BufferHandle x, y;
  Alloc(&x);
  Alloc(&y);
  const std::vector<float> hx = IntegerFloats(6);
  const float zero = 0.0f, one = 1.0f;
  const uint32_t n = kN;
  SyncOnExit sync(stream_.get());
  ASSERT_PORTA_OK(porta_copy_host_to_device(stream_.get(), x.get(), 0, hx.data(), kBytes));
  ASSERT_PORTA_OK(porta_fill_buffer(stream_.get(), y.get(), 0, kBytes, &zero, 4));
  ASSERT_PORTA_OK(porta_stream_synchronize(stream_.get()));
  GraphHandle graph;
  Capture(&graph, [&] {
    ASSERT_PORTA_OK(ScaleAdd(stream_.get(), y.get(), x.get(), &one, &n));
    ASSERT_PORTA_OK(ScaleAdd(stream_.get(), y.get(), x.get(), &one, &n));
  });
  if (HasFatalFailure()) return;
  ExecHandle exec;
  ASSERT_PORTA_OK(porta_graph_instantiate(graph.get(), exec.out()));
  ASSERT_PORTA_OK(porta_graph_launch(exec.get(), stream_.get()));
  ASSERT_PORTA_OK(porta_stream_synchronize(stream_.get()));
  const bool timed = (info_.capabilities & PORTA_CAP_TIMESTAMPS) != 0;
  EventHandle start, end;
  if (timed) {
    ASSERT_PORTA_OK(porta_event_create(device_, PORTA_EVENT_DEFAULT, start.out()));
    ASSERT_PORTA_OK(porta_event_create(device_, PORTA_EVENT_DEFAULT, end.out()));
    ASSERT_PORTA_OK(porta_event_record(start.get(), stream_.get()));
  }
  ASSERT_PORTA_OK(porta_graph_launch(exec.get(), stream_.get()));
  if (timed) {
    ASSERT_PORTA_OK(porta_event_record(end.get(), stream_.get()));
  }
  ASSERT_PORTA_OK(porta_graph_launch(exec.get(), stream_.get()));
  ASSERT_PORTA_OK(porta_stream_synchronize(stream_.get()));
  if (timed) {
    float ms = -1.0f;
    ASSERT_PORTA_OK(porta_event_elapsed_ms(start.get(), end.get(), &ms));
    EXPECT_GE(ms, 0.0f);
  }
  std::vector<float> read(kN);
  ASSERT_TRUE(ReadBuffer(stream_.get(), y.get(), 0, kBytes, read.data()));
  for (uint32_t i = 0; i < kN; ++i) ASSERT_EQ(read[i], 6.0f * hx[i]) << "element " << i;
}

// Direct launches queued right before and after a replay, with another work-group size than the
// graph's launches, must run with their own launch shape: a backend must not carry state it
// bound for the graph's commands (or before them) across a native replay.
TEST_P(GraphTest, DirectLaunchesAroundAReplayKeepTheirOwnShape) {
  const uint32_t other_block = block_ > 1 ? block_ / 2 : 1;
  BufferHandle x, y;
  Alloc(&x);
  Alloc(&y);
  const std::vector<float> hx = IntegerFloats(7);
  const float zero = 0.0f, one = 1.0f, two = 2.0f, four = 4.0f, eight = 8.0f;
  const uint32_t n = kN;
  SyncOnExit sync(stream_.get());
  ASSERT_PORTA_OK(porta_copy_host_to_device(stream_.get(), x.get(), 0, hx.data(), kBytes));
  ASSERT_PORTA_OK(porta_fill_buffer(stream_.get(), y.get(), 0, kBytes, &zero, 4));
  ASSERT_PORTA_OK(porta_stream_synchronize(stream_.get()));
  porta_launch_config_t config = PORTA_LAUNCH_CONFIG_INIT;
  config.block[0] = other_block;
  config.grid[0] = (kN + other_block - 1) / other_block;
  auto other_shape = [&](const float* alpha) {
    const porta_kernel_arg_t args[] = {porta_arg_buffer(y.get(), 0), porta_arg_buffer(x.get(), 0),
                                       porta_arg_scalar(alpha, 4), porta_arg_scalar(&n, 4)};
    return porta_kernel_launch(stream_.get(), kernel_, &config, args, 4);
  };
  GraphHandle graph;
  Capture(&graph, [&] {
    ASSERT_PORTA_OK(other_shape(&two));
    ASSERT_PORTA_OK(other_shape(&four));
  });
  if (HasFatalFailure()) return;
  ExecHandle exec;
  ASSERT_PORTA_OK(porta_graph_instantiate(graph.get(), exec.out()));
  ASSERT_PORTA_OK(ScaleAdd(stream_.get(), y.get(), x.get(), &one, &n));
  ASSERT_PORTA_OK(porta_graph_launch(exec.get(), stream_.get()));
  ASSERT_PORTA_OK(ScaleAdd(stream_.get(), y.get(), x.get(), &eight, &n));
  ASSERT_PORTA_OK(porta_graph_launch(exec.get(), stream_.get()));
  ASSERT_PORTA_OK(ScaleAdd(stream_.get(), y.get(), x.get(), &one, &n));
  std::vector<float> read(kN);
  ASSERT_TRUE(ReadBuffer(stream_.get(), y.get(), 0, kBytes, read.data()));
  // 1 + (2 + 4) + 8 + (2 + 4) + 1.
  for (uint32_t i = 0; i < kN; ++i) ASSERT_EQ(read[i], 22.0f * hx[i]) << "element " << i;
}

// One instance replayed many times on two streams with no synchronize in between, each replay
// ordered after the previous one by an event: a backend must cope with many replays of one
// native graph pending at once (command lists it may not resubmit while pending, serialized
// executable graphs). The run also fills with a 2-byte pattern and copies between buffers that
// are host-visible where the device has such memory.
TEST_P(GraphTest, ManyPendingReplaysOnTwoStreams) {
  constexpr int kReplays = 12;
  const porta_memory_kind_t kind = (info_.capabilities & PORTA_CAP_HOST_VISIBLE_MEMORY) != 0
                                       ? PORTA_MEMORY_HOST_VISIBLE
                                       : PORTA_MEMORY_DEVICE;
  BufferHandle x, acc, half_words, copy;
  Alloc(&x);
  Alloc(&acc);
  ASSERT_PORTA_OK(porta_buffer_alloc(device_, kBytes, kind, half_words.out()));
  ASSERT_PORTA_OK(porta_buffer_alloc(device_, kBytes, kind, copy.out()));
  StreamHandle other;
  ASSERT_PORTA_OK(porta_stream_create(device_, other.out()));
  EventHandle done[2];
  for (EventHandle& event : done) {
    ASSERT_PORTA_OK(porta_event_create(device_, PORTA_EVENT_DISABLE_TIMING, event.out()));
  }
  const std::vector<float> hx = IntegerFloats(9);
  const float zero = 0.0f, one = 1.0f;
  const uint16_t pattern = 0xbeef;
  const uint32_t n = kN;
  SyncOnExit sync_other(other.get());
  SyncOnExit sync(stream_.get());
  ASSERT_PORTA_OK(porta_copy_host_to_device(stream_.get(), x.get(), 0, hx.data(), kBytes));
  ASSERT_PORTA_OK(porta_fill_buffer(stream_.get(), acc.get(), 0, kBytes, &zero, 4));
  ASSERT_PORTA_OK(porta_stream_synchronize(stream_.get()));
  GraphHandle graph;
  Capture(&graph, [&] {
    ASSERT_PORTA_OK(ScaleAdd(stream_.get(), acc.get(), x.get(), &one, &n));
    ASSERT_PORTA_OK(porta_fill_buffer(stream_.get(), half_words.get(), 2, kBytes - 4, &pattern, 2));
    ASSERT_PORTA_OK(
        porta_copy_device_to_device(stream_.get(), copy.get(), 0, half_words.get(), 0, kBytes));
  });
  if (HasFatalFailure()) return;
  ExecHandle exec;
  ASSERT_PORTA_OK(porta_graph_instantiate(graph.get(), exec.out()));
  porta_stream_t streams[2] = {stream_.get(), other.get()};
  for (int r = 0; r < kReplays; ++r) {
    porta_stream_t stream = streams[r % 2];
    if (r > 0) {
      ASSERT_PORTA_OK(porta_stream_wait_event(stream, done[(r - 1) % 2].get()));
    }
    ASSERT_PORTA_OK(porta_graph_launch(exec.get(), stream));
    ASSERT_PORTA_OK(porta_event_record(done[r % 2].get(), stream));
  }
  ASSERT_PORTA_OK(porta_stream_synchronize(other.get()));
  ASSERT_PORTA_OK(porta_stream_synchronize(stream_.get()));
  std::vector<float> sum(kN);
  ASSERT_TRUE(ReadBuffer(stream_.get(), acc.get(), 0, kBytes, sum.data()));
  for (uint32_t i = 0; i < kN; ++i) {
    ASSERT_EQ(sum[i], static_cast<float>(kReplays) * hx[i]) << "element " << i;
  }
  std::vector<uint16_t> words(kBytes / 2);
  ASSERT_TRUE(ReadBuffer(stream_.get(), copy.get(), 0, kBytes, words.data()));
  for (size_t i = 1; i + 1 < words.size(); ++i) ASSERT_EQ(words[i], pattern) << "half word " << i;
}

// Host copies and event nodes split the device-side nodes into runs; each run of two or more may
// replay natively. Every replay must give the direct result, on two streams.
TEST_P(GraphTest, RunsSplitByHostCopiesAndEventsReplayCorrectly) {
  BufferHandle x, y, z;
  Alloc(&x);
  Alloc(&y);
  Alloc(&z);
  EventHandle event;
  ASSERT_PORTA_OK(porta_event_create(device_, PORTA_EVENT_DEFAULT, event.out()));
  StreamHandle other;
  ASSERT_PORTA_OK(porta_stream_create(device_, other.out()));
  const std::vector<float> hx = IntegerFloats(4);
  std::vector<float> mid(kN, -1.0f), out(kN, -1.0f);
  const float zero = 0.0f, one = 1.0f, three = 3.0f;
  const uint32_t n = kN;
  GraphHandle graph;
  Capture(&graph, [&] {
    // Run 1: fill, launch, launch (y = 4x after the copy below).
    ASSERT_PORTA_OK(porta_copy_host_to_device(stream_.get(), x.get(), 0, hx.data(), kBytes));
    ASSERT_PORTA_OK(porta_fill_buffer(stream_.get(), y.get(), 0, kBytes, &zero, 4));
    ASSERT_PORTA_OK(ScaleAdd(stream_.get(), y.get(), x.get(), &one, &n));
    ASSERT_PORTA_OK(ScaleAdd(stream_.get(), y.get(), x.get(), &three, &n));
    ASSERT_PORTA_OK(porta_copy_device_to_host(stream_.get(), mid.data(), y.get(), 0, kBytes));
    // A single copy between two event nodes: not a run.
    ASSERT_PORTA_OK(porta_event_record(event.get(), stream_.get()));
    ASSERT_PORTA_OK(porta_copy_device_to_device(stream_.get(), z.get(), 0, y.get(), 0, kBytes));
    ASSERT_PORTA_OK(porta_stream_wait_event(stream_.get(), event.get()));
    // Run 2: launch, copy, fill of the upper half (z = 5x, then y = z in the lower half).
    ASSERT_PORTA_OK(ScaleAdd(stream_.get(), z.get(), x.get(), &one, &n));
    ASSERT_PORTA_OK(porta_copy_device_to_device(stream_.get(), y.get(), 0, z.get(), 0, kBytes));
    ASSERT_PORTA_OK(porta_fill_buffer(stream_.get(), y.get(), kBytes / 2, kBytes / 2, &zero, 4));
    ASSERT_PORTA_OK(porta_copy_device_to_host(stream_.get(), out.data(), y.get(), 0, kBytes));
  });
  if (HasFatalFailure()) return;
  ExecHandle exec;
  ASSERT_PORTA_OK(porta_graph_instantiate(graph.get(), exec.out()));
  uint32_t native = 99;
  ASSERT_PORTA_OK(porta_graph_exec_native_node_count(exec.get(), &native));
  // Both runs, of three nodes each.
  EXPECT_EQ(native, Native(6)) << "PORTA_CAP_NATIVE_GRAPHS says how the instance replays";
  for (porta_stream_t stream : {stream_.get(), other.get(), stream_.get()}) {
    std::fill(mid.begin(), mid.end(), -1.0f);
    std::fill(out.begin(), out.end(), -1.0f);
    ASSERT_PORTA_OK(porta_graph_launch(exec.get(), stream));
    ASSERT_PORTA_OK(porta_stream_synchronize(stream));
    for (uint32_t i = 0; i < kN; ++i) {
      ASSERT_EQ(mid[i], 4.0f * hx[i]) << "mid element " << i;
      ASSERT_EQ(out[i], i < kN / 2 ? 5.0f * hx[i] : 0.0f) << "out element " << i;
    }
  }
}

PORTA_CTS_INSTANTIATE(GraphTest);

}  // namespace
}  // namespace porta_cts
