// Unit tests of the CPU backend, driving its table as the runtime does (arguments already
// validated): the work-group thread pool, stream order, events across streams, host kernels and
// their faults, native graphs, and the errors only the backend can find.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

#include "backends/cpu/thread_pool.h"
#include "porta/porta_backend.h"
#include "porta/sdk/backend_test_support.h"

extern "C" porta_status_t porta_cpu_backend_entry(const porta_backend_host_t* host,
                                                  const porta_backend_table_t** out_table,
                                                  porta_be_msg msg);

namespace porta::cpu {
namespace {

using test::Message;

constexpr uint64_t kForever = UINT64_MAX;

//===--- Thread pool --------------------------------------------------------------------------===//

// Every index runs exactly once, whatever the pool size (none: the caller runs them all).
TEST(CpuThreadPool, RunsEveryIndexOnce) {
  for (unsigned threads : {0u, 1u, 3u}) {
    SCOPED_TRACE(threads);
    ThreadPool pool(threads);
    EXPECT_EQ(pool.thread_count(), threads);
    for (uint64_t count : {uint64_t{1}, uint64_t{7}, uint64_t{1000}}) {
      std::vector<std::atomic<int>> hits(count);
      Scratch scratch;
      pool.Run(
          count, [&](uint64_t index, Scratch&) { hits[index].fetch_add(1); }, scratch);
      for (uint64_t i = 0; i < count; ++i) ASSERT_EQ(hits[i].load(), 1) << "index " << i;
    }
  }
}

// Several submitters at once all finish (each runs its own indices when the pool is busy), and
// every thread's scratch hands out aligned memory of the asked size.
TEST(CpuThreadPool, ConcurrentSubmittersAllComplete) {
  ThreadPool pool(2);
  std::atomic<uint64_t> sum{0};
  std::atomic<bool> misaligned{false};
  std::vector<std::thread> submitters;
  for (int s = 0; s < 4; ++s) {
    submitters.emplace_back([&] {
      Scratch scratch;
      for (int round = 0; round < 20; ++round) {
        pool.Run(
            64,
            [&](uint64_t index, Scratch& group_scratch) {
              auto* memory = static_cast<uint8_t*>(group_scratch.Get(256 + index));
              if (memory == nullptr || reinterpret_cast<uintptr_t>(memory) % 64 != 0) {
                misaligned = true;
              } else {
                std::memset(memory, 0xab, 256 + index);
              }
              sum.fetch_add(index + 1);
            },
            scratch);
      }
    });
  }
  for (std::thread& submitter : submitters) submitter.join();
  EXPECT_FALSE(misaligned.load());
  EXPECT_EQ(sum.load(), 4u * 20u * (64u * 65u / 2u));
}

//===--- The backend through its table --------------------------------------------------------===//

TEST(CpuBackend, EntryServesACompleteTable) {
  test::ExpectCompleteTable(porta_cpu_backend_entry, "cpu");
  test::ExpectRefusesOtherMajor(porta_cpu_backend_entry);
  const porta_backend_table_t* table = nullptr;
  Message message;
  EXPECT_EQ(porta_cpu_backend_entry(nullptr, &table, message.get()), PORTA_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(message.text).find("porta_cpu_backend_entry"), std::string::npos)
      << message.text;
}

// Host kernels of the tests. Arguments: see each kernel.

// out[i] = in[i] * scale + group id x, for the work-items of the group; args: in, out, scale.
int32_t ScaleKernel(const porta_host_group_t* group) {
  const auto* in = static_cast<const float*>(group->args[0].ptr);
  auto* out = static_cast<float*>(group->args[1].ptr);
  float scale;
  std::memcpy(&scale, group->args[2].ptr, sizeof(scale));
  const uint32_t begin = group->group_id[0] * group->group_size[0];
  for (uint32_t i = begin; i < begin + group->group_size[0]; ++i) {
    out[i] = in[i] * scale + static_cast<float>(group->group_id[0]);
  }
  return 0;
}

// Adds 1 to out[0] once per group, through local memory the launch asked for; args: out.
int32_t LocalMemoryKernel(const porta_host_group_t* group) {
  if (group->local_memory == nullptr || group->local_memory_bytes < sizeof(uint32_t) ||
      reinterpret_cast<uintptr_t>(group->local_memory) % 64 != 0) {
    return 2;
  }
  std::memset(group->local_memory, 0, group->local_memory_bytes);
  auto* counter = static_cast<std::atomic<uint32_t>*>(group->args[0].ptr);
  counter->fetch_add(1);
  return 0;
}

// Fails in group 3; args: none.
int32_t FaultingKernel(const porta_host_group_t* group) {
  return group->group_id[0] == 3 ? 17 : 0;
}

int32_t ThrowingKernel(const porta_host_group_t*) {
  throw std::runtime_error("kernel threw");
}

// Blocks until the flag its scalar points to is set; args: scalar (a std::atomic<bool>*).
int32_t GateKernel(const porta_host_group_t* group) {
  std::atomic<bool>* gate;
  std::memcpy(&gate, group->args[0].ptr, sizeof(gate));
  while (!gate->load()) std::this_thread::sleep_for(std::chrono::microseconds(100));
  return 0;
}

const porta_host_kernel_t kKernels[] = {
    {"scale", ScaleKernel},     {"local", LocalMemoryKernel}, {"fault", FaultingKernel},
    {"throws", ThrowingKernel}, {"gate", GateKernel},
};

class CpuBackendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    t_ = test::Table(porta_cpu_backend_entry);
    ASSERT_NE(t_, nullptr);
    const porta_backend_host_t host = test::Host();
    ASSERT_EQ(t_->init(&host, &backend_, m_.get()), PORTA_OK) << m_.text;
    uint32_t count = 0;
    ASSERT_EQ(t_->device_count(backend_, &count, m_.get()), PORTA_OK);
    ASSERT_EQ(count, 1u);
    ASSERT_EQ(t_->device_open(backend_, 0, &device_, m_.get()), PORTA_OK) << m_.text;
    ASSERT_EQ(t_->stream_create(device_, &stream_, m_.get()), PORTA_OK) << m_.text;
    porta_module_source_t source{};
    source.format = PORTA_FORMAT_HOST;
    source.data = kKernels;
    source.size = sizeof(kKernels);
    ASSERT_EQ(t_->module_load(device_, &source, &module_, m_.get()), PORTA_OK) << m_.text;
  }

