// Native graphs on the OpenCL backend, through the public API: runs replay as command buffers
// where the driver has cl_khr_command_buffer 0.9.0-0.9.4 (PoCL 3.1 does) and node by node under
// the npu profile; argument updates reach later replays and leave queued ones alone; replays are
// right on a second stream, after the stream moved to a profiling queue, on more streams than a
// graph keeps command buffers for, and when a node needs staging (which declines the run).
// Skips without an OpenCL device.
#include <dlfcn.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "backends/opencl/cl_headers.h"
#include "porta/porta.h"

namespace {

constexpr char kSource[] = R"CLC(
__kernel void scale_add(__global float* y, __global const float* x, float alpha, uint n) {
  uint i = get_global_id(0);
  if (i < n) y[i] += alpha * x[i];
}
// Keeps one work-item busy for |iterations| steps, so that work queued behind it stays queued.
__kernel void spin(__global uint* out, uint iterations) {
  uint x = out[0];
  for (uint i = 0; i < iterations; ++i) x = (x ^ (x >> 7)) * 0x9E3779B1u + i;
  out[0] = x;
}
)CLC";

constexpr uint32_t kN = 1024;
constexpr uint32_t kBlock = 64;
constexpr uint64_t kBytes = kN * sizeof(float);

// Whether the OpenCL device called |name| lists cl_khr_command_buffer at a version the backend
// uses, asked of the driver directly.
bool DriverHasCommandBuffers(const char* name) {
  void* library = dlopen("libOpenCL.so.1", RTLD_NOW | RTLD_LOCAL);
  if (library == nullptr) return false;
  auto get_platforms =
      reinterpret_cast<decltype(&clGetPlatformIDs)>(dlsym(library, "clGetPlatformIDs"));
  auto get_devices = reinterpret_cast<decltype(&clGetDeviceIDs)>(dlsym(library, "clGetDeviceIDs"));
  auto get_info = reinterpret_cast<decltype(&clGetDeviceInfo)>(dlsym(library, "clGetDeviceInfo"));
  bool found = false;
  cl_platform_id platforms[16];
  cl_uint platform_count = 0;
  if (get_platforms != nullptr && get_devices != nullptr && get_info != nullptr &&
      get_platforms(16, platforms, &platform_count) == CL_SUCCESS) {
    for (cl_uint p = 0; p < platform_count && p < 16 && !found; ++p) {
      cl_device_id devices[16];
      cl_uint device_count = 0;
      if (get_devices(platforms[p], CL_DEVICE_TYPE_ALL, 16, devices, &device_count) != CL_SUCCESS)
        continue;
      for (cl_uint d = 0; d < device_count && d < 16 && !found; ++d) {
        char device_name[256] = "";
        get_info(devices[d], CL_DEVICE_NAME, sizeof(device_name), device_name, nullptr);
        if (std::strcmp(device_name, name) != 0) continue;
        std::vector<cl_name_version> list(512);
        size_t bytes = 0;
        if (get_info(devices[d], CL_DEVICE_EXTENSIONS_WITH_VERSION,
                     list.size() * sizeof(cl_name_version), list.data(), &bytes) != CL_SUCCESS) {
          continue;
        }
        for (size_t i = 0; i < bytes / sizeof(cl_name_version); ++i) {
          if (std::strcmp(list[i].name, "cl_khr_command_buffer") == 0) {
            found = list[i].version >= CL_MAKE_VERSION(0, 9, 0) &&
                    list[i].version <= CL_MAKE_VERSION(0, 9, 4);
          }
        }
      }
    }
  }
  dlclose(library);
  return found;
}

bool EnvIs(const char* name, const char* value) {
  const char* set = std::getenv(name);
  return set != nullptr && std::strcmp(set, value) == 0;
}

#define ASSERT_OK(call) ASSERT_EQ((call), PORTA_OK) << porta_last_error_message()

