// Drives the Level Zero backend's table directly, as the runtime does: without a GPU driver it must
// load with zero devices and a reason; with one, memory, streams and events must work.
#include <gtest/gtest.h>

#include <cstring>

#include "porta/porta_backend.h"
#include "porta/sdk/backend_test_support.h"

extern "C" porta_status_t porta_level_zero_backend_entry(const porta_backend_host_t* host,
                                                         const porta_backend_table_t** out_table,
                                                         porta_be_msg msg);

namespace {

TEST(LevelZeroBackend, EntryReturnsCompleteTable) {
  porta::test::ExpectCompleteTable(porta_level_zero_backend_entry, "level_zero");
}

TEST(LevelZeroBackend, EntryRefusesOtherMajor) {
  porta::test::ExpectRefusesOtherMajor(porta_level_zero_backend_entry);
}

TEST(LevelZeroBackend, MissingLibraryGivesZeroDevicesAndReason) {
  porta::test::ExpectMissingLibraryGivesZeroDevices(porta_level_zero_backend_entry,
                                                    "PORTA_LEVEL_ZERO_LIBRARY",
                                                    "/nonexistent/porta-test/libze_loader.so.1");
}

// Exercises one device through the table; only runs where a Level Zero GPU driver exists.
void SmokeTestDevice(const porta_backend_table_t* table, porta_be_backend_t backend,
                     uint32_t index) {
  static const char kNotSpirv[] = "not SPIR-V";
  porta::test::DeviceSmoke smoke;
  smoke.backend = "level_zero";
  smoke.check_info = [](const porta_device_info_t& info) {
    EXPECT_NE(info.kernel_formats & PORTA_FORMAT_BIT(PORTA_FORMAT_SPIRV_KERNEL), 0u);
  };
  smoke.bad_module = {PORTA_FORMAT_SPIRV_KERNEL, kNotSpirv, sizeof(kNotSpirv), nullptr, nullptr, 0};
  smoke.bad_module_error = "SPIR-V module is invalid";
  porta::test::ExpectDeviceSmoke(table, backend, index, smoke);
}

TEST(LevelZeroBackend, DefaultLibraryInitializesCleanly) {
  porta::test::ExpectDefaultLibraryWorks(porta_level_zero_backend_entry, "libze_loader",
                                         SmokeTestDevice);
}

}  // namespace
