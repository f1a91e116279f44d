// Drives the CUDA backend's table directly, as the runtime does: without a driver it must load
// with zero devices and a reason; with one, the basic objects must work.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "porta/porta_backend.h"
#include "porta/sdk/backend_test_support.h"

extern "C" porta_status_t porta_cuda_backend_entry(const porta_backend_host_t* host,
                                                   const porta_backend_table_t** out_table,
                                                   porta_be_msg msg);

namespace {

using porta::test::Host;
using porta::test::Message;
using porta::test::ScopedEnv;

TEST(CudaBackend, EntryReturnsCompleteTable) {
  porta::test::ExpectCompleteTable(porta_cuda_backend_entry, "cuda");
}

TEST(CudaBackend, EntryRefusesOtherMajor) {
  porta::test::ExpectRefusesOtherMajor(porta_cuda_backend_entry);
}

TEST(CudaBackend, MissingLibraryGivesZeroDevicesAndReason) {
  porta::test::ExpectMissingLibraryGivesZeroDevices(porta_cuda_backend_entry, "PORTA_CUDA_LIBRARY",
                                                    "/nonexistent/porta-test/libcuda.so.1");
}

#ifdef PORTA_CUDA_STUB_LIBRARY
TEST(CudaBackend, StubLibraryGivesZeroDevicesAndCuInitError) {
  ScopedEnv env("PORTA_CUDA_LIBRARY", PORTA_CUDA_STUB_LIBRARY);
  const porta_backend_table_t* table = porta::test::Table(porta_cuda_backend_entry);
  ASSERT_NE(table, nullptr);
  const porta_backend_host_t host = Host();
  Message message;
  porta_be_backend_t backend = nullptr;
  ASSERT_EQ(table->init(&host, &backend, message.get()), PORTA_OK) << message.text;
  uint32_t count = 99;
  ASSERT_EQ(table->device_count(backend, &count, message.get()), PORTA_OK);
  EXPECT_EQ(count, 0u);
  const std::string reason = message.text;
  EXPECT_NE(reason.find("cuInit failed"), std::string::npos) << reason;
  EXPECT_NE(reason.find("CUDA_ERROR_STUB_LIBRARY"), std::string::npos) << reason;
  EXPECT_NE(reason.find("(34)"), std::string::npos) << reason;
  table->shutdown(backend);
}
#endif

// A minimal module: one kernel that stores 42 through its pointer argument.
constexpr char kStorePtx[] = R"(.version 7.0
.target sm_50
.address_size 64
.visible .entry store42(.param .u64 out) {
  .reg .b64 %rd<2>;
  .reg .b32 %r<2>;
  ld.param.u64 %rd1, [out];
  cvta.to.global.u64 %rd1, %rd1;
  mov.u32 %r1, 42;
  st.global.u32 [%rd1], %r1;
  ret;
}
)";

