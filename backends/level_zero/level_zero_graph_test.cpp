// The Level Zero backend's native graph slots against the fake loader
// (fake_level_zero_loader.cpp), which records command lists, their submissions and the API rules
// broken: what a graph records, the order of its replays in the stream, and that a recorded list
// is never executed again while an earlier submission of it may still be running; and, with a
// driver result the fake injects, an event's fault.
#include <dlfcn.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "backends/level_zero/fake_level_zero_loader.h"
#include "porta/porta_backend.h"
#include "porta/sdk/backend_test_support.h"

extern "C" porta_status_t porta_level_zero_backend_entry(const porta_backend_host_t* host,
                                                         const porta_backend_table_t** out_table,
                                                         porta_be_msg msg);

namespace {

using porta::level_zero::fake::CommandKind;
using porta::level_zero::fake::List;
using porta::level_zero::fake::State;
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

std::string Violations(const State& state) {
  std::string text;
  for (const std::string& violation : state.violations) text += violation + "; ";
  return text;
}

class LevelZeroGraphTest : public ::testing::Test {
 protected:
  void SetUp() override {
    env_ = std::make_unique<ScopedEnv>("PORTA_LEVEL_ZERO_LIBRARY", PORTA_FAKE_LEVEL_ZERO_LOADER);
    // A reference of the test's own keeps the fake's state across the backend's load and unload.
    handle_ = dlopen(PORTA_FAKE_LEVEL_ZERO_LOADER, RTLD_NOW | RTLD_LOCAL);
    ASSERT_NE(handle_, nullptr) << dlerror();
    auto state_fn = reinterpret_cast<porta::level_zero::fake::StateFn>(
        dlsym(handle_, "porta_fake_level_zero_state"));
    ASSERT_NE(state_fn, nullptr);
    state_ = state_fn();
    *state_ = State();
    table_ = porta::test::Table(porta_level_zero_backend_entry);
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
    // The smallest valid OpenCL kernel module, an empty kernel "k" (modules are validated before
    // the driver sees them):
    //   OpCapability Addresses; OpCapability Kernel; OpMemoryModel Physical64 OpenCL
    //   OpEntryPoint Kernel %k "k"; %void = OpTypeVoid; %fn = OpTypeFunction %void
    //   %k = OpFunction %void None %fn; OpLabel; OpReturn; OpFunctionEnd
    static const uint32_t kSpirv[] = {0x07230203, 0x00010000, 0x00070000, 0x00000005, 0x00000000,
                                      0x00020011, 0x00000004, 0x00020011, 0x00000006, 0x0003000e,
                                      0x00000002, 0x00000002, 0x0004000f, 0x00000006, 0x00000001,
                                      0x0000006b, 0x00020013, 0x00000002, 0x00030021, 0x00000003,
                                      0x00000002, 0x00050036, 0x00000002, 0x00000001, 0x00000000,
                                      0x00000003, 0x000200f8, 0x00000004, 0x000100fd, 0x00010038};
    porta_module_source_t source = {};
    source.format = PORTA_FORMAT_SPIRV_KERNEL;
    source.data = kSpirv;
    source.size = sizeof(kSpirv);
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
      if (stream == nullptr) continue;
      table_->stream_synchronize(stream, message_.get());
      table_->stream_destroy(stream);
    }
    if (module_ != nullptr) table_->module_destroy(module_);
    for (porta_be_buffer_t buffer : {a_, b_}) {
      if (buffer != nullptr) table_->buffer_free(buffer);
    }
    if (device_ != nullptr) table_->device_close(device_);
    if (backend_ != nullptr) table_->shutdown(backend_);
    if (state_ != nullptr) {
      EXPECT_TRUE(state_->violations.empty()) << Violations(*state_);
      for (const auto& list : state_->lists) EXPECT_TRUE(list->destroyed);
    }
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

