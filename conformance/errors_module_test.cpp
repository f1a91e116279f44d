// Bad input, part 2: events, modules, kernels and launches (see errors_test.cpp for the rules).
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "conformance/c_callers.h"
#include "conformance/cts.h"
#include "conformance/kernels/test_kernels.h"

namespace porta_cts {
namespace {

class ErrorsModuleTest : public BufferTest {
 protected:
  porta_event_t DestroyedEvent() {
    porta_event_t event = nullptr;
    EXPECT_PORTA_OK(porta_event_create(device_, PORTA_EVENT_DEFAULT, &event));
    EXPECT_PORTA_OK(porta_event_destroy(event));
    return event;
  }
  porta_buffer_t FreedBuffer() {
    porta_buffer_t buffer = nullptr;
    EXPECT_PORTA_OK(porta_buffer_alloc(device_, 64, PORTA_MEMORY_DEVICE, &buffer));
    EXPECT_PORTA_OK(porta_buffer_free(buffer));
    return buffer;
  }
  porta_stream_t DestroyedStream() {
    porta_stream_t stream = nullptr;
    EXPECT_PORTA_OK(porta_stream_create(device_, &stream));
    EXPECT_PORTA_OK(porta_stream_destroy(stream));
    return stream;
  }
  // Launches vector_add over the fixture buffer with one changed setting.
  porta_status_t Launch(const porta_launch_config_t& config, const porta_kernel_arg_t* args,
                        uint32_t count) {
    return porta_kernel_launch(stream_.get(), kernel_, &config, args, count);
  }
  // Loads vector_add into module_ / kernel_.
  void LoadVectorAdd() {
    ASSERT_PORTA_OK(LoadTestKernel(device_, "vector_add", &module_, &kernel_));
  }
  // Four valid vector_add arguments over buffer_ (n = 16).
  std::vector<porta_kernel_arg_t> GoodArgs() {
    return {porta_arg_buffer(buffer_.get(), 0), porta_arg_buffer(buffer_.get(), 0),
            porta_arg_buffer(buffer_.get(), 0), porta_arg_scalar(&n_, 4)};
  }

  ModuleHandle module_;
  porta_kernel_t kernel_ = nullptr;
  uint32_t n_ = 16;
};

TEST_P(ErrorsModuleTest, EventCreateAndDestroy) {
  EventHandle event;
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "device",
                     porta_event_create(nullptr, PORTA_EVENT_DEFAULT, event.out()));
  EXPECT_PORTA_ERROR(
      PORTA_ERROR_INVALID_HANDLE, "device",
      porta_event_create(reinterpret_cast<porta_device_t>(stream_.get()), 0, event.out()));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "out_event",
                     porta_event_create(device_, PORTA_EVENT_DEFAULT, nullptr));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "flags",
                     porta_event_create(device_, 1u << 7, event.out()));
  EXPECT_FALSE(event);
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "event", porta_event_destroy(nullptr));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "event", porta_event_destroy(DestroyedEvent()));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "event",
                     porta_event_destroy(reinterpret_cast<porta_event_t>(buffer_.get())));
}

TEST_P(ErrorsModuleTest, EventRecordWaitQuery) {
  EventHandle event;
  ASSERT_PORTA_OK(porta_event_create(device_, PORTA_EVENT_DEFAULT, event.out()));
  const porta_event_t e = event.get();
  const porta_stream_t s = stream_.get();
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "event", porta_event_record(nullptr, s));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "event", porta_event_record(DestroyedEvent(), s));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "stream", porta_event_record(e, nullptr));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "stream",
                     porta_event_record(e, DestroyedStream()));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "stream",
                     porta_event_record(e, reinterpret_cast<porta_stream_t>(e)));

  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "stream", porta_stream_wait_event(nullptr, e));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "event", porta_stream_wait_event(s, nullptr));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "event",
                     porta_stream_wait_event(s, DestroyedEvent()));

  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "event", porta_event_wait(nullptr, 0));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "event",
                     porta_event_wait(DestroyedEvent(), UINT64_MAX));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "event", porta_event_query(nullptr));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "event", porta_event_query(DestroyedEvent()));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "event",
                     porta_event_query(reinterpret_cast<porta_event_t>(s)));

  if (Env().devices.size() >= 2) {
    StreamHandle foreign;
    ASSERT_PORTA_OK(porta_stream_create(OtherDevices(device_).front(), foreign.out()));
    EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "device",
                       porta_event_record(e, foreign.get()));
  }
}