  void TearDown() override {
    if (stream_ != nullptr) {
      t_->stream_synchronize(stream_, m_.get());
      t_->stream_destroy(stream_);
    }
    for (porta_be_buffer_t buffer : buffers_) t_->buffer_free(buffer);
    if (module_ != nullptr) t_->module_destroy(module_);
    if (device_ != nullptr) t_->device_close(device_);
    if (backend_ != nullptr) t_->shutdown(backend_);
  }

  porta_be_buffer_t Alloc(uint64_t size) {
    porta_be_buffer_t buffer = nullptr;
    EXPECT_EQ(t_->buffer_alloc(device_, size, PORTA_MEMORY_DEVICE, &buffer, m_.get()), PORTA_OK)
        << m_.text;
    buffers_.push_back(buffer);
    return buffer;
  }

  porta_be_kernel_t Kernel(const char* name) {
    porta_be_kernel_t kernel = nullptr;
    EXPECT_EQ(t_->module_get_kernel(module_, name, &kernel, m_.get()), PORTA_OK) << m_.text;
    return kernel;
  }

  static porta_launch_config_t Config(uint32_t groups, uint32_t group_size,
                                      uint64_t local_memory_bytes = 0) {
    porta_launch_config_t config{};
    config.struct_size = sizeof(config);
    config.grid[0] = groups;
    config.grid[1] = config.grid[2] = 1;
    config.block[0] = group_size;
    config.block[1] = config.block[2] = 1;
    config.local_memory_bytes = local_memory_bytes;
    return config;
  }