  // kernel(Args(scalar)) on a 4x2x1 grid of 64x1x1 groups; copy 128 bytes a + 64 -> b; fill
  // a + 256 with 64 bytes of the 16-bit pattern 0xBEEF.
  porta_status_t CreateGraph(const uint32_t* scalar, uint32_t arg_count, porta_be_graph_t* graph) {
    args_ = Args(scalar);
    config_ = {};
    config_.grid[0] = 4;
    config_.grid[1] = 2;
    config_.grid[2] = 1;
    config_.block[0] = 64;
    config_.block[1] = 1;
    config_.block[2] = 1;
    porta_be_graph_node_t nodes[3] = {};
    nodes[0].kind = PORTA_GRAPH_NODE_KERNEL;
    nodes[0].kernel = kernel_;
    nodes[0].config = &config_;
    nodes[0].args = args_.data();
    nodes[0].arg_count = arg_count;
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

  // The lists the graph recorded: every list holding a fill (ordinary batches here hold none).
  std::vector<const List*> GraphLists() const {
    std::vector<const List*> lists;
    for (const auto& list : state_->lists) {
      for (const auto& command : list->commands) {
        if (command.kind == CommandKind::kFill) {
          lists.push_back(list.get());
          break;
        }
      }
    }
    return lists;
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

TEST_F(LevelZeroGraphTest, RecordsTheNodesOnceAndReplaysInStreamOrder) {
  const uint32_t scalar = 7;
  porta_be_graph_t graph = nullptr;
  ASSERT_EQ(CreateGraph(&scalar, 3, &graph), PORTA_OK) << message_.text;
  ASSERT_EQ(state_->lists.size(), 1u);
  const List& list = *state_->lists[0];
  EXPECT_TRUE(list.closed);
  ASSERT_EQ(list.commands.size(), 6u);
  const CommandKind kinds[] = {CommandKind::kLaunch,  CommandKind::kBarrier, CommandKind::kCopy,
                               CommandKind::kBarrier, CommandKind::kFill,    CommandKind::kBarrier};
  for (size_t i = 0; i < 6; ++i) EXPECT_EQ(list.commands[i].kind, kinds[i]) << i;
  const auto& launch = list.commands[0];
  EXPECT_EQ(launch.group_size[0], 64u);
  EXPECT_EQ(launch.groups.groupCountX, 4u);
  EXPECT_EQ(launch.groups.groupCountY, 2u);
  ASSERT_EQ(launch.args.size(), 3u);
  EXPECT_EQ(Read<uint64_t>(launch.args[0]), Pointer(a_) + 16);
  EXPECT_EQ(Read<uint32_t>(launch.args[1]), 7u);
  EXPECT_EQ(Read<uint64_t>(launch.args[2]), Pointer(b_));
  const auto& copy = list.commands[2];
  EXPECT_EQ(reinterpret_cast<uint64_t>(copy.dst), Pointer(b_));
  EXPECT_EQ(reinterpret_cast<uint64_t>(copy.src), Pointer(a_) + 64);
  EXPECT_EQ(copy.size, 128u);
  const auto& fill = list.commands[4];
  EXPECT_EQ(reinterpret_cast<uint64_t>(fill.dst), Pointer(a_) + 256);
  EXPECT_EQ(fill.size, 64u);
  EXPECT_EQ(fill.pattern, (std::vector<unsigned char>{0xEF, 0xBE}));

  // Work queued before the replay is submitted before it, on the same queue.
  const uint32_t one = 1;
  const std::vector<porta_be_arg_t> args = Args(&one);
  ASSERT_EQ(table_->kernel_launch(stream_, kernel_, &config_, args.data(), 3, message_.get()),
            PORTA_OK)
      << message_.text;
  ASSERT_EQ(table_->graph_launch(stream_, graph, message_.get()), PORTA_OK) << message_.text;
  ASSERT_EQ(state_->submissions.size(), 2u);
  EXPECT_EQ(state_->submissions[0].queue, state_->submissions[1].queue);
  ASSERT_EQ(state_->submissions[0].lists.size(), 1u);
  EXPECT_EQ(Read<uint32_t>(state_->submissions[0].lists[0]->commands[0].args[1]), 1u);
  ASSERT_EQ(state_->submissions[1].lists.size(), 1u);
  EXPECT_EQ(state_->submissions[1].lists[0], &list);
  EXPECT_NE(state_->submissions[1].fence, nullptr);
  ASSERT_EQ(table_->stream_synchronize(stream_, message_.get()), PORTA_OK) << message_.text;
  EXPECT_TRUE(state_->submissions[1].done);
  table_->graph_destroy(graph);
}

TEST_F(LevelZeroGraphTest, AListIsExecutedAgainOnlyAfterItsSubmissionCompleted) {
  const uint32_t scalar = 7;
  porta_be_graph_t graph = nullptr;
  ASSERT_EQ(CreateGraph(&scalar, 3, &graph), PORTA_OK) << message_.text;
  // Four replays queued and still running: four recorded copies.
  for (int i = 0; i < 4; ++i) {
    ASSERT_EQ(table_->graph_launch(stream_, graph, message_.get()), PORTA_OK) << message_.text;
  }
  EXPECT_EQ(GraphLists().size(), 4u);
  EXPECT_TRUE(state_->violations.empty()) << Violations(*state_);
  // A fifth waits for the oldest and reuses its list.
  ASSERT_EQ(table_->graph_launch(stream_, graph, message_.get()), PORTA_OK) << message_.text;
  EXPECT_EQ(GraphLists().size(), 4u);
  ASSERT_EQ(state_->submissions.size(), 5u);
  EXPECT_TRUE(state_->submissions[0].done);
  EXPECT_EQ(state_->submissions[4].lists[0], state_->submissions[0].lists[0]);
  EXPECT_TRUE(state_->violations.empty()) << Violations(*state_);
  // Once the device has caught up, replays record nothing new.
  state_->CompleteAll();
  ASSERT_EQ(table_->graph_launch(stream_, graph, message_.get()), PORTA_OK) << message_.text;
  EXPECT_EQ(GraphLists().size(), 4u);
  ASSERT_EQ(table_->stream_synchronize(stream_, message_.get()), PORTA_OK) << message_.text;
  table_->graph_destroy(graph);
}

TEST_F(LevelZeroGraphTest, UpdateRecordsANewListAndLeavesQueuedReplaysAlone) {
  const uint32_t scalar = 7;
  porta_be_graph_t graph = nullptr;
  ASSERT_EQ(CreateGraph(&scalar, 3, &graph), PORTA_OK) << message_.text;
  ASSERT_EQ(table_->graph_launch(stream_, graph, message_.get()), PORTA_OK) << message_.text;
  const List* old_list = state_->submissions.back().lists[0];

  const uint32_t updated = 9;
  const std::vector<porta_be_arg_t> args = Args(&updated);
  ASSERT_EQ(table_->graph_update_kernel_args(graph, 0, args.data(), 3, message_.get()), PORTA_OK)
      << message_.text;
  // The queued replay keeps its list and its arguments.
  EXPECT_FALSE(old_list->destroyed);
  EXPECT_EQ(Read<uint32_t>(old_list->commands[0].args[1]), 7u);
  ASSERT_EQ(table_->graph_launch(stream_, graph, message_.get()), PORTA_OK) << message_.text;
  const List* new_list = state_->submissions.back().lists[0];
  EXPECT_NE(new_list, old_list);
  EXPECT_EQ(Read<uint32_t>(new_list->commands[0].args[1]), 9u);
  // The old list goes once its replay is seen to complete.
  ASSERT_EQ(table_->stream_synchronize(stream_, message_.get()), PORTA_OK) << message_.text;
  EXPECT_TRUE(old_list->destroyed);
  EXPECT_FALSE(new_list->destroyed);
  table_->graph_destroy(graph);
}

TEST_F(LevelZeroGraphTest, ReplayWhoseListsAnotherStreamHoldsIsDeclined) {
  const uint32_t scalar = 7;
  porta_be_graph_t graph = nullptr;
  ASSERT_EQ(CreateGraph(&scalar, 3, &graph), PORTA_OK) << message_.text;
  for (int i = 0; i < 4; ++i) {
    ASSERT_EQ(table_->graph_launch(stream_, graph, message_.get()), PORTA_OK) << message_.text;
  }
  const size_t submitted = state_->submissions.size();
  EXPECT_EQ(table_->graph_launch(other_stream_, graph, message_.get()), PORTA_ERROR_UNSUPPORTED);
  EXPECT_NE(std::string(message_.text).find("still queued on other streams"), std::string::npos)
      << message_.text;
  EXPECT_EQ(state_->submissions.size(), submitted);
  // Once the first stream has seen its replays complete, the other stream reuses a list.
  ASSERT_EQ(table_->stream_synchronize(stream_, message_.get()), PORTA_OK) << message_.text;
  ASSERT_EQ(table_->graph_launch(other_stream_, graph, message_.get()), PORTA_OK) << message_.text;
  EXPECT_EQ(GraphLists().size(), 4u);
  EXPECT_NE(state_->submissions.back().queue, state_->submissions.front().queue);
  table_->graph_destroy(graph);
}

TEST_F(LevelZeroGraphTest, ArgumentsTheKernelRefusesFailTheGraph) {
  const uint32_t scalar = 7;
  porta_be_graph_t graph = nullptr;
  EXPECT_EQ(CreateGraph(&scalar, 2, &graph), PORTA_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(message_.text).find("takes 3 parameters"), std::string::npos)
      << message_.text;
  EXPECT_TRUE(GraphLists().empty());
}

// Not a graph slot, but the same fake: a fault the driver reports for an event's work is the
// event's answer and the recording stream's sticky error; re-recorded on a healthy stream, the
// event is clean again.
TEST_F(LevelZeroGraphTest, EventCarriesTheFaultOfItsRecording) {
  porta_be_event_t event = nullptr;
  ASSERT_EQ(table_->event_create(device_, PORTA_EVENT_DEFAULT, &event, message_.get()), PORTA_OK);
  ASSERT_EQ(table_->event_record(event, stream_, message_.get()), PORTA_OK) << message_.text;
  state_->fail_call = "zeEventQueryStatus";
  state_->fail_result = ZE_RESULT_ERROR_DEVICE_LOST;
  EXPECT_EQ(table_->event_query(event, message_.get()), PORTA_ERROR_DEVICE_LOST);
  EXPECT_NE(std::string(message_.text).find("zeEventQueryStatus failed"), std::string::npos)
      << message_.text;
  // The driver answers success again, but the recording stays faulted, and so does its stream.
  Message wait;
  EXPECT_EQ(table_->event_wait(event, UINT64_MAX, wait.get()), PORTA_ERROR_DEVICE_LOST);
  EXPECT_NE(std::string(wait.text).find("zeEventQueryStatus failed"), std::string::npos)
      << wait.text;
  EXPECT_EQ(table_->stream_synchronize(stream_, message_.get()), PORTA_ERROR_DEVICE_LOST);
  ASSERT_EQ(table_->event_record(event, other_stream_, message_.get()), PORTA_OK) << message_.text;
  EXPECT_EQ(table_->event_wait(event, UINT64_MAX, message_.get()), PORTA_OK) << message_.text;
  EXPECT_EQ(table_->event_query(event, message_.get()), PORTA_OK) << message_.text;
  table_->event_destroy(event);
}

// Not a graph slot, but the same fake: native handles out, and the fake's allocations imported
// back as buffers (ABI 1.4).
TEST_F(LevelZeroGraphTest, NativeHandlesAndPointerImport) {
  porta::test::ExpectPointerImport(table_, device_, stream_, a_, 4096, false);
}

// Not a graph slot, but the same fake: host registration imports the range with Intel's
// zexDriverImportExternalPointer (the fake device cannot read pageable memory), copies through it
// skip the staging allocation, and host_unregister releases the import.
TEST_F(LevelZeroGraphTest, HostRegistration) {
  porta::test::ExpectHostRegistration(
      table_, device_, stream_, a_, [&] { return state_->host_imported.size(); },
      [&] {
        state_->fail_call = "zexDriverImportExternalPointer";
        state_->fail_result = ZE_RESULT_ERROR_OUT_OF_HOST_MEMORY;
      },
      "zexDriverImportExternalPointer");
  EXPECT_EQ(state_->host_released, 1);
}

}  // namespace
