// Drives the Level Zero backend's table directly, as the runtime does: without a GPU driver it must
// load with zero devices and a reason; with one, memory, streams and events must work.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "porta/porta_backend.h"
#include "porta/sdk/backend_test_support.h"

extern "C" porta_status_t porta_level_zero_backend_entry(const porta_backend_host_t* host,
                                                         const porta_backend_table_t** out_table,
                                                         porta_be_msg msg);

namespace {

using porta::test::Message;

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
  Message message;
  porta_be_device_t device = nullptr;
  ASSERT_EQ(table->device_open(backend, index, &device, message.get()), PORTA_OK) << message.text;
  porta_device_info_t info = PORTA_DEVICE_INFO_INIT;
  ASSERT_EQ(table->device_get_info(device, &info, message.get()), PORTA_OK) << message.text;
  EXPECT_STREQ(info.backend, "level_zero");
  EXPECT_NE(info.kernel_formats & PORTA_FORMAT_BIT(PORTA_FORMAT_SPIRV_KERNEL), 0u);
  EXPECT_GT(info.global_memory_bytes, 0u);

  porta_be_stream_t stream = nullptr;
  ASSERT_EQ(table->stream_create(device, &stream, message.get()), PORTA_OK) << message.text;
  porta_be_buffer_t buffer = nullptr;
  ASSERT_EQ(table->buffer_alloc(device, 4096, PORTA_MEMORY_DEVICE, &buffer, message.get()),
            PORTA_OK)
      << message.text;
  std::vector<uint32_t> in(1024), out(1024, 0);
  for (uint32_t i = 0; i < in.size(); ++i) in[i] = i * 7u;
  const uint32_t pattern = 0xdeadbeefu;
  porta_be_event_t start = nullptr, end = nullptr;
  ASSERT_EQ(table->event_create(device, 0, &start, message.get()), PORTA_OK);
  ASSERT_EQ(table->event_create(device, 0, &end, message.get()), PORTA_OK);
  ASSERT_EQ(table->event_record(start, stream, message.get()), PORTA_OK);
  ASSERT_EQ(table->copy_host_to_device(stream, buffer, 0, in.data(), 4096, message.get()),
            PORTA_OK);
  ASSERT_EQ(table->fill_buffer(stream, buffer, 16, 8, &pattern, 4, message.get()), PORTA_OK);
  ASSERT_EQ(table->copy_device_to_host(stream, out.data(), buffer, 0, 4096, message.get()),
            PORTA_OK);
  ASSERT_EQ(table->event_record(end, stream, message.get()), PORTA_OK);
  ASSERT_EQ(table->event_wait(end, 1000000000ull, message.get()), PORTA_OK) << message.text;
  ASSERT_EQ(table->stream_synchronize(stream, message.get()), PORTA_OK) << message.text;
  float ms = -1.0f;
  EXPECT_EQ(table->event_elapsed_ms(start, end, &ms, message.get()), PORTA_OK) << message.text;
  for (uint32_t i = 0; i < 1024; ++i) {
    const uint32_t expected = (i == 4 || i == 5) ? pattern : in[i];
    ASSERT_EQ(out[i], expected) << "word " << i;
  }
  const char not_spirv[] = "not SPIR-V";
  porta_module_source_t source = {
      PORTA_FORMAT_SPIRV_KERNEL, not_spirv, sizeof(not_spirv), nullptr, nullptr, 0};
  porta_be_module_t module = nullptr;
  EXPECT_EQ(table->module_load(device, &source, &module, message.get()), PORTA_ERROR_BUILD_FAILED);
  EXPECT_NE(std::string(message.text).find("SPIR-V module is invalid"), std::string::npos)
      << message.text;

  table->event_destroy(start);
  table->event_destroy(end);
  table->buffer_free(buffer);
  table->stream_destroy(stream);
  table->device_close(device);
}

TEST(LevelZeroBackend, DefaultLibraryInitializesCleanly) {
  porta::test::ExpectDefaultLibraryWorks(porta_level_zero_backend_entry, "libze_loader",
                                         SmokeTestDevice);
}

}  // namespace
