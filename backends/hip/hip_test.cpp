// Drives the HIP backend's table directly, as the runtime does: without a GPU it must load with
// zero devices and a reason; with one, memory, streams and events must work.
#include <gtest/gtest.h>

#include <cstring>

#include "porta/porta_backend.h"
#include "porta/sdk/backend_test_support.h"

extern "C" porta_status_t porta_hip_backend_entry(const porta_backend_host_t* host,
                                                  const porta_backend_table_t** out_table,
                                                  porta_be_msg msg);

namespace {

TEST(HipBackend, EntryReturnsCompleteTable) {
  porta::test::ExpectCompleteTable(porta_hip_backend_entry, "hip");
}

TEST(HipBackend, EntryRefusesOtherMajor) {
  porta::test::ExpectRefusesOtherMajor(porta_hip_backend_entry);
}

TEST(HipBackend, MissingLibraryGivesZeroDevicesAndReason) {
  porta::test::ExpectMissingLibraryGivesZeroDevices(porta_hip_backend_entry, "PORTA_HIP_LIBRARY",
                                                    "/nonexistent/porta-test/libamdhip64.so");
}

// Exercises one device through the table; only runs where ROCm and an AMD GPU exist.
void SmokeTestDevice(const porta_backend_table_t* table, porta_be_backend_t backend,
                     uint32_t index) {
  static const char kNotACodeObject[] = "not a code object";
  porta::test::DeviceSmoke smoke;
  smoke.backend = "hip";
  smoke.check_info = [](const porta_device_info_t& info) {
    EXPECT_EQ(std::strncmp(info.architecture, "gfx", 3), 0) << info.architecture;
    EXPECT_EQ(std::strchr(info.architecture, ':'), nullptr) << info.architecture;
  };
  smoke.bad_module = {
      PORTA_FORMAT_HSACO, kNotACodeObject, sizeof(kNotACodeObject), nullptr, nullptr, 0};
  smoke.bad_module_error = "hipModuleLoadData";
  porta::test::ExpectDeviceSmoke(table, backend, index, smoke);
}

TEST(HipBackend, DefaultLibraryInitializesCleanly) {
  porta::test::ExpectDefaultLibraryWorks(porta_hip_backend_entry, "libamdhip64", SmokeTestDevice);
}

}  // namespace
