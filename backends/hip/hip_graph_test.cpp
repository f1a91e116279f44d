// The HIP backend's native graph slots against the fake runtime (fake_hip_runtime.cpp), which
// records the graph it is asked to build and the events around its launches, checked here
// without ROCm: node kinds, order and parameters, the ordering of replays across streams, and
// that arguments change in place only when no replay is queued; and, with a runtime result the
// fake injects, an event's fault.
#include <dlfcn.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "backends/hip/fake_hip_runtime.h"
#include "porta/porta_backend.h"
#include "porta/sdk/backend_test_support.h"

extern "C" porta_status_t porta_hip_backend_entry(const porta_backend_host_t* host,
                                                  const porta_backend_table_t** out_table,
                                                  porta_be_msg msg);

namespace {

using porta::hip::fake::NodeKind;
using porta::hip::fake::State;
using porta::test::Host;
using porta::test::Message;
using porta::test::ScopedEnv;

template <typename T>
T Read(const std::vector<unsigned char>& bytes) {
  T value{};
  EXPECT_EQ(bytes.size(), sizeof(T));
  std::memcpy(&value, bytes.data(), sizeof(T));
  return value;
}

class HipGraphTest : public ::testing::Test {
 protected:
  void SetUp() override {
    env_ = std::make_unique<ScopedEnv>("PORTA_HIP_LIBRARY", PORTA_FAKE_HIP_RUNTIME);
    // A reference of the test's own keeps the fake's state across the backend's load and unload.
    handle_ = dlopen(PORTA_FAKE_HIP_RUNTIME, RTLD_NOW | RTLD_LOCAL);
    ASSERT_NE(handle_, nullptr) << dlerror();
    auto state_fn =
        reinterpret_cast<porta::hip::fake::StateFn>(dlsym(handle_, "porta_fake_hip_state"));
    ASSERT_NE(state_fn, nullptr);
    state_ = state_fn();
    *state_ = State();
    table_ = porta::test::Table(porta_hip_backend_entry);
    ASSERT_NE(table_, nullptr);
    const porta_backend_host_t host = Host();
    ASSERT_EQ(table_->init(&host, &backend_, message_.get()), PORTA_OK) << message_.text;
    uint32_t count = 0;
    ASSERT_EQ(table_->device_count(backend_, &count, message_.get()), PORTA_OK);
    ASSERT_EQ(count, 1u) << message_.text;
    ASSERT_EQ(table_->device_open(backend_, 0, &device_, message_.get()), PORTA_OK)
        << message_.text;
    for (porta_be_buffer_t* buffer : {&a_, &b_}) {
      ASSERT_EQ(table_->buffer_alloc(device_, 4096, PORTA_MEMORY_DEVICE, buffer, message_.get()),
                PORTA_OK)
          << message_.text;
    }
    const char hsaco[] = "fake";
    porta_module_source_t source = {};
    source.format = PORTA_FORMAT_HSACO;
    source.data = hsaco;
    source.size = sizeof(hsaco) - 1;
    ASSERT_EQ(table_->module_load(device_, &source, &module_, message_.get()), PORTA_OK)
        << message_.text;
    ASSERT_EQ(table_->module_get_kernel(module_, "k", &kernel_, message_.get()), PORTA_OK)
        << message_.text;
    for (porta_be_stream_t* stream : {&stream_, &other_stream_}) {
      ASSERT_EQ(table_->stream_create(device_, stream, message_.get()), PORTA_OK) << message_.text;
    }
  }

  void TearDown() override {
    for (porta_be_stream_t stream : {stream_, other_stream_}) {
      if (stream != nullptr) table_->stream_destroy(stream);
    }
    if (module_ != nullptr) table_->module_destroy(module_);
    for (porta_be_buffer_t buffer : {a_, b_}) {
      if (buffer != nullptr) table_->buffer_free(buffer);
    }
    if (device_ != nullptr) table_->device_close(device_);
    if (backend_ != nullptr) table_->shutdown(backend_);
    if (handle_ != nullptr) dlclose(handle_);
  }

  uint64_t Pointer(porta_be_buffer_t buffer) {
    uint64_t handle = 0;
    EXPECT_EQ(table_->buffer_native_handle(buffer, &handle, message_.get()), PORTA_OK);
    return handle;
  }