// Exercises one device through the table; only runs where a driver and a device exist.
void SmokeTestDevice(const porta_backend_table_t* table, porta_be_backend_t backend,
                     uint32_t index) {
  Message message;
  porta_be_device_t device = nullptr;
  ASSERT_EQ(table->device_open(backend, index, &device, message.get()), PORTA_OK) << message.text;
  porta_device_info_t info = PORTA_DEVICE_INFO_INIT;
  ASSERT_EQ(table->device_get_info(device, &info, message.get()), PORTA_OK) << message.text;
  EXPECT_STREQ(info.backend, "cuda");
  EXPECT_EQ(std::strncmp(info.architecture, "sm_", 3), 0) << info.architecture;
  EXPECT_GT(info.global_memory_bytes, 0u);
  EXPECT_GE(info.local_memory_bytes, 48u * 1024u);

  porta_be_stream_t stream = nullptr;
  ASSERT_EQ(table->stream_create(device, &stream, message.get()), PORTA_OK) << message.text;
  porta_be_buffer_t buffer = nullptr;
  ASSERT_EQ(table->buffer_alloc(device, 4096, PORTA_MEMORY_DEVICE, &buffer, message.get()),
            PORTA_OK)
      << message.text;
  std::vector<uint32_t> in(1024), out(1024, 0);
  for (uint32_t i = 0; i < in.size(); ++i) in[i] = i * 7u;
  const uint32_t pattern = 0xdeadbeefu;
  ASSERT_EQ(table->copy_host_to_device(stream, buffer, 0, in.data(), 4096, message.get()),
            PORTA_OK);
  ASSERT_EQ(table->fill_buffer(stream, buffer, 16, 8, &pattern, 4, message.get()), PORTA_OK);

  porta_module_source_t source = {PORTA_FORMAT_PTX, kStorePtx, sizeof(kStorePtx) - 1,
                                  nullptr,          nullptr,   0};
  porta_be_module_t module = nullptr;
  ASSERT_EQ(table->module_load(device, &source, &module, message.get()), PORTA_OK) << message.text;
  porta_be_kernel_t kernel = nullptr;
  ASSERT_EQ(table->module_get_kernel(module, "store42", &kernel, message.get()), PORTA_OK);
  porta_be_kernel_t missing = nullptr;
  EXPECT_EQ(table->module_get_kernel(module, "nope", &missing, message.get()),
            PORTA_ERROR_NOT_FOUND);
  porta_launch_config_t config = PORTA_LAUNCH_CONFIG_INIT;
  porta_be_arg_t arg = {PORTA_ARG_BUFFER, buffer, 4092, nullptr, 0};
  porta_be_event_t start = nullptr, end = nullptr;
  ASSERT_EQ(table->event_create(device, 0, &start, message.get()), PORTA_OK);
  ASSERT_EQ(table->event_create(device, 0, &end, message.get()), PORTA_OK);
  ASSERT_EQ(table->event_record(start, stream, message.get()), PORTA_OK);
  ASSERT_EQ(table->kernel_launch(stream, kernel, &config, &arg, 1, message.get()), PORTA_OK)
      << message.text;
  ASSERT_EQ(table->event_record(end, stream, message.get()), PORTA_OK);
  ASSERT_EQ(table->copy_device_to_host(stream, out.data(), buffer, 0, 4096, message.get()),
            PORTA_OK);
  ASSERT_EQ(table->event_wait(end, 1000000000ull, message.get()), PORTA_OK) << message.text;
  ASSERT_EQ(table->stream_synchronize(stream, message.get()), PORTA_OK) << message.text;
  float ms = -1.0f;
  EXPECT_EQ(table->event_elapsed_ms(start, end, &ms, message.get()), PORTA_OK) << message.text;
  EXPECT_GE(ms, 0.0f);
  for (uint32_t i = 0; i < 1023; ++i) {
    const uint32_t expected = (i == 4 || i == 5) ? pattern : in[i];
    ASSERT_EQ(out[i], expected) << "word " << i;
  }
  EXPECT_EQ(out[1023], 42u);

  // Too few arguments and a broken module are reported, not executed.
  if (table->kernel_launch(stream, kernel, &config, nullptr, 0, message.get()) == PORTA_OK) {
    ADD_FAILURE() << "a launch without its argument was accepted (driver without "
                     "cuFuncGetParamInfo?)";
  }
  const char bad[] = ".version 7.0\n.target sm_50\n.address_size 64\nthis is not ptx\n";
  porta_module_source_t bad_source = {PORTA_FORMAT_PTX, bad, sizeof(bad) - 1, nullptr, nullptr, 0};
  porta_be_module_t bad_module = nullptr;
  EXPECT_EQ(table->module_load(device, &bad_source, &bad_module, message.get()),
            PORTA_ERROR_BUILD_FAILED);
  EXPECT_NE(std::string(message.text).find("cuModuleLoadDataEx"), std::string::npos);

  table->event_destroy(start);
  table->event_destroy(end);
  table->module_destroy(module);
  table->buffer_free(buffer);
  table->stream_destroy(stream);
  table->device_close(device);
}

TEST(CudaBackend, DefaultLibraryInitializesCleanly) {
  porta::test::ExpectDefaultLibraryWorks(porta_cuda_backend_entry, "libcuda", SmokeTestDevice);
}

}  // namespace