TEST_P(ErrorsModuleTest, EventElapsed) {
  EventHandle start, end, untimed;
  ASSERT_PORTA_OK(porta_event_create(device_, PORTA_EVENT_DEFAULT, start.out()));
  ASSERT_PORTA_OK(porta_event_create(device_, PORTA_EVENT_DEFAULT, end.out()));
  ASSERT_PORTA_OK(porta_event_create(device_, PORTA_EVENT_DISABLE_TIMING, untimed.out()));
  float ms = 0;
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "start",
                     porta_event_elapsed_ms(nullptr, end.get(), &ms));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "end",
                     porta_event_elapsed_ms(start.get(), nullptr, &ms));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "start",
                     porta_event_elapsed_ms(DestroyedEvent(), end.get(), &ms));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "out_ms",
                     porta_event_elapsed_ms(start.get(), end.get(), nullptr));
  // Never recorded.
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "record",
                     porta_event_elapsed_ms(start.get(), end.get(), &ms));
  ASSERT_PORTA_OK(porta_event_record(start.get(), stream_.get()));
  ASSERT_PORTA_OK(porta_event_record(untimed.get(), stream_.get()));
  ASSERT_PORTA_OK(porta_stream_synchronize(stream_.get()));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "timing",
                     porta_event_elapsed_ms(start.get(), untimed.get(), &ms));
  if (Env().devices.size() >= 2) {
    const porta_device_t other = OtherDevices(device_).front();
    EventHandle foreign;
    StreamHandle foreign_stream;
    ASSERT_PORTA_OK(porta_event_create(other, PORTA_EVENT_DEFAULT, foreign.out()));
    ASSERT_PORTA_OK(porta_stream_create(other, foreign_stream.out()));
    ASSERT_PORTA_OK(porta_event_record(foreign.get(), foreign_stream.get()));
    ASSERT_PORTA_OK(porta_stream_synchronize(foreign_stream.get()));
    EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "device",
                       porta_event_elapsed_ms(start.get(), foreign.get(), &ms));
  }
}

TEST_P(ErrorsModuleTest, ModuleLoad) {
  PORTA_CTS_REQUIRE_KERNEL(info_, "vector_add");
  const std::vector<porta_module_source_t> good = TestModuleSources("vector_add");
  porta_module_desc_t desc = PORTA_MODULE_DESC_INIT;
  desc.sources = good.data();
  desc.source_count = static_cast<uint32_t>(good.size());
  ModuleHandle module;
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "device",
                     porta_module_load(nullptr, &desc, module.out()));
  EXPECT_PORTA_ERROR(
      PORTA_ERROR_INVALID_HANDLE, "device",
      porta_module_load(reinterpret_cast<porta_device_t>(buffer_.get()), &desc, module.out()));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "desc",
                     porta_module_load(device_, nullptr, module.out()));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "out_module",
                     porta_module_load(device_, &desc, nullptr));

  porta_module_desc_t bad = desc;
  bad.struct_size = 1;
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "struct_size",
                     porta_module_load(device_, &bad, module.out()));
  bad = desc;
  bad.source_count = 0;
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "source",
                     porta_module_load(device_, &bad, module.out()));
  bad = desc;
  bad.sources = nullptr;
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "sources",
                     porta_module_load(device_, &bad, module.out()));

  // One malformed source each; |source| is the only source of |single|.
  porta_module_source_t source = good.front();
  porta_module_desc_t single = desc;
  single.sources = &source;
  single.source_count = 1;
  source.data = nullptr;
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "data",
                     porta_module_load(device_, &single, module.out()));
  source = good.front();
  source.size = 0;
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "size",
                     porta_module_load(device_, &single, module.out()));
  source = good.front();
  source.entry_names = nullptr;
  source.entry_count = 1;
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "entry_names",
                     porta_module_load(device_, &single, module.out()));
  const char* const null_entry[] = {nullptr};
  source = good.front();
  source.entry_names = null_entry;
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "entry_names",
                     porta_module_load(device_, &single, module.out()));
  for (int format : {0, PORTA_FORMAT_COUNT, 99}) {
    source = good.front();
    porta_cts_set_source_format(&source, format);
    EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "format",
                       porta_module_load(device_, &single, module.out()));
  }
  EXPECT_FALSE(module) << "a failed load must not hand out a module";
}