  // (a + 16, |scalar|, b), as the fake's kernels take them.
  std::vector<porta_be_arg_t> Args(const uint32_t* scalar) const {
    std::vector<porta_be_arg_t> args(3);
    args[0].kind = PORTA_ARG_BUFFER;
    args[0].buffer = a_;
    args[0].offset = 16;
    args[1].kind = PORTA_ARG_SCALAR;
    args[1].scalar = scalar;
    args[1].scalar_size = sizeof(*scalar);
    args[2].kind = PORTA_ARG_BUFFER;
    args[2].buffer = b_;
    return args;
  }

  // kernel(Args(scalar)) on a 4x2x1 grid of |block|x1x1; copy 128 bytes a + 64 -> b; fill a + 256
  // with 64 bytes of the 16-bit pattern 0xBEEF.
  porta_status_t CreateGraph(const uint32_t* scalar, porta_be_graph_t* graph, uint32_t block = 64) {
    args_ = Args(scalar);
    config_ = {};
    config_.grid[0] = 4;
    config_.grid[1] = 2;
    config_.grid[2] = 1;
    config_.block[0] = block;
    config_.block[1] = 1;
    config_.block[2] = 1;
    porta_be_graph_node_t nodes[3] = {};
    nodes[0].kind = PORTA_GRAPH_NODE_KERNEL;
    nodes[0].kernel = kernel_;
    nodes[0].config = &config_;
    nodes[0].args = args_.data();
    nodes[0].arg_count = 3;
    nodes[1].kind = PORTA_GRAPH_NODE_COPY_DEVICE_TO_DEVICE;
    nodes[1].dst = b_;
    nodes[1].src = a_;
    nodes[1].src_offset = 64;
    nodes[1].size = 128;
    nodes[2].kind = PORTA_GRAPH_NODE_FILL;
    nodes[2].dst = a_;
    nodes[2].dst_offset = 256;
    nodes[2].size = 64;
    const uint16_t pattern = 0xBEEF;
    nodes[2].pattern = &pattern;
    nodes[2].pattern_size = sizeof(pattern);
    return table_->graph_create(device_, nodes, 3, graph, message_.get());
  }

  std::unique_ptr<ScopedEnv> env_;
  void* handle_ = nullptr;
  State* state_ = nullptr;
  const porta_backend_table_t* table_ = nullptr;
  Message message_;
  porta_be_backend_t backend_ = nullptr;
  porta_be_device_t device_ = nullptr;
  porta_be_buffer_t a_ = nullptr;
  porta_be_buffer_t b_ = nullptr;
  porta_be_module_t module_ = nullptr;
  porta_be_kernel_t kernel_ = nullptr;
  porta_be_stream_t stream_ = nullptr;
  porta_be_stream_t other_stream_ = nullptr;
  std::vector<porta_be_arg_t> args_;
  porta_launch_config_t config_ = {};
};

TEST_F(HipGraphTest, NodesBecomeAChainedHipGraph) {
  const uint32_t scalar = 7;
  porta_be_graph_t graph = nullptr;
  ASSERT_EQ(CreateGraph(&scalar, &graph), PORTA_OK) << message_.text;
  ASSERT_EQ(state_->nodes.size(), 3u);
  const auto& kernel = state_->nodes[0];
  EXPECT_EQ(kernel.kind, NodeKind::kKernel);
  EXPECT_TRUE(kernel.dependencies.empty());
  EXPECT_EQ(reinterpret_cast<uintptr_t>(kernel.func), 0xF00u);
  EXPECT_EQ(kernel.grid.x, 4u);
  EXPECT_EQ(kernel.grid.y, 2u);
  EXPECT_EQ(kernel.block.x, 64u);
  ASSERT_EQ(kernel.params.size(), 3u);
  EXPECT_EQ(Read<uint64_t>(kernel.params[0]), Pointer(a_) + 16);
  EXPECT_EQ(Read<uint32_t>(kernel.params[1]), 7u);
  EXPECT_EQ(Read<uint64_t>(kernel.params[2]), Pointer(b_));
  const auto& copy = state_->nodes[1];
  EXPECT_EQ(copy.kind, NodeKind::kMemcpy);
  ASSERT_EQ(copy.dependencies.size(), 1u);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(copy.dependencies[0]), 1u);
  EXPECT_EQ(reinterpret_cast<uint64_t>(copy.dst), Pointer(b_));
  EXPECT_EQ(reinterpret_cast<uint64_t>(copy.src), Pointer(a_) + 64);
  EXPECT_EQ(copy.count, 128u);
  EXPECT_EQ(copy.copy_kind, hipMemcpyDeviceToDevice);
  const auto& fill = state_->nodes[2];
  EXPECT_EQ(fill.kind, NodeKind::kMemset);
  ASSERT_EQ(fill.dependencies.size(), 1u);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(fill.dependencies[0]), 2u);
  EXPECT_EQ(reinterpret_cast<uint64_t>(fill.fill.dst), Pointer(a_) + 256);
  EXPECT_EQ(fill.fill.elementSize, 2u);
  EXPECT_EQ(fill.fill.width, 32u);
  EXPECT_EQ(fill.fill.height, 1u);
  EXPECT_EQ(fill.fill.value, 0xBEEFu);
  table_->graph_destroy(graph);
  EXPECT_EQ(state_->execs_destroyed, 1);
  EXPECT_EQ(state_->graphs_destroyed, 1);
}