  static porta_be_arg_t BufferArg(porta_be_buffer_t buffer, uint64_t offset = 0) {
    return {PORTA_ARG_BUFFER, buffer, offset, nullptr, 0};
  }
  template <typename T>
  static porta_be_arg_t ScalarArg(const T* value) {
    return {PORTA_ARG_SCALAR, nullptr, 0, value, sizeof(T)};
  }

  std::vector<float> Read(porta_be_buffer_t buffer, size_t count) {
    std::vector<float> values(count);
    EXPECT_EQ(
        t_->copy_device_to_host(stream_, values.data(), buffer, 0, count * sizeof(float), m_.get()),
        PORTA_OK)
        << m_.text;
    EXPECT_EQ(t_->stream_synchronize(stream_, m_.get()), PORTA_OK) << m_.text;
    return values;
  }

  const porta_backend_table_t* t_ = nullptr;
  Message m_;
  porta_be_backend_t backend_ = nullptr;
  porta_be_device_t device_ = nullptr;
  porta_be_stream_t stream_ = nullptr;
  porta_be_module_t module_ = nullptr;
  std::vector<porta_be_buffer_t> buffers_;
};

TEST_F(CpuBackendTest, DescribesTheHost) {
  porta_device_info_t info{};
  info.struct_size = sizeof(info);
  ASSERT_EQ(t_->device_get_info(device_, &info, m_.get()), PORTA_OK);
  EXPECT_STREQ(info.backend, "cpu");
  EXPECT_EQ(info.type, PORTA_DEVICE_TYPE_CPU);
  EXPECT_EQ(info.kernel_formats, PORTA_FORMAT_BIT(PORTA_FORMAT_HOST));
  EXPECT_GE(info.compute_units, 1u);
  EXPECT_GT(info.global_memory_bytes, 0u);
  EXPECT_EQ(info.max_allocation_bytes, info.global_memory_bytes / 2);
  EXPECT_TRUE(info.capabilities & PORTA_CAP_NATIVE_GRAPHS);
  uint64_t free_bytes = 0;
  ASSERT_EQ(t_->device_memory_info(device_, &free_bytes, m_.get()), PORTA_OK) << m_.text;
  EXPECT_GT(free_bytes, 0u);
  EXPECT_LE(free_bytes, info.global_memory_bytes);
}

// Copies, fills and launches queued back to back run in the order they were queued: each one
// reads what the one before wrote.
TEST_F(CpuBackendTest, StreamRunsItsWorkInOrder) {
  constexpr size_t kCount = 4096;
  porta_be_buffer_t a = Alloc(kCount * sizeof(float));
  porta_be_buffer_t b = Alloc(kCount * sizeof(float));
  std::vector<float> input(kCount);
  std::iota(input.begin(), input.end(), 0.0f);
  const float two = 2.0f;
  const float one = 1.0f;
  const porta_launch_config_t config = Config(kCount / 64, 64);
  porta_be_kernel_t scale = Kernel("scale");
  for (int round = 0; round < 10; ++round) {
    ASSERT_EQ(
        t_->copy_host_to_device(stream_, a, 0, input.data(), kCount * sizeof(float), m_.get()),
        PORTA_OK);
    // b = a * 2 + group; a = b (copy); b = a * 1 + group: b = 2 * input + 2 * group.
    porta_be_arg_t args[3] = {BufferArg(a), BufferArg(b), ScalarArg(&two)};
    ASSERT_EQ(t_->kernel_launch(stream_, scale, &config, args, 3, m_.get()), PORTA_OK);
    ASSERT_EQ(t_->copy_device_to_device(stream_, a, 0, b, 0, kCount * sizeof(float), m_.get()),
              PORTA_OK);
    args[2] = ScalarArg(&one);
    ASSERT_EQ(t_->kernel_launch(stream_, scale, &config, args, 3, m_.get()), PORTA_OK);
  }
  // A fill of the second half with 1.0f comes after all of it.
  const uint32_t pattern = 0x3f800000u;
  ASSERT_EQ(t_->fill_buffer(stream_, b, kCount / 2 * sizeof(float), kCount / 2 * sizeof(float),
                            &pattern, 4, m_.get()),
            PORTA_OK);
  const std::vector<float> result = Read(b, kCount);
  for (size_t i = 0; i < kCount; ++i) {
    const float expected =
        i < kCount / 2 ? 2.0f * input[i] + 2.0f * static_cast<float>(i / 64) : 1.0f;
    ASSERT_EQ(result[i], expected) << "element " << i;
  }
}