TEST_P(ErrorsModuleTest, ModuleDestroyAndGetKernel) {
  PORTA_CTS_REQUIRE_KERNEL(info_, "vector_add");
  LoadVectorAdd();
  if (HasFatalFailure()) return;
  porta_kernel_t kernel = nullptr;
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "module",
                     porta_module_get_kernel(nullptr, "vector_add", &kernel));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "name",
                     porta_module_get_kernel(module_.get(), nullptr, &kernel));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "out_kernel",
                     porta_module_get_kernel(module_.get(), "vector_add", nullptr));
  EXPECT_PORTA_ERROR(
      PORTA_ERROR_INVALID_HANDLE, "module",
      porta_module_get_kernel(reinterpret_cast<porta_module_t>(kernel_), "vector_add", &kernel));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "module", porta_module_destroy(nullptr));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "module",
                     porta_module_destroy(reinterpret_cast<porta_module_t>(buffer_.get())));
  const porta_module_t destroyed = module_.release();
  ASSERT_PORTA_OK(porta_module_destroy(destroyed));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "module",
                     porta_module_get_kernel(destroyed, "vector_add", &kernel));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "module", porta_module_destroy(destroyed));
}

TEST_P(ErrorsModuleTest, LaunchHandlesAndConfig) {
  PORTA_CTS_REQUIRE_KERNEL(info_, "vector_add");
  LoadVectorAdd();
  if (HasFatalFailure()) return;
  const std::vector<porta_kernel_arg_t> args = GoodArgs();
  const porta_launch_config_t good = PORTA_LAUNCH_CONFIG_INIT;
  ASSERT_PORTA_OK(Launch(good, args.data(), 4)) << "the valid launch the checks start from";
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "stream",
                     porta_kernel_launch(nullptr, kernel_, &good, args.data(), 4));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "stream",
                     porta_kernel_launch(DestroyedStream(), kernel_, &good, args.data(), 4));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "kernel",
                     porta_kernel_launch(stream_.get(), nullptr, &good, args.data(), 4));
  EXPECT_PORTA_ERROR(
      PORTA_ERROR_INVALID_HANDLE, "kernel",
      porta_kernel_launch(stream_.get(), reinterpret_cast<porta_kernel_t>(buffer_.get()), &good,
                          args.data(), 4));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "config",
                     porta_kernel_launch(stream_.get(), kernel_, nullptr, args.data(), 4));
  porta_launch_config_t config = good;
  config.struct_size = 1;
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "struct_size", Launch(config, args.data(), 4));

  for (int d = 0; d < 3; ++d) {
    SCOPED_TRACE("dimension " + std::to_string(d));
    config = good;
    config.grid[d] = 0;
    EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "grid", Launch(config, args.data(), 4));
    config = good;
    config.block[d] = 0;
    EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "block", Launch(config, args.data(), 4));
    if (info_.max_work_group_dims[d] < UINT32_MAX) {
      config = good;
      config.block[d] = info_.max_work_group_dims[d] + 1;
      EXPECT_PORTA_ERROR(PORTA_ERROR_OUT_OF_RANGE, "block", Launch(config, args.data(), 4));
      EXPECT_TRUE(LastErrorNamesNumber(info_.max_work_group_dims[d] + 1));
      EXPECT_TRUE(LastErrorNamesNumber(info_.max_work_group_dims[d]));
    }
    if (info_.max_grid_dims[d] < UINT32_MAX) {
      config = good;
      config.grid[d] = info_.max_grid_dims[d] + 1;
      EXPECT_PORTA_ERROR(PORTA_ERROR_OUT_OF_RANGE, "grid", Launch(config, args.data(), 4));
      EXPECT_TRUE(LastErrorNamesNumber(info_.max_grid_dims[d] + 1));
      EXPECT_TRUE(LastErrorNamesNumber(info_.max_grid_dims[d]));
    }
  }
  if (info_.max_work_group_size < UINT32_MAX) {
    config = good;
    config.block[0] = info_.max_work_group_size + 1;
    EXPECT_PORTA_ERROR(PORTA_ERROR_OUT_OF_RANGE, "block", Launch(config, args.data(), 4));
    EXPECT_TRUE(LastErrorNamesNumber(info_.max_work_group_size + 1));
  }
  // Each dimension within its own limit, the product over the work-group limit.
  const uint64_t product = uint64_t{info_.max_work_group_dims[0]} * info_.max_work_group_dims[1];
  if (product > info_.max_work_group_size) {
    config = good;
    config.block[0] = info_.max_work_group_dims[0];
    config.block[1] = info_.max_work_group_dims[1];
    EXPECT_PORTA_ERROR(PORTA_ERROR_OUT_OF_RANGE, "block", Launch(config, args.data(), 4));
    EXPECT_TRUE(LastErrorNamesNumber(product));
    EXPECT_TRUE(LastErrorNamesNumber(info_.max_work_group_size));
  }
  config = good;
  config.local_memory_bytes = info_.local_memory_bytes + 1;
  EXPECT_PORTA_ERROR(PORTA_ERROR_OUT_OF_RANGE, "local_memory", Launch(config, args.data(), 4));
  EXPECT_TRUE(LastErrorNamesNumber(info_.local_memory_bytes + 1));
  EXPECT_TRUE(LastErrorNamesNumber(info_.local_memory_bytes));
  config.local_memory_bytes = UINT64_MAX;
  EXPECT_PORTA_ERROR(PORTA_ERROR_OUT_OF_RANGE, "local_memory", Launch(config, args.data(), 4));
  EXPECT_TRUE(LastErrorNamesNumber(UINT64_MAX));
}

