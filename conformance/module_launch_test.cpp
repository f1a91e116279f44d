// Modules and launches: every test kernel loads and computes what its host reference (in double)
// says, format negotiation and missing entries fail clearly, kernel handles die with their module,
// queued launches keep their module and buffers alive, and a device fault is sticky.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "conformance/cts.h"
#include "conformance/gate.h"
#include "conformance/kernels/test_kernels.h"

namespace porta_cts {
namespace {

class ModuleLaunchTest : public StreamTest {};

constexpr const char* kComputeKernels[] = {"vector_add", "scale_add", "reduce_sum", "index_2d"};

TEST_P(ModuleLaunchTest, LoadEveryTestKernel) {
  int loaded = 0;
  for (const char* name : kComputeKernels) {
    if (!DeviceAcceptsTestKernel(info_, name)) continue;
    SCOPED_TRACE(name);
    ModuleHandle module;
    porta_kernel_t kernel = nullptr;
    ASSERT_PORTA_OK(LoadTestKernel(device_, name, &module, &kernel));
    EXPECT_NE(kernel, nullptr);
    porta_kernel_t again = nullptr;
    ASSERT_PORTA_OK(porta_module_get_kernel(module.get(), name, &again));
    EXPECT_EQ(again, kernel) << "getting the same name twice must return the same handle";
    EXPECT_PORTA_OK(porta_module_destroy(module.release()));
    ++loaded;
  }
  if (loaded == 0) PORTA_CTS_REQUIRE_KERNEL(info_, "vector_add");
}

TEST_P(ModuleLaunchTest, VectorAddWithSizeNotAMultipleOfTheBlock) {
  PORTA_CTS_REQUIRE_KERNEL(info_, "vector_add");
  ModuleHandle module;
  porta_kernel_t kernel = nullptr;
  ASSERT_PORTA_OK(LoadTestKernel(device_, "vector_add", &module, &kernel));
  for (uint32_t block : {1u, 32u, 64u, 256u}) {
    const uint32_t b = BlockSizeFor(info_, block);
    for (uint32_t n : {1u, 1000u, 10007u}) {
      EXPECT_TRUE(RunVectorAdd(device_, stream_.get(), kernel, n, b, n + b));
    }
  }
}

TEST_P(ModuleLaunchTest, ScaleAddWithScalarArguments) {
  PORTA_CTS_REQUIRE_KERNEL(info_, "scale_add");
  ModuleHandle module;
  porta_kernel_t kernel = nullptr;
  ASSERT_PORTA_OK(LoadTestKernel(device_, "scale_add", &module, &kernel));
  constexpr uint32_t kN = 5003;
  const std::vector<float> x = RandomFloats(kN, 1);
  std::vector<float> y = RandomFloats(kN, 2);
  const std::vector<float> y0 = y;
  SyncOnExit sync(stream_.get());
  BufferHandle x_buf, y_buf;
  ASSERT_PORTA_OK(porta_buffer_alloc(device_, kN * 4, PORTA_MEMORY_DEVICE, x_buf.out()));
  ASSERT_PORTA_OK(porta_buffer_alloc(device_, kN * 4 + 64, PORTA_MEMORY_DEVICE, y_buf.out()));
  ASSERT_PORTA_OK(porta_copy_host_to_device(stream_.get(), x_buf.get(), 0, x.data(), kN * 4));
  // y starts 64 bytes into its buffer: the argument offset must reach the kernel.
  ASSERT_PORTA_OK(porta_copy_host_to_device(stream_.get(), y_buf.get(), 64, y.data(), kN * 4));
  const float alpha = 2.5f;
  const uint32_t n = kN;
  const uint32_t block = BlockSizeFor(info_, 128);
  porta_launch_config_t config = PORTA_LAUNCH_CONFIG_INIT;
  config.block[0] = block;
  config.grid[0] = (kN + block - 1) / block;
  const porta_kernel_arg_t args[] = {porta_arg_buffer(y_buf.get(), 64),
                                     porta_arg_buffer(x_buf.get(), 0), porta_arg_scalar(&alpha, 4),
                                     porta_arg_scalar(&n, 4)};
  ASSERT_PORTA_OK(porta_kernel_launch(stream_.get(), kernel, &config, args, 4));
  ASSERT_TRUE(ReadBuffer(stream_.get(), y_buf.get(), 64, kN * 4, y.data()));
  for (uint32_t i = 0; i < kN; ++i) {
    const double expected = double{alpha} * x[i] + y0[i];
    ASSERT_NEAR(y[i], expected, 1e-5 * std::max(1.0, std::fabs(expected))) << "y[" << i << "]";
  }
}

TEST_P(ModuleLaunchTest, ReduceSumWithDynamicLocalMemory) {
  PORTA_CTS_REQUIRE_KERNEL(info_, "reduce_sum");
  ModuleHandle module;
  porta_kernel_t kernel = nullptr;
  ASSERT_PORTA_OK(LoadTestKernel(device_, "reduce_sum", &module, &kernel));
  const uint32_t max_block = BlockSizeFor(info_, 256);
  for (uint32_t block = 1; block <= max_block; block *= 2) {
    if (uint64_t{block} * 4 > info_.local_memory_bytes) break;
    SCOPED_TRACE("block " + std::to_string(block));
    const uint32_t n = 3 * block + 5;
    const uint32_t groups = (n + block - 1) / block;
    const std::vector<float> in = RandomFloats(n, block);
    SyncOnExit sync(stream_.get());
    BufferHandle in_buf, out_buf;
    ASSERT_PORTA_OK(porta_buffer_alloc(device_, n * 4, PORTA_MEMORY_DEVICE, in_buf.out()));
    ASSERT_PORTA_OK(porta_buffer_alloc(device_, groups * 4, PORTA_MEMORY_DEVICE, out_buf.out()));
    ASSERT_PORTA_OK(porta_copy_host_to_device(stream_.get(), in_buf.get(), 0, in.data(), n * 4));
    porta_launch_config_t config = PORTA_LAUNCH_CONFIG_INIT;
    config.block[0] = block;
    config.grid[0] = groups;
    config.local_memory_bytes = uint64_t{block} * 4;
    const porta_kernel_arg_t args[] = {porta_arg_buffer(in_buf.get(), 0),
                                       porta_arg_buffer(out_buf.get(), 0), porta_arg_scalar(&n, 4)};
    ASSERT_PORTA_OK(porta_kernel_launch(stream_.get(), kernel, &config, args, 3));
    std::vector<float> out(groups);
    ASSERT_TRUE(ReadBuffer(stream_.get(), out_buf.get(), 0, groups * 4, out.data()));
    for (uint32_t g = 0; g < groups; ++g) {
      double expected = 0, magnitude = 0;
      for (uint32_t i = g * block; i < std::min(n, (g + 1) * block); ++i) {
        expected += in[i];
        magnitude += std::fabs(in[i]);
      }
      EXPECT_NEAR(out[g], expected, 1e-6 * std::max(1.0, magnitude)) << "out[" << g << "]";
    }
  }
}

TEST_P(ModuleLaunchTest, Index2dOnATwoDimensionalGrid) {
  PORTA_CTS_REQUIRE_KERNEL(info_, "index_2d");
  ModuleHandle module;
  porta_kernel_t kernel = nullptr;
  ASSERT_PORTA_OK(LoadTestKernel(device_, "index_2d", &module, &kernel));
  constexpr uint32_t kWidth = 37, kHeight = 23;
  porta_launch_config_t config = PORTA_LAUNCH_CONFIG_INIT;
  config.block[0] = std::min(8u, info_.max_work_group_dims[0]);
  config.block[1] =
      std::min({4u, info_.max_work_group_dims[1], info_.max_work_group_size / config.block[0]});
  config.grid[0] = (kWidth + config.block[0] - 1) / config.block[0];
  config.grid[1] = (kHeight + config.block[1] - 1) / config.block[1];
  BufferHandle out_buf;
  ASSERT_PORTA_OK(
      porta_buffer_alloc(device_, kWidth * kHeight * 4, PORTA_MEMORY_DEVICE, out_buf.out()));
  const uint32_t width = kWidth, height = kHeight;
  const porta_kernel_arg_t args[] = {porta_arg_buffer(out_buf.get(), 0),
                                     porta_arg_scalar(&width, 4), porta_arg_scalar(&height, 4)};
  ASSERT_PORTA_OK(porta_kernel_launch(stream_.get(), kernel, &config, args, 3));
  std::vector<uint32_t> out(kWidth * kHeight);
  ASSERT_TRUE(ReadBuffer(stream_.get(), out_buf.get(), 0, out.size() * 4, out.data()));
  for (uint32_t y = 0; y < kHeight; ++y) {
    for (uint32_t x = 0; x < kWidth; ++x) {
      ASSERT_EQ(out[y * kWidth + x], (y << 16) | x) << "x " << x << " y " << y;
    }
  }
}

TEST_P(ModuleLaunchTest, UnsupportedFormatListsTheAcceptedFormats) {
  // A native source needs a header and a tag; native_format_test.cpp checks its refusal.
  uint32_t unaccepted = 0;
  for (uint32_t format = 1; format < PORTA_FORMAT_COUNT && unaccepted == 0; ++format) {
    if (format == PORTA_FORMAT_NATIVE) continue;
    if ((info_.kernel_formats & PORTA_FORMAT_BIT(format)) == 0) unaccepted = format;
  }
  if (unaccepted == 0) {
    // Every format is accepted: any source would load, so there is nothing to refuse.
    RecordSkipReason("a kernel format the device refuses");
    GTEST_SKIP() << "the device accepts every kernel format";
  }
  const char bytes[] = "not a kernel";
  porta_module_source_t source = {};
  source.format = static_cast<porta_kernel_format_t>(unaccepted);
  source.data = bytes;
  source.size = sizeof(bytes);
  porta_module_desc_t desc = PORTA_MODULE_DESC_INIT;
  desc.sources = &source;
  desc.source_count = 1;
  ModuleHandle module;
  PrimeErrorMessage("format");
  ASSERT_PORTA_STATUS(PORTA_ERROR_UNSUPPORTED, porta_module_load(device_, &desc, module.out()));
  // The accepted formats, in format order, under the names porta_kernel_format_name gives them.
  std::string accepted;
  for (uint32_t format = 1; format < PORTA_FORMAT_COUNT; ++format) {
    if ((info_.kernel_formats & PORTA_FORMAT_BIT(format)) == 0) continue;
    accepted += (accepted.empty() ? "" : ", ") +
                std::string(porta_kernel_format_name(static_cast<int32_t>(format)));
  }
  EXPECT_TRUE(LastErrorSays(("accepts kernel formats [" + accepted + "]").c_str()));
}

TEST_P(ModuleLaunchTest, MissingEntryIsNotFound) {
  PORTA_CTS_REQUIRE_KERNEL(info_, "vector_add");
  std::vector<porta_module_source_t> sources = TestModuleSources("vector_add");
  const char* const entries[] = {"vector_add", "no_such_kernel"};
  for (porta_module_source_t& source : sources) {
    source.entry_names = entries;
    source.entry_count = 2;
  }
  porta_module_desc_t desc = PORTA_MODULE_DESC_INIT;
  desc.sources = sources.data();
  desc.source_count = static_cast<uint32_t>(sources.size());
  ModuleHandle module;
  EXPECT_PORTA_ERROR(PORTA_ERROR_NOT_FOUND, "no_such_kernel",
                     porta_module_load(device_, &desc, module.out()));

  porta_kernel_t kernel = nullptr;
  ASSERT_PORTA_OK(LoadTestKernel(device_, "vector_add", &module, &kernel));
  porta_kernel_t missing = nullptr;
  EXPECT_PORTA_ERROR(PORTA_ERROR_NOT_FOUND, "another_missing_kernel",
                     porta_module_get_kernel(module.get(), "another_missing_kernel", &missing));
}

TEST_P(ModuleLaunchTest, KernelHandleIsInvalidAfterModuleDestroy) {
  PORTA_CTS_REQUIRE_KERNEL(info_, "vector_add");
  ModuleHandle module;
  porta_kernel_t kernel = nullptr;
  ASSERT_PORTA_OK(LoadTestKernel(device_, "vector_add", &module, &kernel));
  ASSERT_PORTA_OK(porta_module_destroy(module.release()));
  BufferHandle buffer;
  ASSERT_PORTA_OK(porta_buffer_alloc(device_, 64, PORTA_MEMORY_DEVICE, buffer.out()));
  const uint32_t n = 16;
  const porta_kernel_arg_t args[] = {porta_arg_buffer(buffer.get(), 0),
                                     porta_arg_buffer(buffer.get(), 0),
                                     porta_arg_buffer(buffer.get(), 0), porta_arg_scalar(&n, 4)};
  const porta_launch_config_t config = PORTA_LAUNCH_CONFIG_INIT;
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "kernel",
                     porta_kernel_launch(stream_.get(), kernel, &config, args, 4));
}

TEST_P(ModuleLaunchTest, QueuedLaunchKeepsModuleAndBuffersAlive) {
  PORTA_CTS_REQUIRE_KERNEL(info_, "vector_add");
  const bool gated = GateApplies(device_);
  Gate gate;
  if (gated) {
    ASSERT_TRUE(gate.Load(device_));
    ASSERT_PORTA_OK(gate.Close(stream_.get()));
  }
  ModuleHandle module;
  porta_kernel_t kernel = nullptr;
  ASSERT_PORTA_OK(LoadTestKernel(device_, "vector_add", &module, &kernel));
  constexpr uint32_t kN = 4099;
  const std::vector<float> a = RandomFloats(kN, 5), b = RandomFloats(kN, 6);
  std::vector<float> c(kN, 0.0f);
  SyncOnExit sync(stream_.get(), &gate);
  BufferHandle a_buf, b_buf, c_buf;
  ASSERT_PORTA_OK(porta_buffer_alloc(device_, kN * 4, PORTA_MEMORY_DEVICE, a_buf.out()));
  ASSERT_PORTA_OK(porta_buffer_alloc(device_, kN * 4, PORTA_MEMORY_DEVICE, b_buf.out()));
  ASSERT_PORTA_OK(porta_buffer_alloc(device_, kN * 4, PORTA_MEMORY_DEVICE, c_buf.out()));
  ASSERT_PORTA_OK(porta_copy_host_to_device(stream_.get(), a_buf.get(), 0, a.data(), kN * 4));
  ASSERT_PORTA_OK(porta_copy_host_to_device(stream_.get(), b_buf.get(), 0, b.data(), kN * 4));
  const uint32_t n = kN, block = BlockSizeFor(info_, 64);
  porta_launch_config_t config = PORTA_LAUNCH_CONFIG_INIT;
  config.block[0] = block;
  config.grid[0] = (kN + block - 1) / block;
  const porta_kernel_arg_t args[] = {porta_arg_buffer(a_buf.get(), 0),
                                     porta_arg_buffer(b_buf.get(), 0),
                                     porta_arg_buffer(c_buf.get(), 0), porta_arg_scalar(&n, 4)};
  ASSERT_PORTA_OK(porta_kernel_launch(stream_.get(), kernel, &config, args, 4));
  ASSERT_PORTA_OK(porta_copy_device_to_host(stream_.get(), c.data(), c_buf.get(), 0, kN * 4));
  EXPECT_PORTA_OK(porta_module_destroy(module.release()));
  EXPECT_PORTA_OK(porta_buffer_free(a_buf.release()));
  EXPECT_PORTA_OK(porta_buffer_free(b_buf.release()));
  EXPECT_PORTA_OK(porta_buffer_free(c_buf.release()));
  if (gated) gate.Open();
  ASSERT_PORTA_OK(porta_stream_synchronize(stream_.get()));
  for (uint32_t i = 0; i < kN; ++i) {
    ASSERT_FLOAT_EQ(c[i], a[i] + b[i]) << "c[" << i << "]";
  }
}

// Launches the `fault` kernel behind a closed gate, so that the launch and the record are queued
// before the fault can happen (both succeed), then checks that the fault is sticky on the stream
// and on the event. |code| is the value a host-format fault reports (0: not checked).
void CheckFaultIsSticky(porta_device_t device, uint32_t code) {
  ModuleHandle module;
  porta_kernel_t kernel = nullptr;
  ASSERT_PORTA_OK(LoadTestKernel(device, "fault", &module, &kernel));
  StreamHandle stream;
  ASSERT_PORTA_OK(porta_stream_create(device, stream.out()));
  BufferHandle buffer;
  ASSERT_PORTA_OK(porta_buffer_alloc(device, 64, PORTA_MEMORY_DEVICE, buffer.out()));
  Gate gate;
  ASSERT_TRUE(gate.Load(device));
  ASSERT_PORTA_OK(gate.Close(stream.get()));
  const porta_kernel_arg_t arg = porta_arg_buffer(buffer.get(), 0);
  porta_launch_config_t config = PORTA_LAUNCH_CONFIG_INIT;
  config.grid[0] = 4;
  ASSERT_PORTA_OK(porta_kernel_launch(stream.get(), kernel, &config, &arg, 1));
  EventHandle event;
  ASSERT_PORTA_OK(porta_event_create(device, PORTA_EVENT_DEFAULT, event.out()));
  ASSERT_PORTA_OK(porta_event_record(event.get(), stream.get()));
  gate.Open();

  ASSERT_PORTA_STATUS(PORTA_ERROR_DEVICE_LOST, porta_stream_synchronize(stream.get()));
  if (code != 0) {
    EXPECT_TRUE(LastErrorNamesNumber(code));
  }
  EXPECT_PORTA_STATUS(PORTA_ERROR_DEVICE_LOST, porta_stream_synchronize(stream.get()));
  EXPECT_PORTA_STATUS(PORTA_ERROR_DEVICE_LOST, porta_stream_query(stream.get()));
  EXPECT_PORTA_STATUS(PORTA_ERROR_DEVICE_LOST, porta_event_wait(event.get(), UINT64_MAX));
  EXPECT_PORTA_STATUS(PORTA_ERROR_DEVICE_LOST, porta_event_query(event.get()));
  if (code != 0) {
    EXPECT_TRUE(LastErrorNamesNumber(code));
  }
  // A fault never turns into a hang or a failing destroy.
  EXPECT_PORTA_OK(porta_stream_destroy(stream.release()));
}

TEST_P(ModuleLaunchTest, DeviceFaultIsSticky) {
  PORTA_CTS_REQUIRE_FAULT(info_);
  PORTA_CTS_REQUIRE_GATE(device_);
  // The host-format kernel returns 7 (conformance/kernels/README.md) and the message names that
  // exact value; a trap's message is the driver's.
  const bool host = TestKernelFormatFor(info_, "fault") == PORTA_FORMAT_HOST &&
                    !IsSuppliedKernel("fault", PORTA_FORMAT_HOST);
  const uint32_t code = host ? 7 : 0;
  if (FaultKindFor(info_) == FaultKind::kStreamLocal) {
    CheckFaultIsSticky(device_, code);
    return;
  }
  // The fault may end the device's context (a CUDA or HIP trap), which would fail every later
  // test on the device: the same checks run in a child process.
  porta_device_t device = device_;
  PORTA_CTS_EXPECT_IN_CHILD([device, code] { CheckFaultIsSticky(device, code); });
}

PORTA_CTS_INSTANTIATE(ModuleLaunchTest);

}  // namespace
}  // namespace porta_cts