TEST_F(CpuBackendTest, FillsWithEveryPatternSize) {
  porta_be_buffer_t buffer = Alloc(64);
  const uint8_t byte = 0x5a;
  const uint16_t half = 0x1234;
  const uint32_t word = 0xdeadbeef;
  ASSERT_EQ(t_->fill_buffer(stream_, buffer, 0, 64, &word, 4, m_.get()), PORTA_OK);
  ASSERT_EQ(t_->fill_buffer(stream_, buffer, 8, 6, &half, 2, m_.get()), PORTA_OK);
  ASSERT_EQ(t_->fill_buffer(stream_, buffer, 17, 3, &byte, 1, m_.get()), PORTA_OK);
  uint8_t bytes[64];
  ASSERT_EQ(t_->copy_device_to_host(stream_, bytes, buffer, 0, 64, m_.get()), PORTA_OK);
  ASSERT_EQ(t_->stream_synchronize(stream_, m_.get()), PORTA_OK) << m_.text;
  for (size_t i = 0; i < 64; ++i) {
    uint8_t expected = reinterpret_cast<const uint8_t*>(&word)[i % 4];
    if (i >= 8 && i < 14) expected = reinterpret_cast<const uint8_t*>(&half)[i % 2];
    if (i >= 17 && i < 20) expected = byte;
    ASSERT_EQ(bytes[i], expected) << "byte " << i;
  }
}

TEST_F(CpuBackendTest, MapsHostMemoryInPlace) {
  porta_be_buffer_t buffer = Alloc(256);
  const uint32_t word = 7;
  ASSERT_EQ(t_->fill_buffer(stream_, buffer, 0, 256, &word, 4, m_.get()), PORTA_OK);
  ASSERT_EQ(t_->stream_synchronize(stream_, m_.get()), PORTA_OK);
  void* mapped = nullptr;
  ASSERT_EQ(t_->buffer_map(buffer, 16, 32, &mapped, m_.get()), PORTA_OK);
  uint64_t address = 0;
  ASSERT_EQ(t_->buffer_native_handle(buffer, &address, m_.get()), PORTA_OK);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(mapped), address + 16);
  EXPECT_EQ(static_cast<const uint32_t*>(mapped)[0], 7u);
  EXPECT_EQ(t_->buffer_unmap(buffer, m_.get()), PORTA_OK);
}

TEST_F(CpuBackendTest, LaunchGetsLocalMemoryPerGroup) {
  porta_be_buffer_t counter = Alloc(sizeof(uint32_t));
  const uint32_t zero = 0;
  ASSERT_EQ(t_->fill_buffer(stream_, counter, 0, 4, &zero, 4, m_.get()), PORTA_OK);
  const porta_launch_config_t config = Config(100, 1, 1000);
  porta_be_arg_t arg = BufferArg(counter);
  ASSERT_EQ(t_->kernel_launch(stream_, Kernel("local"), &config, &arg, 1, m_.get()), PORTA_OK);
  uint32_t groups = 0;
  ASSERT_EQ(t_->copy_device_to_host(stream_, &groups, counter, 0, 4, m_.get()), PORTA_OK);
  ASSERT_EQ(t_->stream_synchronize(stream_, m_.get()), PORTA_OK) << m_.text;
  EXPECT_EQ(groups, 100u);
}