TEST_P(ErrorsModuleTest, LaunchArguments) {
  PORTA_CTS_REQUIRE_KERNEL(info_, "vector_add");
  LoadVectorAdd();
  if (HasFatalFailure()) return;
  const porta_launch_config_t config = PORTA_LAUNCH_CONFIG_INIT;
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "args", Launch(config, nullptr, 4));

  std::vector<porta_kernel_arg_t> args = GoodArgs();
  porta_cts_set_arg_kind(&args[0], 99);
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "kind", Launch(config, args.data(), 4));

  args = GoodArgs();
  args[3].scalar_size = 0;
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "scalar_size", Launch(config, args.data(), 4));
  const std::vector<uint8_t> big(257, 0);
  args[3] = porta_arg_scalar(big.data(), 257);
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "scalar_size", Launch(config, args.data(), 4));
  EXPECT_TRUE(LastErrorNamesNumber(257));
  args[3] = porta_arg_scalar(nullptr, 4);
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "scalar", Launch(config, args.data(), 4));

  args = GoodArgs();
  args[1].buffer = nullptr;
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "buffer", Launch(config, args.data(), 4));
  args[1].buffer = FreedBuffer();
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "buffer", Launch(config, args.data(), 4));
  args[1].buffer = reinterpret_cast<porta_buffer_t>(stream_.get());
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_HANDLE, "buffer", Launch(config, args.data(), 4));
  args = GoodArgs();
  args[2].offset = kBufferSize + 1;
  EXPECT_PORTA_ERROR(PORTA_ERROR_OUT_OF_RANGE, "offset", Launch(config, args.data(), 4));
  args[2].offset = UINT64_MAX;
  EXPECT_PORTA_ERROR(PORTA_ERROR_OUT_OF_RANGE, "offset", Launch(config, args.data(), 4));

  if (Env().devices.size() >= 2) {
    BufferHandle foreign;
    ASSERT_PORTA_OK(
        porta_buffer_alloc(OtherDevices(device_).front(), 64, PORTA_MEMORY_DEVICE, foreign.out()));
    args = GoodArgs();
    args[0].buffer = foreign.get();
    EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "device", Launch(config, args.data(), 4));
  }
}

// A launch with more arguments than the kernel declares (an extra scalar, an extra buffer) is
// refused on every device whose kernel format declares a parameter list; a host-format kernel
// is a C function that declares none, so where vector_add loads as one the device cannot tell.
TEST_P(ErrorsModuleTest, LaunchWithExtraArgumentsIsRefused) {
  PORTA_CTS_REQUIRE_KERNEL(info_, "vector_add");
  if (TestKernelFormatFor(info_, "vector_add") == PORTA_FORMAT_HOST) {
    RecordSkipReason("a kernel format with parameter lists (host kernels declare none)");
    GTEST_SKIP() << "host-format kernels declare no parameter list";
  }
  LoadVectorAdd();
  if (HasFatalFailure()) return;
  porta_launch_config_t config = PORTA_LAUNCH_CONFIG_INIT;
  config.block[0] = 16;
  std::vector<porta_kernel_arg_t> args = GoodArgs();
  args.push_back(porta_arg_scalar(&n_, 4));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "argument", Launch(config, args.data(), 5));
  args = GoodArgs();
  args.push_back(porta_arg_buffer(buffer_.get(), 0));
  EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, "argument", Launch(config, args.data(), 5));
  // The right count still launches.
  args = GoodArgs();
  EXPECT_PORTA_OK(Launch(config, args.data(), 4));
  EXPECT_PORTA_OK(porta_stream_synchronize(stream_.get()));
}

