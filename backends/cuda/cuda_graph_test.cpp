// The CUDA backend's native graph slots against the fake driver (fake_cuda_driver.cpp), which
// records the graph it is asked to build: node kinds, order, parameters, launches, updates and
// releases, checked here without a GPU; and, with a driver result the fake injects, an event's
// fault.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "backends/cuda/fake_cuda_driver.h"
#include "backends/gpu/gpu_fake_test.h"
#include "porta/porta_backend.h"
#include "porta/sdk/backend_test_support.h"

extern "C" porta_status_t porta_cuda_backend_entry(const porta_backend_host_t* host,
                                                   const porta_backend_table_t** out_table,
                                                   porta_be_msg msg);

namespace {

using porta::cuda::fake::NodeKind;
using porta::cuda::fake::State;
using porta::gpu::test::Read;
using porta::test::Message;

// The fake driver (|library|) under the shared fixture, with the driver's recorded state.
class CudaGraphTest : public porta::gpu::test::FakeGpuTest {
 protected:
  void SetUpWith(const char* library) {
    void* state_fn = nullptr;
    ASSERT_NO_FATAL_FAILURE(
        LoadFake("PORTA_CUDA_LIBRARY", library, "porta_fake_cuda_state", &state_fn));
    state_ = reinterpret_cast<porta::cuda::fake::StateFn>(state_fn)();
    *state_ = State();
    ASSERT_NO_FATAL_FAILURE(OpenDevice(porta_cuda_backend_entry, PORTA_FORMAT_PTX, 1));
  }

  State* state_ = nullptr;
};

TEST_F(CudaGraphTest, NodesBecomeAChainedCudaGraphLaunchedOnTheStream) {
  ASSERT_NO_FATAL_FAILURE(SetUpWith(PORTA_FAKE_CUDA_DRIVER));
  const uint32_t scalar = 7;
  porta_be_graph_t graph = nullptr;
  ASSERT_EQ(CreateThreeNodeGraph(&scalar, &graph), PORTA_OK) << message_.text;
  const uint64_t a = NativeHandle(a_);
  const uint64_t b = NativeHandle(b_);

  ASSERT_EQ(state_->nodes.size(), 3u);
  EXPECT_EQ(state_->graphs_created, 1);
  EXPECT_EQ(state_->execs_instantiated, 1);
  // Kernel node: the kernel's function, the configuration, and parameters as a launch has them.
  const auto& kernel = state_->nodes[0];
  EXPECT_EQ(kernel.kind, NodeKind::kKernel);
  EXPECT_TRUE(kernel.dependencies.empty());
  EXPECT_EQ(reinterpret_cast<uintptr_t>(kernel.kernel.func), 0xF00u);
  EXPECT_EQ(kernel.kernel.gridDimX, 4u);
  EXPECT_EQ(kernel.kernel.gridDimY, 2u);
  EXPECT_EQ(kernel.kernel.blockDimX, 64u);
  EXPECT_EQ(kernel.kernel.sharedMemBytes, 0u);
  ASSERT_EQ(kernel.params.size(), 3u);
  EXPECT_EQ(Read<uint64_t>(kernel.params[0]), a + 16);
  EXPECT_EQ(Read<uint32_t>(kernel.params[1]), 7u);
  EXPECT_EQ(Read<uint64_t>(kernel.params[2]), b);
  // Copy node after the kernel node.
  const auto& copy = state_->nodes[1];
  EXPECT_EQ(copy.kind, NodeKind::kMemcpy);
  ASSERT_EQ(copy.dependencies.size(), 1u);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(copy.dependencies[0]), 1u);
  EXPECT_EQ(copy.copy.srcMemoryType, CU_MEMORYTYPE_DEVICE);
  EXPECT_EQ(copy.copy.dstMemoryType, CU_MEMORYTYPE_DEVICE);
  EXPECT_EQ(copy.copy.srcDevice, a + 64);
  EXPECT_EQ(copy.copy.dstDevice, b);
  EXPECT_EQ(copy.copy.WidthInBytes, 128u);
  EXPECT_EQ(copy.copy.Height, 1u);
  EXPECT_EQ(copy.copy.Depth, 1u);
  EXPECT_NE(copy.context, nullptr);
  // Fill node after the copy node: 32 elements of 2 bytes.
  const auto& fill = state_->nodes[2];
  EXPECT_EQ(fill.kind, NodeKind::kMemset);
  ASSERT_EQ(fill.dependencies.size(), 1u);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(fill.dependencies[0]), 2u);
  EXPECT_EQ(fill.fill.dst, a + 256);
  EXPECT_EQ(fill.fill.elementSize, 2u);
  EXPECT_EQ(fill.fill.width, 32u);
  EXPECT_EQ(fill.fill.height, 1u);
  EXPECT_EQ(fill.fill.value, 0xBEEFu);
  // Every node went into the same graph.
  EXPECT_EQ(kernel.graph, copy.graph);
  EXPECT_EQ(copy.graph, fill.graph);

  ASSERT_EQ(table_->graph_launch(stream_, graph, message_.get()), PORTA_OK) << message_.text;
  ASSERT_EQ(table_->graph_launch(stream_, graph, message_.get()), PORTA_OK) << message_.text;
  ASSERT_EQ(state_->launches.size(), 2u);
  EXPECT_EQ(state_->launches[0].first, state_->launches[1].first);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(state_->launches[0].second), 0x5000u);

  table_->graph_destroy(graph);
  EXPECT_EQ(state_->execs_destroyed, 1);
  EXPECT_EQ(state_->graphs_destroyed, 1);
}