// A group's nonzero return is the stream's sticky fault, naming the kernel, the value and the
// group; later work is refused with it and events recorded after it carry it.
TEST_F(CpuBackendTest, KernelFaultIsStickyOnTheStream) {
  const porta_launch_config_t config = Config(8, 1);
  ASSERT_EQ(t_->kernel_launch(stream_, Kernel("fault"), &config, nullptr, 0, m_.get()), PORTA_OK);
  EXPECT_EQ(t_->stream_synchronize(stream_, m_.get()), PORTA_ERROR_DEVICE_LOST);
  EXPECT_NE(std::string(m_.text).find("host kernel 'fault' returned 17 in work-group (3,0,0)"),
            std::string::npos)
      << m_.text;
  EXPECT_EQ(t_->stream_query(stream_, m_.get()), PORTA_ERROR_DEVICE_LOST);
  porta_be_buffer_t buffer = Alloc(16);
  const uint32_t word = 1;
  EXPECT_EQ(t_->fill_buffer(stream_, buffer, 0, 16, &word, 4, m_.get()), PORTA_ERROR_DEVICE_LOST);
  porta_be_event_t event = nullptr;
  ASSERT_EQ(t_->event_create(device_, 0, &event, m_.get()), PORTA_OK);
  EXPECT_EQ(t_->event_record(event, stream_, m_.get()), PORTA_ERROR_DEVICE_LOST);
  EXPECT_EQ(t_->event_query(event, m_.get()), PORTA_ERROR_DEVICE_LOST);
  EXPECT_EQ(t_->event_wait(event, kForever, m_.get()), PORTA_ERROR_DEVICE_LOST);
  t_->event_destroy(event);
}

TEST_F(CpuBackendTest, KernelExceptionIsAFaultNotACrash) {
  const porta_launch_config_t config = Config(4, 1);
  ASSERT_EQ(t_->kernel_launch(stream_, Kernel("throws"), &config, nullptr, 0, m_.get()), PORTA_OK);
  EXPECT_EQ(t_->stream_synchronize(stream_, m_.get()), PORTA_ERROR_DEVICE_LOST);
  EXPECT_NE(std::string(m_.text).find("host kernel 'throws' threw a C++ exception"),
            std::string::npos)
      << m_.text;
}

// An event orders a second stream after the first: the second stream's copy waits for a gate the
// first stream's kernel holds closed, and a stream waiting on a faulted recording faults too.
TEST_F(CpuBackendTest, EventsOrderStreams) {
  porta_be_stream_t second = nullptr;
  ASSERT_EQ(t_->stream_create(device_, &second, m_.get()), PORTA_OK);
  porta_be_event_t event = nullptr;
  ASSERT_EQ(t_->event_create(device_, 0, &event, m_.get()), PORTA_OK);
  // Never recorded: complete.
  EXPECT_EQ(t_->event_query(event, m_.get()), PORTA_OK);

  std::atomic<bool> gate{false};
  std::atomic<bool>* gate_pointer = &gate;
  porta_be_arg_t arg = ScalarArg(&gate_pointer);
  const porta_launch_config_t config = Config(1, 1);
  ASSERT_EQ(t_->kernel_launch(stream_, Kernel("gate"), &config, &arg, 1, m_.get()), PORTA_OK);
  ASSERT_EQ(t_->event_record(event, stream_, m_.get()), PORTA_OK);
  ASSERT_EQ(t_->stream_wait_event(second, event, m_.get()), PORTA_OK);
  porta_be_buffer_t buffer = Alloc(4);
  const uint32_t word = 9;
  ASSERT_EQ(t_->fill_buffer(second, buffer, 0, 4, &word, 4, m_.get()), PORTA_OK);

  EXPECT_EQ(t_->event_query(event, m_.get()), PORTA_NOT_READY);
  EXPECT_EQ(t_->stream_query(second, m_.get()), PORTA_NOT_READY);
  EXPECT_EQ(t_->event_wait(event, 1000000, m_.get()), PORTA_ERROR_TIMEOUT);
  gate = true;
  EXPECT_EQ(t_->event_wait(event, kForever, m_.get()), PORTA_OK) << m_.text;
  EXPECT_EQ(t_->stream_synchronize(second, m_.get()), PORTA_OK) << m_.text;

  // Now a faulted recording: the waiting stream inherits the fault.
  const porta_launch_config_t faulting = Config(4, 1);
  ASSERT_EQ(t_->kernel_launch(stream_, Kernel("fault"), &faulting, nullptr, 0, m_.get()), PORTA_OK);
  t_->event_record(event, stream_, m_.get());
  ASSERT_EQ(t_->stream_wait_event(second, event, m_.get()), PORTA_OK);
  EXPECT_EQ(t_->stream_synchronize(second, m_.get()), PORTA_ERROR_DEVICE_LOST);
  EXPECT_NE(std::string(m_.text).find("waited on an event recorded after a fault"),
            std::string::npos)
      << m_.text;

  t_->event_destroy(event);
  t_->stream_destroy(second);
}