class OpenclGraphTest : public ::testing::Test {
 protected:
  void SetUp() override {
    porta_runtime_options_t options = PORTA_RUNTIME_OPTIONS_INIT;
    options.device_filter = "opencl";
    options.flags = PORTA_RUNTIME_IGNORE_PLUGIN_PATH_ENV;
    ASSERT_OK(porta_runtime_create(&options, &runtime_));
    uint32_t count = 0;
    ASSERT_OK(porta_runtime_device_count(runtime_, &count));
    if (count == 0) GTEST_SKIP() << "no OpenCL device";
    ASSERT_OK(porta_runtime_device(runtime_, 0, &device_));
    ASSERT_OK(porta_device_get_info(device_, &info_));
    expect_native_ = DriverHasCommandBuffers(info_.name) && !EnvIs("PORTA_OPENCL_PROFILE", "npu") &&
                     !EnvIs("PORTA_GRAPH_NATIVE", "0");
    porta_module_source_t source = {
        PORTA_FORMAT_OPENCL_C, kSource, sizeof(kSource) - 1, nullptr, nullptr, 0};
    porta_module_desc_t desc = PORTA_MODULE_DESC_INIT;
    desc.sources = &source;
    desc.source_count = 1;
    ASSERT_OK(porta_module_load(device_, &desc, &module_));
    ASSERT_OK(porta_module_get_kernel(module_, "scale_add", &scale_add_));
    ASSERT_OK(porta_module_get_kernel(module_, "spin", &spin_));
    ASSERT_OK(porta_stream_create(device_, &stream_));
    hx_.resize(kN);
    for (uint32_t i = 0; i < kN; ++i) hx_[i] = static_cast<float>(i % 13) - 6.0f;
    ASSERT_OK(Alloc(&x_, kBytes));
    ASSERT_OK(porta_copy_host_to_device(stream_, x_, 0, hx_.data(), kBytes));
    ASSERT_OK(porta_stream_synchronize(stream_));
  }

  void TearDown() override {
    if (stream_ != nullptr) porta_stream_synchronize(stream_);
    for (porta_buffer_t buffer : buffers_) porta_buffer_free(buffer);
    if (stream_ != nullptr) porta_stream_destroy(stream_);
    if (module_ != nullptr) porta_module_destroy(module_);
    if (runtime_ != nullptr) porta_runtime_destroy(runtime_);
  }

  porta_status_t Alloc(porta_buffer_t* out, uint64_t bytes) {
    const porta_status_t status = porta_buffer_alloc(device_, bytes, PORTA_MEMORY_DEVICE, out);
    if (status == PORTA_OK) buffers_.push_back(*out);
    return status;
  }

  // Queues y[offset..] += alpha * x over kN elements.
  porta_status_t ScaleAdd(porta_stream_t stream, porta_buffer_t y, uint64_t y_offset,
                          const float* alpha) {
    porta_launch_config_t config = PORTA_LAUNCH_CONFIG_INIT;
    config.block[0] = kBlock;
    config.grid[0] = kN / kBlock;
    const porta_kernel_arg_t args[] = {porta_arg_buffer(y, y_offset), porta_arg_buffer(x_, 0),
                                       porta_arg_scalar(alpha, 4), porta_arg_scalar(&n_, 4)};
    return porta_kernel_launch(stream, scale_add_, &config, args, 4);
  }

  std::vector<float> Read(porta_stream_t stream, porta_buffer_t buffer, uint64_t offset = 0) {
    std::vector<float> out(kN, -1000.0f);
    EXPECT_EQ(porta_copy_device_to_host(stream, out.data(), buffer, offset, kBytes), PORTA_OK)
        << porta_last_error_message();
    EXPECT_EQ(porta_stream_synchronize(stream), PORTA_OK) << porta_last_error_message();
    return out;
  }

  uint32_t NativeNodes(porta_graph_exec_t exec) {
    uint32_t native = 99;
    EXPECT_EQ(porta_graph_exec_native_node_count(exec, &native), PORTA_OK);
    return native;
  }

  porta_runtime_t runtime_ = nullptr;
  porta_device_t device_ = nullptr;
  porta_device_info_t info_ = PORTA_DEVICE_INFO_INIT;
  bool expect_native_ = false;
  porta_module_t module_ = nullptr;
  porta_kernel_t scale_add_ = nullptr;
  porta_kernel_t spin_ = nullptr;
  porta_stream_t stream_ = nullptr;
  std::vector<porta_buffer_t> buffers_;
  porta_buffer_t x_ = nullptr;
  std::vector<float> hx_;
  const uint32_t n_ = kN;
};