TEST_F(HipGraphTest, ReplayOnAnotherStreamWaitsForThePreviousOne) {
  const uint32_t scalar = 7;
  porta_be_graph_t graph = nullptr;
  ASSERT_EQ(CreateGraph(&scalar, &graph), PORTA_OK) << message_.text;
  ASSERT_EQ(table_->graph_launch(stream_, graph, message_.get()), PORTA_OK) << message_.text;
  ASSERT_EQ(table_->graph_launch(stream_, graph, message_.get()), PORTA_OK) << message_.text;
  ASSERT_EQ(state_->launches.size(), 2u);
  ASSERT_EQ(state_->records.size(), 2u);
  const hipEvent_t done = state_->records[0].first;
  EXPECT_EQ(state_->records[1].first, done);
  EXPECT_TRUE(state_->waits.empty());  // one stream: stream order suffices
  ASSERT_EQ(table_->graph_launch(other_stream_, graph, message_.get()), PORTA_OK) << message_.text;
  ASSERT_EQ(state_->waits.size(), 1u);
  EXPECT_EQ(state_->waits[0].second, done);
  EXPECT_EQ(state_->waits[0].first, state_->launches[2].second);
  EXPECT_NE(state_->launches[2].second, state_->launches[0].second);
  ASSERT_EQ(table_->stream_synchronize(other_stream_, message_.get()), PORTA_OK);
  table_->graph_destroy(graph);
}

TEST_F(HipGraphTest, ArgumentsChangeInPlaceOnlyWhenNoReplayIsQueued) {
  const uint32_t scalar = 7;
  porta_be_graph_t graph = nullptr;
  ASSERT_EQ(CreateGraph(&scalar, &graph), PORTA_OK) << message_.text;
  const uint32_t updated = 9;
  const std::vector<porta_be_arg_t> args = Args(&updated);
  ASSERT_EQ(table_->graph_update_kernel_args(graph, 0, args.data(), 3, message_.get()), PORTA_OK)
      << message_.text;
  ASSERT_EQ(state_->updates.size(), 1u);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(state_->updates[0].first), 1u);
  EXPECT_EQ(Read<uint32_t>(state_->updates[0].second[1]), 9u);

  ASSERT_EQ(table_->graph_launch(stream_, graph, message_.get()), PORTA_OK) << message_.text;
  EXPECT_EQ(table_->graph_update_kernel_args(graph, 0, args.data(), 3, message_.get()),
            PORTA_ERROR_UNSUPPORTED);
  EXPECT_NE(std::string(message_.text).find("still queued"), std::string::npos) << message_.text;
  EXPECT_EQ(state_->updates.size(), 1u);
  ASSERT_EQ(table_->stream_synchronize(stream_, message_.get()), PORTA_OK);
  EXPECT_EQ(table_->graph_update_kernel_args(graph, 0, args.data(), 3, message_.get()), PORTA_OK)
      << message_.text;
  EXPECT_EQ(state_->updates.size(), 2u);

  state_->fail_call = "hipGraphExecKernelNodeSetParams";
  state_->fail_result = hipErrorInvalidValue;
  EXPECT_EQ(table_->graph_update_kernel_args(graph, 0, args.data(), 3, message_.get()),
            PORTA_ERROR_UNSUPPORTED);
  table_->graph_destroy(graph);
}