TEST_F(CpuBackendTest, ElapsedTimeCoversTheWorkBetweenTwoEvents) {
  porta_be_event_t start = nullptr;
  porta_be_event_t end = nullptr;
  ASSERT_EQ(t_->event_create(device_, 0, &start, m_.get()), PORTA_OK);
  ASSERT_EQ(t_->event_create(device_, 0, &end, m_.get()), PORTA_OK);
  std::atomic<bool> gate{false};
  std::atomic<bool>* gate_pointer = &gate;
  porta_be_arg_t arg = ScalarArg(&gate_pointer);
  const porta_launch_config_t config = Config(1, 1);
  ASSERT_EQ(t_->event_record(start, stream_, m_.get()), PORTA_OK);
  ASSERT_EQ(t_->kernel_launch(stream_, Kernel("gate"), &config, &arg, 1, m_.get()), PORTA_OK);
  ASSERT_EQ(t_->event_record(end, stream_, m_.get()), PORTA_OK);
  float ms = -1.0f;
  EXPECT_EQ(t_->event_elapsed_ms(start, end, &ms, m_.get()), PORTA_NOT_READY);
  // The end completes only after the gate opens, 20 ms after the start has completed.
  ASSERT_EQ(t_->event_wait(start, kForever, m_.get()), PORTA_OK);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  gate = true;
  ASSERT_EQ(t_->event_wait(end, kForever, m_.get()), PORTA_OK);
  ASSERT_EQ(t_->event_elapsed_ms(start, end, &ms, m_.get()), PORTA_OK) << m_.text;
  EXPECT_GE(ms, 19.5f);
  t_->event_destroy(start);
  t_->event_destroy(end);
}

TEST_F(CpuBackendTest, HostFunctionRunsInStreamOrder) {
  struct State {
    std::atomic<bool> gate{false};
    std::atomic<bool> called{false};
    bool gate_was_open = false;
  } state;
  std::atomic<bool>* gate_pointer = &state.gate;
  porta_be_arg_t arg = ScalarArg(&gate_pointer);
  const porta_launch_config_t config = Config(1, 1);
  ASSERT_EQ(t_->kernel_launch(stream_, Kernel("gate"), &config, &arg, 1, m_.get()), PORTA_OK);
  ASSERT_EQ(t_->stream_host_func(
                stream_,
                [](void* user) {
                  auto* s = static_cast<State*>(user);
                  s->gate_was_open = s->gate.load();
                  s->called = true;
                },
                &state, m_.get()),
            PORTA_OK);
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_FALSE(state.called.load());
  state.gate = true;
  ASSERT_EQ(t_->stream_synchronize(stream_, m_.get()), PORTA_OK);
  EXPECT_TRUE(state.called.load());
  EXPECT_TRUE(state.gate_was_open);
}

