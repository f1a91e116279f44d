// Drives the Level Zero backend's table directly, as the runtime does: without a GPU driver it must
// load with zero devices and a reason; with one, memory, streams and events must work.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "porta/porta_backend.h"

extern "C" porta_status_t porta_level_zero_backend_entry(const porta_backend_host_t* host,
                                                         const porta_backend_table_t** out_table,
                                                         porta_be_msg msg);

namespace {

porta_backend_host_t Host(uint32_t major = PORTA_BACKEND_ABI_MAJOR) {
  return {sizeof(porta_backend_host_t),
          major,
          PORTA_BACKEND_ABI_MINOR,
          "0.1.0",
          nullptr,
          nullptr,
          nullptr};
}

struct Message {
  char text[4096] = {};
  porta_be_message_t msg = {text, sizeof(text)};
  porta_be_msg get() { return &msg; }
};

const porta_backend_table_t* Table() {
  const porta_backend_host_t host = Host();
  const porta_backend_table_t* table = nullptr;
  Message message;
  EXPECT_EQ(porta_level_zero_backend_entry(&host, &table, message.get()), PORTA_OK) << message.text;
  return table;
}

// Sets an environment variable for one test and restores it afterwards.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    const char* old = std::getenv(name);
    if (old != nullptr) old_ = old;
    had_ = old != nullptr;
    setenv(name, value, 1);
  }
  ~ScopedEnv() {
    if (had_) {
      setenv(name_.c_str(), old_.c_str(), 1);
    } else {
      unsetenv(name_.c_str());
    }
  }

 private:
  std::string name_;
  std::string old_;
  bool had_ = false;
};

TEST(LevelZeroBackend, EntryReturnsCompleteTable) {
  const porta_backend_table_t* table = Table();
  ASSERT_NE(table, nullptr);
  EXPECT_STREQ(table->name, "level_zero");
  EXPECT_EQ(table->abi_major, PORTA_BACKEND_ABI_MAJOR);
  EXPECT_EQ(table->struct_size, sizeof(porta_backend_table_t));
  // Every slot, required and optional, is implemented.
  const auto* slots = reinterpret_cast<void* const*>(&table->init);
  const size_t count =
      (sizeof(porta_backend_table_t) - offsetof(porta_backend_table_t, init)) / sizeof(void*);
  for (size_t i = 0; i < count; ++i) EXPECT_NE(slots[i], nullptr) << "slot " << i;
}

TEST(LevelZeroBackend, EntryRefusesOtherMajor) {
  const porta_backend_host_t host = Host(PORTA_BACKEND_ABI_MAJOR + 1);
  const porta_backend_table_t* table = nullptr;
  Message message;
  EXPECT_EQ(porta_level_zero_backend_entry(&host, &table, message.get()), PORTA_ERROR_ABI_MISMATCH);
  EXPECT_NE(std::string(message.text).find("ABI"), std::string::npos) << message.text;
}

TEST(LevelZeroBackend, MissingLibraryGivesZeroDevicesAndReason) {
  ScopedEnv env("PORTA_LEVEL_ZERO_LIBRARY", "/nonexistent/porta-test/libze_loader.so.1");
  const porta_backend_table_t* table = Table();
  ASSERT_NE(table, nullptr);
  const porta_backend_host_t host = Host();
  Message message;
  porta_be_backend_t backend = nullptr;
  ASSERT_EQ(table->init(&host, &backend, message.get()), PORTA_OK) << message.text;
  uint32_t count = 99;
  ASSERT_EQ(table->device_count(backend, &count, message.get()), PORTA_OK);
  EXPECT_EQ(count, 0u);
  EXPECT_NE(std::string(message.text).find("/nonexistent/porta-test/libze_loader.so.1"),
            std::string::npos)
      << message.text;
  porta_be_device_t device = nullptr;
  EXPECT_EQ(table->device_open(backend, 0, &device, message.get()), PORTA_ERROR_OUT_OF_RANGE);
  table->shutdown(backend);
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
  EXPECT_NE(std::string(message.text).find("zeModuleCreate"), std::string::npos);

  table->event_destroy(start);
  table->event_destroy(end);
  table->buffer_free(buffer);
  table->stream_destroy(stream);
  table->device_close(device);
}

TEST(LevelZeroBackend, DefaultLibraryInitializesCleanly) {
  const porta_backend_table_t* table = Table();
  ASSERT_NE(table, nullptr);
  const porta_backend_host_t host = Host();
  Message message;
  porta_be_backend_t backend = nullptr;
  const auto begin = std::chrono::steady_clock::now();
  ASSERT_EQ(table->init(&host, &backend, message.get()), PORTA_OK) << message.text;
  uint32_t count = 0;
  ASSERT_EQ(table->device_count(backend, &count, message.get()), PORTA_OK);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
  if (count == 0) {
    // No loader, or a loader without a GPU driver: the reason names the loader.
    EXPECT_NE(std::string(message.text).find("libze_loader"), std::string::npos) << message.text;
    EXPECT_LT(seconds, 5.0) << "init without a GPU must be fast";
    std::printf("level_zero: zero devices: %s\n", message.text);
  }
  for (uint32_t i = 0; i < count; ++i) SmokeTestDevice(table, backend, i);
  table->shutdown(backend);
}

}  // namespace