TEST_F(HipGraphTest, RefusalsDeclineButOutOfMemoryAndLimitsFail) {
  const uint32_t scalar = 7;
  porta_be_graph_t graph = nullptr;
  state_->fail_call = "hipGraphAddMemsetNode";
  state_->fail_result = hipErrorInvalidValue;
  EXPECT_EQ(CreateGraph(&scalar, &graph), PORTA_ERROR_UNSUPPORTED);
  EXPECT_NE(std::string(message_.text).find("hipGraphAddMemsetNode for graph node 2"),
            std::string::npos)
      << message_.text;
  EXPECT_EQ(state_->graphs_destroyed, 1);

  state_->fail_call = "hipGraphAddKernelNode";
  state_->fail_result = hipErrorOutOfMemory;
  EXPECT_EQ(CreateGraph(&scalar, &graph), PORTA_ERROR_OUT_OF_MEMORY);
  EXPECT_EQ(state_->graphs_destroyed, 2);

  EXPECT_EQ(CreateGraph(&scalar, &graph, 2048), PORTA_ERROR_OUT_OF_RANGE);
  EXPECT_NE(std::string(message_.text).find("at most 1024 threads"), std::string::npos)
      << message_.text;
  EXPECT_EQ(state_->graphs_destroyed, 3);
}

// Not a graph slot, but the same fake: a fault the runtime reports for an event's work is the
// event's answer and the recording stream's sticky error; re-recorded on a healthy stream, the
// event is clean again.
TEST_F(HipGraphTest, EventCarriesTheFaultOfItsRecording) {
  porta_be_event_t event = nullptr;
  ASSERT_EQ(table_->event_create(device_, PORTA_EVENT_DEFAULT, &event, message_.get()), PORTA_OK);
  ASSERT_EQ(table_->event_record(event, stream_, message_.get()), PORTA_OK) << message_.text;
  state_->fail_call = "hipEventQuery";
  state_->fail_result = hipErrorIllegalAddress;
  EXPECT_EQ(table_->event_query(event, message_.get()), PORTA_ERROR_DEVICE_LOST);
  EXPECT_NE(std::string(message_.text).find("hipEventQuery failed"), std::string::npos)
      << message_.text;
  // The runtime answers success again, but the recording stays faulted, and so does its stream.
  Message wait;
  EXPECT_EQ(table_->event_wait(event, UINT64_MAX, wait.get()), PORTA_ERROR_DEVICE_LOST);
  EXPECT_NE(std::string(wait.text).find("hipEventQuery failed"), std::string::npos) << wait.text;
  EXPECT_EQ(table_->stream_synchronize(stream_, message_.get()), PORTA_ERROR_DEVICE_LOST);
  ASSERT_EQ(table_->event_record(event, other_stream_, message_.get()), PORTA_OK) << message_.text;
  EXPECT_EQ(table_->event_wait(event, UINT64_MAX, message_.get()), PORTA_OK) << message_.text;
  EXPECT_EQ(table_->event_query(event, message_.get()), PORTA_OK) << message_.text;
  table_->event_destroy(event);
}

// Not a graph slot, but the same fake: native handles out, and the fake's allocations imported
// back as buffers (ABI 1.4).
TEST_F(HipGraphTest, NativeHandlesAndPointerImport) {
  porta::test::ExpectPointerImport(table_, device_, stream_, a_, 4096, true);
}

// The host function goes to the driver's stream-ordered call (which the fake runs at once).
TEST_F(HipGraphTest, HostFunctionGoesToTheDriver) {
  int calls = 0;
  ASSERT_EQ(table_->stream_host_func(
                stream_, [](void* data) { ++*static_cast<int*>(data); }, &calls, message_.get()),
            PORTA_OK)
      << message_.text;
  EXPECT_EQ(calls, 1);
}

// Not a graph slot, but the same fake: host registration pins the range with hipHostRegister,
// copies through it queue as ordinary async copies, and host_unregister unpins it.
TEST_F(HipGraphTest, HostRegistration) {
  porta::test::ExpectHostRegistration(
      table_, device_, stream_, a_, [&] { return state_->host_registered.size(); },
      [&] {
        state_->fail_call = "hipHostRegister";
        state_->fail_result = hipErrorOutOfMemory;
      },
      "hipHostRegister");
  EXPECT_EQ(state_->host_unregistered, 1);
}

}  // namespace