// A native graph of a fill, a launch and a copy replays in node order; an argument update
// changes later replays only.
TEST_F(CpuBackendTest, NativeGraphReplaysAndTakesNewArguments) {
  constexpr size_t kCount = 256;
  porta_be_buffer_t in = Alloc(kCount * sizeof(float));
  porta_be_buffer_t out = Alloc(kCount * sizeof(float));
  porta_be_buffer_t copy = Alloc(kCount * sizeof(float));
  const uint32_t three = 0x40400000u;  // 3.0f
  const float two = 2.0f;
  const float ten = 10.0f;
  const porta_launch_config_t config = Config(kCount / 32, 32);
  porta_be_arg_t args[3] = {BufferArg(in), BufferArg(out), ScalarArg(&two)};
  porta_be_graph_node_t nodes[3] = {};
  nodes[0].kind = PORTA_GRAPH_NODE_FILL;
  nodes[0].dst = in;
  nodes[0].size = kCount * sizeof(float);
  nodes[0].pattern = &three;
  nodes[0].pattern_size = 4;
  nodes[1].kind = PORTA_GRAPH_NODE_KERNEL;
  nodes[1].kernel = Kernel("scale");
  nodes[1].config = &config;
  nodes[1].args = args;
  nodes[1].arg_count = 3;
  nodes[2].kind = PORTA_GRAPH_NODE_COPY_DEVICE_TO_DEVICE;
  nodes[2].dst = copy;
  nodes[2].src = out;
  nodes[2].size = kCount * sizeof(float);
  porta_be_graph_t graph = nullptr;
  ASSERT_EQ(t_->graph_create(device_, nodes, 3, &graph, m_.get()), PORTA_OK) << m_.text;
  // The graph copied what it keeps.
  args[2] = ScalarArg(&ten);

  ASSERT_EQ(t_->graph_launch(stream_, graph, m_.get()), PORTA_OK);
  std::vector<float> result = Read(copy, kCount);
  for (size_t i = 0; i < kCount; ++i) ASSERT_EQ(result[i], 6.0f + static_cast<float>(i / 32));

  // Queued before the update: runs with 2.0; after it: with 10.0.
  std::atomic<bool> gate{false};
  std::atomic<bool>* gate_pointer = &gate;
  porta_be_arg_t gate_arg = ScalarArg(&gate_pointer);
  const porta_launch_config_t one = Config(1, 1);
  ASSERT_EQ(t_->kernel_launch(stream_, Kernel("gate"), &one, &gate_arg, 1, m_.get()), PORTA_OK);
  ASSERT_EQ(t_->graph_launch(stream_, graph, m_.get()), PORTA_OK);
  porta_be_buffer_t first = Alloc(kCount * sizeof(float));
  ASSERT_EQ(t_->copy_device_to_device(stream_, first, 0, copy, 0, kCount * sizeof(float), m_.get()),
            PORTA_OK);
  porta_be_arg_t updated[3] = {BufferArg(in), BufferArg(out), ScalarArg(&ten)};
  ASSERT_EQ(t_->graph_update_kernel_args(graph, 1, updated, 3, m_.get()), PORTA_OK) << m_.text;
  ASSERT_EQ(t_->graph_launch(stream_, graph, m_.get()), PORTA_OK);
  gate = true;
  std::vector<float> before = Read(first, kCount);
  result = Read(copy, kCount);
  for (size_t i = 0; i < kCount; ++i) {
    ASSERT_EQ(before[i], 6.0f + static_cast<float>(i / 32)) << i;
    ASSERT_EQ(result[i], 30.0f + static_cast<float>(i / 32)) << i;
  }
  t_->graph_destroy(graph);
}

//===--- Errors only the backend can find -----------------------------------------------------===//