// Graph: y = 0, then y += 1x, 2x, 3x (y = 6x), then z = y. Replayed on the first stream, a
// second stream, the first again after a timed event moved it to a profiling queue (timed around
// a replay), and on more streams than a graph keeps command buffers for.
TEST_F(OpenclGraphTest, ReplaysOnOtherStreamsAndAfterTheProfilingSwitch) {
  porta_buffer_t y = nullptr, z = nullptr;
  ASSERT_OK(Alloc(&y, kBytes));
  ASSERT_OK(Alloc(&z, kBytes));
  const float zero = 0.0f, one = 1.0f, two = 2.0f, three = 3.0f;
  ASSERT_OK(porta_stream_begin_capture(stream_));
  ASSERT_OK(porta_fill_buffer(stream_, y, 0, kBytes, &zero, 4));
  ASSERT_OK(ScaleAdd(stream_, y, 0, &one));
  ASSERT_OK(ScaleAdd(stream_, y, 0, &two));
  ASSERT_OK(ScaleAdd(stream_, y, 0, &three));
  ASSERT_OK(porta_copy_device_to_device(stream_, z, 0, y, 0, kBytes));
  porta_graph_t graph = nullptr;
  ASSERT_OK(porta_stream_end_capture(stream_, &graph));
  porta_graph_exec_t exec = nullptr;
  ASSERT_OK(porta_graph_instantiate(graph, &exec));
  porta_graph_destroy(graph);
  EXPECT_EQ(NativeNodes(exec), expect_native_ ? 5u : 0u);

  porta_stream_t other = nullptr;
  ASSERT_OK(porta_stream_create(device_, &other));
  std::vector<porta_stream_t> many(10, nullptr);
  for (porta_stream_t& stream : many) ASSERT_OK(porta_stream_create(device_, &stream));
  porta_event_t start = nullptr, end = nullptr;
  ASSERT_OK(porta_event_create(device_, PORTA_EVENT_DEFAULT, &start));
  ASSERT_OK(porta_event_create(device_, PORTA_EVENT_DEFAULT, &end));
  const float poison = 99.0f;
  auto check = [&](porta_stream_t stream, const char* what) {
    // Stale results must not pass: z is overwritten before each replay.
    ASSERT_OK(porta_fill_buffer(stream, z, 0, kBytes, &poison, 4));
    ASSERT_OK(porta_graph_launch(exec, stream));
    const std::vector<float> result = Read(stream, z);
    for (uint32_t i = 0; i < kN; ++i) {
      ASSERT_EQ(result[i], 6.0f * hx_[i]) << what << ", element " << i;
    }
  };
  check(stream_, "first stream");
  check(other, "second stream");
  // A timed event moves the stream to a profiling queue: the next replay records the graph for
  // that queue.
  ASSERT_OK(porta_fill_buffer(stream_, z, 0, kBytes, &poison, 4));
  ASSERT_OK(porta_event_record(start, stream_));
  ASSERT_OK(porta_graph_launch(exec, stream_));
  ASSERT_OK(porta_event_record(end, stream_));
  const std::vector<float> timed = Read(stream_, z);
  for (uint32_t i = 0; i < kN; ++i) ASSERT_EQ(timed[i], 6.0f * hx_[i]) << "timed, element " << i;
  float ms = -1.0f;
  ASSERT_OK(porta_event_elapsed_ms(start, end, &ms));
  EXPECT_GE(ms, 0.0f);
  check(stream_, "first stream after the profiling switch");
  for (porta_stream_t stream : many) check(stream, "one of many streams");
  check(other, "second stream again");

  porta_graph_exec_destroy(exec);
  porta_event_destroy(start);
  porta_event_destroy(end);
  for (porta_stream_t stream : many) porta_stream_destroy(stream);
  porta_stream_destroy(other);
}