TEST_F(CudaGraphTest, ArgumentUpdateSetsTheKernelNodesParameters) {
  ASSERT_NO_FATAL_FAILURE(SetUpWith(PORTA_FAKE_CUDA_DRIVER));
  const uint32_t scalar = 7;
  porta_be_graph_t graph = nullptr;
  ASSERT_EQ(CreateThreeNodeGraph(&scalar, &graph), PORTA_OK) << message_.text;

  const uint32_t updated = 9;
  std::vector<porta_be_arg_t> args = Args(&updated);
  args[0].offset = 32;
  ASSERT_EQ(table_->graph_update_kernel_args(graph, 0, args.data(), 3, message_.get()), PORTA_OK)
      << message_.text;
  ASSERT_EQ(state_->updates.size(), 1u);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(state_->updates[0].first), 1u);
  ASSERT_EQ(state_->updates[0].second.size(), 3u);
  EXPECT_EQ(Read<uint64_t>(state_->updates[0].second[0]), NativeHandle(a_) + 32);
  EXPECT_EQ(Read<uint32_t>(state_->updates[0].second[1]), 9u);

  // A driver refusal declines (the runtime rebuilds the graph instead).
  state_->fail_call = "cuGraphExecKernelNodeSetParams";
  state_->fail_result = CUDA_ERROR_INVALID_VALUE;
  EXPECT_EQ(table_->graph_update_kernel_args(graph, 0, args.data(), 3, message_.get()),
            PORTA_ERROR_UNSUPPORTED);
  EXPECT_EQ(state_->updates.size(), 1u);
  table_->graph_destroy(graph);
}

TEST_F(CudaGraphTest, DriverRefusalDeclinesButOutOfMemoryFails) {
  ASSERT_NO_FATAL_FAILURE(SetUpWith(PORTA_FAKE_CUDA_DRIVER));
  const uint32_t scalar = 7;
  porta_be_graph_t graph = nullptr;
  state_->fail_call = "cuGraphAddMemsetNode";
  state_->fail_result = CUDA_ERROR_INVALID_VALUE;
  EXPECT_EQ(CreateThreeNodeGraph(&scalar, &graph), PORTA_ERROR_UNSUPPORTED);
  EXPECT_NE(std::string(message_.text).find("cuGraphAddMemsetNode for graph node 2"),
            std::string::npos)
      << message_.text;
  // The partly built graph was released.
  EXPECT_EQ(state_->graphs_destroyed, state_->graphs_created);

  state_->fail_call = "cuGraphInstantiateWithFlags";
  state_->fail_result = CUDA_ERROR_OUT_OF_MEMORY;
  EXPECT_EQ(CreateThreeNodeGraph(&scalar, &graph), PORTA_ERROR_OUT_OF_MEMORY);
  EXPECT_EQ(state_->graphs_destroyed, state_->graphs_created);
  EXPECT_EQ(state_->execs_destroyed, 0);

  // A launch failure is the stream's error, as a launch's would be.
  ASSERT_EQ(CreateThreeNodeGraph(&scalar, &graph), PORTA_OK) << message_.text;
  state_->fail_call = "cuGraphLaunch";
  state_->fail_result = CUDA_ERROR_ILLEGAL_ADDRESS;
  EXPECT_EQ(table_->graph_launch(stream_, graph, message_.get()), PORTA_ERROR_DEVICE_LOST);
  EXPECT_EQ(table_->stream_query(stream_, message_.get()), PORTA_ERROR_DEVICE_LOST);
  table_->graph_destroy(graph);
}

TEST_F(CudaGraphTest, KernelLimitsFailTheGraph) {
  ASSERT_NO_FATAL_FAILURE(SetUpWith(PORTA_FAKE_CUDA_DRIVER));
  const uint32_t scalar = 7;
  args_ = Args(&scalar);
  porta_launch_config_t config = {};
  config.grid[0] = config.grid[1] = config.grid[2] = 1;
  config.block[0] = 2048;
  config.block[1] = config.block[2] = 1;
  porta_be_graph_node_t nodes[2] = {};
  for (porta_be_graph_node_t& node : nodes) {
    node.kind = PORTA_GRAPH_NODE_KERNEL;
    node.kernel = kernel_;
    node.config = &config;
    node.args = args_.data();
    node.arg_count = 3;
  }
  porta_be_graph_t graph = nullptr;
  EXPECT_EQ(table_->graph_create(device_, nodes, 2, &graph, message_.get()),
            PORTA_ERROR_OUT_OF_RANGE);
  EXPECT_NE(std::string(message_.text).find("at most 1024 threads"), std::string::npos)
      << message_.text;
  EXPECT_EQ(state_->graphs_destroyed, state_->graphs_created);

  // An argument list the kernel's parameters refuse (cuFuncGetParamInfo), as a launch would be.
  config.block[0] = 64;
  nodes[1].arg_count = 2;
  EXPECT_EQ(table_->graph_create(device_, nodes, 2, &graph, message_.get()),
            PORTA_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(message_.text).find("takes 3 arguments"), std::string::npos)
      << message_.text;
  EXPECT_EQ(state_->graphs_destroyed, state_->graphs_created);
}

