// Drives the CUDA backend's table directly, as the runtime does: without a driver it must load
// with zero devices and a reason; with one, the basic objects must work.
#include <gtest/gtest.h>

#include <cstring>
#include <string>

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

// Exercises one device through the table; only runs where a driver and a device exist. A launch
// without its argument is refused only where the driver has cuFuncGetParamInfo.
void SmokeTestDevice(const porta_backend_table_t* table, porta_be_backend_t backend,
                     uint32_t index) {
  static const char kBadPtx[] = ".version 7.0\n.target sm_50\n.address_size 64\nthis is not ptx\n";
  porta::test::DeviceSmoke smoke;
  smoke.backend = "cuda";
  smoke.check_info = [](const porta_device_info_t& info) {
    EXPECT_EQ(std::strncmp(info.architecture, "sm_", 3), 0) << info.architecture;
    EXPECT_GE(info.local_memory_bytes, 48u * 1024u);
  };
  smoke.bad_module = {PORTA_FORMAT_PTX, kBadPtx, sizeof(kBadPtx) - 1, nullptr, nullptr, 0};
  smoke.bad_module_error = "cuModuleLoadDataEx";
  smoke.store_module = {PORTA_FORMAT_PTX, kStorePtx, sizeof(kStorePtx) - 1, nullptr, nullptr, 0};
  smoke.store_kernel = "store42";
  porta::test::ExpectDeviceSmoke(table, backend, index, smoke);
}

TEST(CudaBackend, DefaultLibraryInitializesCleanly) {
  porta::test::ExpectDefaultLibraryWorks(porta_cuda_backend_entry, "libcuda", SmokeTestDevice);
}

}  // namespace
