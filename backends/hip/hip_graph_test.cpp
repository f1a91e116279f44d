// The HIP backend's native graph slots against the fake runtime (fake_hip_runtime.cpp), which
// records the graph it is asked to build and the events around its launches, checked here
// without ROCm: node kinds, order and parameters, the ordering of replays across streams, and
// that arguments change in place only when no replay is queued; and, with a runtime result the
// fake injects, an event's fault.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "backends/gpu/gpu_fake_test.h"
#include "backends/hip/fake_hip_runtime.h"
#include "porta/porta_backend.h"
#include "porta/sdk/backend_test_support.h"

extern "C" porta_status_t porta_hip_backend_entry(const porta_backend_host_t* host,
                                                  const porta_backend_table_t** out_table,
                                                  porta_be_msg msg);

namespace {

using porta::gpu::test::Read;
using porta::hip::fake::NodeKind;
using porta::hip::fake::State;
using porta::test::Message;

// The fake runtime under the shared fixture, with two streams and the runtime's recorded state.
class HipGraphTest : public porta::gpu::test::FakeGpuTest {
 protected:
  void SetUp() override {
    void* state_fn = nullptr;
    ASSERT_NO_FATAL_FAILURE(
        LoadFake("PORTA_HIP_LIBRARY", PORTA_FAKE_HIP_RUNTIME, "porta_fake_hip_state", &state_fn));
    state_ = reinterpret_cast<porta::hip::fake::StateFn>(state_fn)();
    *state_ = State();
    ASSERT_NO_FATAL_FAILURE(OpenDevice(porta_hip_backend_entry, PORTA_FORMAT_HSACO, 2));
  }

  State* state_ = nullptr;
};

TEST_F(HipGraphTest, NodesBecomeAChainedHipGraph) {
  const uint32_t scalar = 7;
  porta_be_graph_t graph = nullptr;
  ASSERT_EQ(CreateThreeNodeGraph(&scalar, &graph), PORTA_OK) << message_.text;
  ASSERT_EQ(state_->nodes.size(), 3u);
  const auto& kernel = state_->nodes[0];
  EXPECT_EQ(kernel.kind, NodeKind::kKernel);
  EXPECT_TRUE(kernel.dependencies.empty());
  EXPECT_EQ(reinterpret_cast<uintptr_t>(kernel.func), 0xF00u);
  EXPECT_EQ(kernel.grid.x, 4u);
  EXPECT_EQ(kernel.grid.y, 2u);
  EXPECT_EQ(kernel.block.x, 64u);
  ASSERT_EQ(kernel.params.size(), 3u);
  EXPECT_EQ(Read<uint64_t>(kernel.params[0]), NativeHandle(a_) + 16);
  EXPECT_EQ(Read<uint32_t>(kernel.params[1]), 7u);
  EXPECT_EQ(Read<uint64_t>(kernel.params[2]), NativeHandle(b_));
  const auto& copy = state_->nodes[1];
  EXPECT_EQ(copy.kind, NodeKind::kMemcpy);
  ASSERT_EQ(copy.dependencies.size(), 1u);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(copy.dependencies[0]), 1u);
  EXPECT_EQ(reinterpret_cast<uint64_t>(copy.dst), NativeHandle(b_));
  EXPECT_EQ(reinterpret_cast<uint64_t>(copy.src), NativeHandle(a_) + 64);
  EXPECT_EQ(copy.count, 128u);
  EXPECT_EQ(copy.copy_kind, hipMemcpyDeviceToDevice);
  const auto& fill = state_->nodes[2];
  EXPECT_EQ(fill.kind, NodeKind::kMemset);
  ASSERT_EQ(fill.dependencies.size(), 1u);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(fill.dependencies[0]), 2u);
  EXPECT_EQ(reinterpret_cast<uint64_t>(fill.fill.dst), NativeHandle(a_) + 256);
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
  ASSERT_EQ(CreateThreeNodeGraph(&scalar, &graph), PORTA_OK) << message_.text;
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
  ASSERT_EQ(CreateThreeNodeGraph(&scalar, &graph), PORTA_OK) << message_.text;
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
  EXPECT_EQ(CreateThreeNodeGraph(&scalar, &graph), PORTA_ERROR_UNSUPPORTED);
  EXPECT_NE(std::string(message_.text).find("hipGraphAddMemsetNode for graph node 2"),
            std::string::npos)
      << message_.text;
  EXPECT_EQ(state_->graphs_destroyed, 1);

  state_->fail_call = "hipGraphAddKernelNode";
  state_->fail_result = hipErrorOutOfMemory;
  EXPECT_EQ(CreateThreeNodeGraph(&scalar, &graph), PORTA_ERROR_OUT_OF_MEMORY);
  EXPECT_EQ(state_->graphs_destroyed, 2);

  EXPECT_EQ(CreateThreeNodeGraph(&scalar, &graph, 2048), PORTA_ERROR_OUT_OF_RANGE);
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