TEST_F(CudaGraphTest, DriverWithoutGraphFunctionsDeclines) {
  ASSERT_NO_FATAL_FAILURE(SetUpWith(PORTA_FAKE_CUDA_DRIVER_NO_GRAPHS));
  const uint32_t scalar = 7;
  porta_be_graph_t graph = nullptr;
  EXPECT_EQ(CreateThreeNodeGraph(&scalar, &graph), PORTA_ERROR_UNSUPPORTED);
  EXPECT_NE(std::string(message_.text).find("lacks the graph functions"), std::string::npos)
      << message_.text;
}

// Not a graph slot, but the same fake: a fault the driver reports for an event's work is the
// event's answer and the recording stream's sticky error; re-recorded on a healthy stream, the
// event is clean again.
TEST_F(CudaGraphTest, EventCarriesTheFaultOfItsRecording) {
  ASSERT_NO_FATAL_FAILURE(SetUpWith(PORTA_FAKE_CUDA_DRIVER));
  porta_be_event_t event = nullptr;
  ASSERT_EQ(table_->event_create(device_, PORTA_EVENT_DEFAULT, &event, message_.get()), PORTA_OK);
  ASSERT_EQ(table_->event_record(event, stream_, message_.get()), PORTA_OK) << message_.text;
  state_->fail_call = "cuEventQuery";
  state_->fail_result = CUDA_ERROR_ILLEGAL_ADDRESS;
  EXPECT_EQ(table_->event_query(event, message_.get()), PORTA_ERROR_DEVICE_LOST);
  EXPECT_NE(std::string(message_.text).find("cuEventQuery failed"), std::string::npos)
      << message_.text;
  // The driver answers success again, but the recording stays faulted, and so does its stream.
  Message wait;
  EXPECT_EQ(table_->event_wait(event, UINT64_MAX, wait.get()), PORTA_ERROR_DEVICE_LOST);
  EXPECT_NE(std::string(wait.text).find("cuEventQuery failed"), std::string::npos) << wait.text;
  EXPECT_EQ(table_->stream_synchronize(stream_, message_.get()), PORTA_ERROR_DEVICE_LOST);
  porta_be_stream_t healthy = nullptr;
  ASSERT_EQ(table_->stream_create(device_, &healthy, message_.get()), PORTA_OK);
  ASSERT_EQ(table_->event_record(event, healthy, message_.get()), PORTA_OK) << message_.text;
  EXPECT_EQ(table_->event_wait(event, UINT64_MAX, message_.get()), PORTA_OK) << message_.text;
  EXPECT_EQ(table_->event_query(event, message_.get()), PORTA_OK) << message_.text;
  table_->event_destroy(event);
  table_->stream_destroy(healthy);
}

// Not a graph slot, but the same fake: native handles out, and the fake's allocations imported
// back as buffers (ABI 1.4).
TEST_F(CudaGraphTest, NativeHandlesAndPointerImport) {
  ASSERT_NO_FATAL_FAILURE(SetUpWith(PORTA_FAKE_CUDA_DRIVER));
  porta::test::ExpectPointerImport(table_, device_, stream_, a_, 4096, true);
}

// The host function goes to the driver's stream-ordered call (which the fake runs at once).
TEST_F(CudaGraphTest, HostFunctionGoesToTheDriver) {
  ASSERT_NO_FATAL_FAILURE(SetUpWith(PORTA_FAKE_CUDA_DRIVER));
  int calls = 0;
  ASSERT_EQ(table_->stream_host_func(
                stream_, [](void* data) { ++*static_cast<int*>(data); }, &calls, message_.get()),
            PORTA_OK)
      << message_.text;
  EXPECT_EQ(calls, 1);
}

// Not a graph slot, but the same fake: host registration pins the range with cuMemHostRegister,
// copies through it queue as ordinary async copies, and host_unregister unpins it.
TEST_F(CudaGraphTest, HostRegistration) {
  ASSERT_NO_FATAL_FAILURE(SetUpWith(PORTA_FAKE_CUDA_DRIVER));
  porta::test::ExpectHostRegistration(
      table_, device_, stream_, a_, [&] { return state_->host_registered.size(); },
      [&] {
        state_->fail_call = "cuMemHostRegister";
        state_->fail_result = CUDA_ERROR_OUT_OF_MEMORY;
      },
      "cuMemHostRegister");
  EXPECT_EQ(state_->host_unregistered, 1);
}

}  // namespace