TEST_F(CpuBackendTest, RejectsMalformedHostModules) {
  porta_module_source_t source{};
  source.format = PORTA_FORMAT_HOST;
  porta_be_module_t module = nullptr;

  source.data = kKernels;
  source.size = sizeof(porta_host_kernel_t) + 1;
  EXPECT_EQ(t_->module_load(device_, &source, &module, m_.get()), PORTA_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(m_.text).find("not a multiple of sizeof(porta_host_kernel_t)"),
            std::string::npos)
      << m_.text;

  const porta_host_kernel_t no_function[] = {{"scale", nullptr}};
  source.data = no_function;
  source.size = sizeof(no_function);
  EXPECT_EQ(t_->module_load(device_, &source, &module, m_.get()), PORTA_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(m_.text).find("entry 0 ('scale') has a NULL function"), std::string::npos)
      << m_.text;

  const porta_host_kernel_t unnamed[] = {{"", ScaleKernel}};
  source.data = unnamed;
  source.size = sizeof(unnamed);
  EXPECT_EQ(t_->module_load(device_, &source, &module, m_.get()), PORTA_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(m_.text).find("has an empty name"), std::string::npos) << m_.text;

  const porta_host_kernel_t twice[] = {{"scale", ScaleKernel}, {"scale", FaultingKernel}};
  source.data = twice;
  source.size = sizeof(twice);
  EXPECT_EQ(t_->module_load(device_, &source, &module, m_.get()), PORTA_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(m_.text).find("repeats the kernel name 'scale'"), std::string::npos)
      << m_.text;

  const char* wanted[] = {"scale", "missing"};
  source.data = kKernels;
  source.size = sizeof(kKernels);
  source.entry_names = wanted;
  source.entry_count = 2;
  EXPECT_EQ(t_->module_load(device_, &source, &module, m_.get()), PORTA_ERROR_NOT_FOUND);
  EXPECT_NE(std::string(m_.text).find("no kernel 'missing'; it has: scale, local, fault"),
            std::string::npos)
      << m_.text;
  EXPECT_EQ(module, nullptr);

  porta_be_kernel_t kernel = nullptr;
  EXPECT_EQ(t_->module_get_kernel(module_, "nope", &kernel, m_.get()), PORTA_ERROR_NOT_FOUND);
  EXPECT_EQ(kernel, nullptr);
}

TEST_F(CpuBackendTest, ImportsAlignedHostMemoryOnly) {
  alignas(64) static uint8_t memory[256];
  porta_native_handles_t native{};
  native.struct_size = sizeof(native);
  std::strcpy(native.backend, "cpu");
  native.count = 1;
  native.handles[PORTA_NATIVE_CPU_BUFFER_POINTER] = reinterpret_cast<uintptr_t>(memory + 8);
  porta_be_buffer_t buffer = nullptr;
  EXPECT_EQ(t_->buffer_import(device_, &native, 64, PORTA_MEMORY_DEVICE, &buffer, m_.get()),
            PORTA_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(m_.text).find("is not 16-byte aligned"), std::string::npos) << m_.text;

  native.handles[PORTA_NATIVE_CPU_BUFFER_POINTER] = reinterpret_cast<uintptr_t>(memory);
  ASSERT_EQ(t_->buffer_import(device_, &native, 256, PORTA_MEMORY_DEVICE, &buffer, m_.get()),
            PORTA_OK)
      << m_.text;
  const uint32_t word = 0x01010101u;
  ASSERT_EQ(t_->fill_buffer(stream_, buffer, 0, 256, &word, 4, m_.get()), PORTA_OK);
  ASSERT_EQ(t_->stream_synchronize(stream_, m_.get()), PORTA_OK);
  EXPECT_EQ(memory[255], 1u);
  // Freeing an imported buffer leaves the application's memory alone.
  t_->buffer_free(buffer);
  EXPECT_EQ(memory[0], 1u);
}

// Host memory needs no registration and one device has no peer: both decline, so the runtime
// takes its own paths.
TEST_F(CpuBackendTest, DeclinesHostRegistrationAndPeerCopies) {
  static uint8_t memory[4096];
  porta_be_host_registration_t registration = nullptr;
  EXPECT_EQ(t_->host_register(device_, memory, sizeof(memory), PORTA_HOST_REGISTER_DEFAULT,
                              &registration, m_.get()),
            PORTA_ERROR_UNSUPPORTED);
  EXPECT_EQ(registration, nullptr);
  porta_be_buffer_t a = Alloc(16);
  porta_be_buffer_t b = Alloc(16);
  EXPECT_EQ(t_->copy_peer(stream_, a, 0, b, 0, 16, m_.get()), PORTA_ERROR_UNSUPPORTED);
}

}  // namespace
}  // namespace porta::cpu