// Truncated or corrupted SPIR-V (issue 13, defect 2: a module without OpFunctionEnd loaded and
// crashed lavapipe at the first launch) is refused at load with PORTA_ERROR_BUILD_FAILED on a
// device that accepts the format, PORTA_ERROR_UNSUPPORTED on one that does not, and the process
// and the device carry on. Should a device accept a broken module, the test launches it, so a
// driver crash shows here rather than in an application.
TEST_P(ErrorsModuleTest, MalformedSpirvIsRefusedAtLoad) {
  std::vector<porta_module_source_t> spirv;
  for (const porta_module_source_t& source : TestModuleSources("vector_add")) {
    if (source.format == PORTA_FORMAT_SPIRV_SHADER || source.format == PORTA_FORMAT_SPIRV_KERNEL) {
      spirv.push_back(source);
    }
  }
  if (spirv.empty()) {
    RecordSkipReason("a SPIR-V build of the test kernels");
    GTEST_SKIP() << "this build has no SPIR-V test kernel";
  }
  struct Corruption {
    const char* name;
    void (*apply)(std::vector<uint32_t>* words);
  };
  const Corruption corruptions[] = {
      {"last word dropped (no OpFunctionEnd)", [](std::vector<uint32_t>* w) { w->pop_back(); }},
      {"last 3 words dropped", [](std::vector<uint32_t>* w) { w->resize(w->size() - 3); }},
      {"header only", [](std::vector<uint32_t>* w) { w->resize(5); }},
      {"first instruction's word count 0", [](std::vector<uint32_t>* w) { (*w)[5] &= 0xffffu; }},
      {"first instruction's word count past the end",
       [](std::vector<uint32_t>* w) { (*w)[5] = ((*w)[5] & 0xffffu) | 0xfff00000u; }},
      {"bad magic", [](std::vector<uint32_t>* w) { (*w)[0] = 0x07230204u; }},
      // Well-formed instructions, but ids beyond the header's bound: only a full validator sees
      // it.
      {"id bound too small", [](std::vector<uint32_t>* w) { (*w)[3] = 2; }},
  };
  for (const porta_module_source_t& good : spirv) {
    const bool accepted = (info_.kernel_formats & PORTA_FORMAT_BIT(good.format)) != 0;
    const porta_status_t expected = accepted ? PORTA_ERROR_BUILD_FAILED : PORTA_ERROR_UNSUPPORTED;
    for (const Corruption& corruption : corruptions) {
      SCOPED_TRACE(std::string(KernelFormatName(good.format)) + ", " + corruption.name);
      std::vector<uint32_t> words(good.size / 4);
      std::memcpy(words.data(), good.data, words.size() * 4);
      ASSERT_GT(words.size(), 8u);
      corruption.apply(&words);
      porta_module_source_t source = good;
      source.data = words.data();
      source.size = words.size() * 4;
      porta_module_desc_t desc = PORTA_MODULE_DESC_INIT;
      desc.sources = &source;
      desc.source_count = 1;
      ModuleHandle module;
      EXPECT_PORTA_ERROR(expected, accepted ? "SPIR-V" : "format",
                         porta_module_load(device_, &desc, module.out()));
      if (!module) continue;
      porta_kernel_t kernel = nullptr;
      if (porta_module_get_kernel(module.get(), "vector_add", &kernel) != PORTA_OK) continue;
      const std::vector<porta_kernel_arg_t> args = GoodArgs();
      const porta_launch_config_t config = PORTA_LAUNCH_CONFIG_INIT;
      if (porta_kernel_launch(stream_.get(), kernel, &config, args.data(), 4) == PORTA_OK) {
        porta_stream_synchronize(stream_.get());
      }
    }
  }
  // The device still loads and runs the intact kernel.
  PORTA_CTS_REQUIRE_KERNEL(info_, "vector_add");
  LoadVectorAdd();
  if (HasFatalFailure()) return;
  const std::vector<porta_kernel_arg_t> args = GoodArgs();
  const porta_launch_config_t config = PORTA_LAUNCH_CONFIG_INIT;
  EXPECT_PORTA_OK(Launch(config, args.data(), 4));
  EXPECT_PORTA_OK(porta_stream_synchronize(stream_.get()));
}

PORTA_CTS_INSTANTIATE(ErrorsModuleTest);

}  // namespace
}  // namespace porta_cts