// Sixteen launches y += x, replayed kReplays times behind a long-running kernel (so they are
// still queued), then node 0 is updated to add 2x and the last node to add into y2: the queued
// replays must keep the old arguments and the next kReplays take the new ones.
TEST_F(OpenclGraphTest, UpdatesReachLaterReplaysAndLeaveQueuedOnesAlone) {
  constexpr uint32_t kLaunches = 16, kReplays = 6;
  porta_buffer_t y = nullptr, y2 = nullptr, spin_out = nullptr;
  ASSERT_OK(Alloc(&y, kBytes));
  ASSERT_OK(Alloc(&y2, kBytes));
  ASSERT_OK(Alloc(&spin_out, sizeof(uint32_t)));
  const float zero = 0.0f, one = 1.0f, two = 2.0f;
  ASSERT_OK(porta_fill_buffer(stream_, y, 0, kBytes, &zero, 4));
  ASSERT_OK(porta_fill_buffer(stream_, y2, 0, kBytes, &zero, 4));
  ASSERT_OK(porta_fill_buffer(stream_, spin_out, 0, sizeof(uint32_t), &zero, 4));
  ASSERT_OK(porta_stream_synchronize(stream_));
  ASSERT_OK(porta_stream_begin_capture(stream_));
  for (uint32_t i = 0; i < kLaunches; ++i) ASSERT_OK(ScaleAdd(stream_, y, 0, &one));
  porta_graph_t graph = nullptr;
  ASSERT_OK(porta_stream_end_capture(stream_, &graph));
  porta_graph_exec_t exec = nullptr;
  ASSERT_OK(porta_graph_instantiate(graph, &exec));
  porta_graph_destroy(graph);
  EXPECT_EQ(NativeNodes(exec), expect_native_ ? kLaunches : 0u);
  // A first replay records the command buffer, so that the timed part below is only queuing.
  ASSERT_OK(porta_graph_launch(exec, stream_));

  // About half a second of one work-item's time on a CPU device (PoCL here).
  const uint32_t iterations = 200u * 1000u * 1000u;
  porta_launch_config_t one_item = PORTA_LAUNCH_CONFIG_INIT;
  const porta_kernel_arg_t spin_args[] = {porta_arg_buffer(spin_out, 0),
                                          porta_arg_scalar(&iterations, 4)};
  ASSERT_OK(porta_kernel_launch(stream_, spin_, &one_item, spin_args, 2));
  for (uint32_t r = 0; r < kReplays; ++r) ASSERT_OK(porta_graph_launch(exec, stream_));
  const porta_kernel_arg_t first[] = {porta_arg_buffer(y, 0), porta_arg_buffer(x_, 0),
                                      porta_arg_scalar(&two, 4), porta_arg_scalar(&n_, 4)};
  const porta_kernel_arg_t last[] = {porta_arg_buffer(y2, 0), porta_arg_buffer(x_, 0),
                                     porta_arg_scalar(&one, 4), porta_arg_scalar(&n_, 4)};
  ASSERT_OK(porta_graph_exec_update_kernel_args(exec, 0, first, 4));
  ASSERT_OK(porta_graph_exec_update_kernel_args(exec, kLaunches - 1, last, 4));
  // The premise: the replays above had not run when the arguments changed.
  EXPECT_EQ(porta_stream_query(stream_), PORTA_NOT_READY)
      << "the spin kernel finished before the updates; the test did not test queued replays";
  EXPECT_EQ(NativeNodes(exec), expect_native_ ? kLaunches : 0u);
  for (uint32_t r = 0; r < kReplays; ++r) ASSERT_OK(porta_graph_launch(exec, stream_));
  const std::vector<float> ry = Read(stream_, y);
  const std::vector<float> ry2 = Read(stream_, y2);
  // 1 + kReplays replays of 16 x, then kReplays replays of (2 + 14) x into y and 1 x into y2.
  const float per_x = static_cast<float>((1 + kReplays) * kLaunches + kReplays * kLaunches);
  for (uint32_t i = 0; i < kN; ++i) {
    ASSERT_EQ(ry[i], per_x * hx_[i]) << "y element " << i;
    ASSERT_EQ(ry2[i], static_cast<float>(kReplays) * hx_[i]) << "y2 element " << i;
  }
  porta_graph_exec_destroy(exec);
}

// A launch whose buffer offset is not aligned for a sub-buffer stages through a temporary
// buffer, which a command buffer cannot hold: its run declines and replays node by node, with
// the right result.
TEST_F(OpenclGraphTest, ARunThatNeedsStagingReplaysNodeByNode) {
  porta_buffer_t y = nullptr;
  // OpenCL's base address alignment is at least the largest built-in type (64 bytes or more).
  const uint64_t offset = 4;
  ASSERT_OK(Alloc(&y, kBytes + offset));
  const float zero = 0.0f, one = 1.0f, two = 2.0f;
  ASSERT_OK(porta_stream_begin_capture(stream_));
  ASSERT_OK(porta_fill_buffer(stream_, y, 0, kBytes + offset, &zero, 4));
  ASSERT_OK(ScaleAdd(stream_, y, offset, &one));
  ASSERT_OK(ScaleAdd(stream_, y, offset, &two));
  porta_graph_t graph = nullptr;
  ASSERT_OK(porta_stream_end_capture(stream_, &graph));
  porta_graph_exec_t exec = nullptr;
  ASSERT_OK(porta_graph_instantiate(graph, &exec));
  porta_graph_destroy(graph);
  EXPECT_EQ(NativeNodes(exec), 0u);
  for (int r = 0; r < 2; ++r) {
    ASSERT_OK(porta_graph_launch(exec, stream_));
    const std::vector<float> result = Read(stream_, y, offset);
    for (uint32_t i = 0; i < kN; ++i) ASSERT_EQ(result[i], 3.0f * hx_[i]) << "element " << i;
  }
  porta_graph_exec_destroy(exec);
}

}  // namespace
