#include "porta/sdk/backend_test_support.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstddef>
#include <cstdlib>
#include <string>
#include <vector>

namespace porta::test {

porta_backend_host_t Host(uint32_t major) {
  return {sizeof(porta_backend_host_t),
          major,
          PORTA_BACKEND_ABI_MINOR,
          "0.1.0",
          nullptr,
          nullptr,
          nullptr};
}

ScopedEnv::ScopedEnv(const char* name, const char* value) : name_(name) {
  const char* old = std::getenv(name);
  if (old != nullptr) old_ = old;
  had_ = old != nullptr;
  setenv(name, value, 1);
}

ScopedEnv::~ScopedEnv() {
  if (had_) {
    setenv(name_.c_str(), old_.c_str(), 1);
  } else {
    unsetenv(name_.c_str());
  }
}

const porta_backend_table_t* Table(porta_backend_entry_fn entry) {
  const porta_backend_host_t host = Host();
  const porta_backend_table_t* table = nullptr;
  Message message;
  EXPECT_EQ(entry(&host, &table, message.get()), PORTA_OK) << message.text;
  return table;
}

void ExpectCompleteTable(porta_backend_entry_fn entry, const char* name) {
  const porta_backend_table_t* table = Table(entry);
  ASSERT_NE(table, nullptr);
  EXPECT_STREQ(table->name, name);
  EXPECT_EQ(table->abi_major, PORTA_BACKEND_ABI_MAJOR);
  EXPECT_EQ(table->struct_size, sizeof(porta_backend_table_t));
  // Every slot, required and optional, is implemented.
  const auto* slots = reinterpret_cast<void* const*>(&table->init);
  const size_t count =
      (sizeof(porta_backend_table_t) - offsetof(porta_backend_table_t, init)) / sizeof(void*);
  for (size_t i = 0; i < count; ++i) EXPECT_NE(slots[i], nullptr) << "slot " << i;
}

void ExpectRefusesOtherMajor(porta_backend_entry_fn entry) {
  const porta_backend_host_t host = Host(PORTA_BACKEND_ABI_MAJOR + 1);
  const porta_backend_table_t* table = nullptr;
  Message message;
  EXPECT_EQ(entry(&host, &table, message.get()), PORTA_ERROR_ABI_MISMATCH);
  EXPECT_NE(std::string(message.text).find("ABI"), std::string::npos) << message.text;
}

void ExpectMissingLibraryGivesZeroDevices(porta_backend_entry_fn entry, const char* env_var,
                                          const char* missing_path) {
  ScopedEnv env(env_var, missing_path);
  const porta_backend_table_t* table = Table(entry);
  ASSERT_NE(table, nullptr);
  const porta_backend_host_t host = Host();
  Message message;
  porta_be_backend_t backend = nullptr;
  ASSERT_EQ(table->init(&host, &backend, message.get()), PORTA_OK) << message.text;
  uint32_t count = 99;
  ASSERT_EQ(table->device_count(backend, &count, message.get()), PORTA_OK);
  EXPECT_EQ(count, 0u);
  EXPECT_NE(std::string(message.text).find(missing_path), std::string::npos) << message.text;
  table->shutdown(backend);
}

void ExpectDefaultLibraryWorks(porta_backend_entry_fn entry, const char* library_hint,
                               DeviceCheck check) {
  const porta_backend_table_t* table = Table(entry);
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
    // No vendor library, or one without a device: the reason names the library, and nothing was
    // smoke-tested, so the test skips (a pass here would claim a device check that never ran).
    EXPECT_NE(std::string(message.text).find(library_hint), std::string::npos) << message.text;
    EXPECT_LT(seconds, 5.0) << "init without a device must be fast";
    const std::string reason = message.text;
    table->shutdown(backend);
    GTEST_SKIP() << table->name << ": no device to smoke-test: " << reason;
  }
  for (uint32_t i = 0; i < count; ++i) check(table, backend, i);
  table->shutdown(backend);
}

void ExpectPointerImport(const porta_backend_table_t* table, porta_be_device_t device,
                         porta_be_stream_t stream, porta_be_buffer_t buffer, uint64_t size,
                         bool host_visible_needs_host_pointer) {
  Message message;
  porta_native_handles_t handles = PORTA_NATIVE_HANDLES_INIT;
  ASSERT_EQ(table->device_native_handles(device, &handles, message.get()), PORTA_OK)
      << message.text;
  EXPECT_GE(handles.count, 1u);
  handles = PORTA_NATIVE_HANDLES_INIT;
  ASSERT_EQ(table->stream_native_handles(stream, &handles, message.get()), PORTA_OK)
      << message.text;
  EXPECT_EQ(handles.count, 1u);
  EXPECT_NE(handles.handles[0], 0u) << "the stream's native queue";

  porta_native_handles_t native = PORTA_NATIVE_HANDLES_INIT;
  ASSERT_EQ(table->buffer_native_handles(buffer, &native, message.get()), PORTA_OK) << message.text;
  uint64_t single = 0;
  ASSERT_EQ(table->buffer_native_handle(buffer, &single, message.get()), PORTA_OK);
  EXPECT_EQ(native.handles[0], single);

  for (int round = 0; round < 2; ++round) {
    // The second round finds the memory still allocated: freeing the first import freed nothing.
    porta_be_buffer_t alias = nullptr;
    ASSERT_EQ(
        table->buffer_import(device, &native, size, PORTA_MEMORY_DEVICE, &alias, message.get()),
        PORTA_OK)
        << "round " << round << ": " << message.text;
    ASSERT_NE(alias, nullptr);
    table->buffer_free(alias);
  }
  // The tail of the allocation imports; one byte beyond it does not.
  porta_native_handles_t tail = native;
  tail.handles[0] += size - 16;
  porta_be_buffer_t alias = nullptr;
  ASSERT_EQ(table->buffer_import(device, &tail, 16, PORTA_MEMORY_DEVICE, &alias, message.get()),
            PORTA_OK)
      << message.text;
  table->buffer_free(alias);
  alias = nullptr;
  EXPECT_EQ(table->buffer_import(device, &tail, 17, PORTA_MEMORY_DEVICE, &alias, message.get()),
            PORTA_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(message.text).find("past the allocation's end"), std::string::npos)
      << message.text;
  EXPECT_EQ(alias, nullptr);

  porta_native_handles_t stray = native;
  stray.handles[0] = 0x10;
  EXPECT_NE(table->buffer_import(device, &stray, 16, PORTA_MEMORY_DEVICE, &alias, message.get()),
            PORTA_OK)
      << "an address that is no allocation was imported";
  EXPECT_EQ(alias, nullptr);

  if (host_visible_needs_host_pointer) {
    porta_native_handles_t device_only = native;
    device_only.count = 1;
    EXPECT_EQ(table->buffer_import(device, &device_only, size, PORTA_MEMORY_HOST_VISIBLE, &alias,
                                   message.get()),
              PORTA_ERROR_INVALID_ARGUMENT);
    EXPECT_NE(std::string(message.text).find("host address"), std::string::npos) << message.text;
    EXPECT_EQ(alias, nullptr);
  }
}

void ExpectHostRegistration(const porta_backend_table_t* table, porta_be_device_t device,
                            porta_be_stream_t stream, porta_be_buffer_t buffer,
                            const std::function<size_t()>& registered,
                            const std::function<void()>& fail_next_register,
                            const char* register_call) {
  ASSERT_NE(table->host_register, nullptr);
  ASSERT_NE(table->host_unregister, nullptr);
  ASSERT_NE(table->copy_host_to_device_registered, nullptr);
  ASSERT_NE(table->copy_device_to_host_registered, nullptr);
  Message message;
  std::vector<uint8_t> host(8192, 7);
  porta_be_host_registration_t registration = nullptr;
  ASSERT_EQ(table->host_register(device, host.data(), host.size(), PORTA_HOST_REGISTER_DEFAULT,
                                 &registration, message.get()),
            PORTA_OK)
      << message.text;
  ASSERT_NE(registration, nullptr);
  EXPECT_EQ(registered(), 1u);
  EXPECT_EQ(table->copy_host_to_device_registered(stream, buffer, 64, registration, 16,
                                                  host.data() + 16, 1024, message.get()),
            PORTA_OK)
      << message.text;
  EXPECT_EQ(table->copy_device_to_host_registered(stream, registration, 2048, host.data() + 2048,
                                                  buffer, 0, 4096, message.get()),
            PORTA_OK)
      << message.text;
  EXPECT_EQ(table->stream_synchronize(stream, message.get()), PORTA_OK) << message.text;
  table->host_unregister(registration);
  EXPECT_EQ(registered(), 0u);

  fail_next_register();
  registration = nullptr;
  EXPECT_EQ(table->host_register(device, host.data(), host.size(), PORTA_HOST_REGISTER_DEFAULT,
                                 &registration, message.get()),
            PORTA_ERROR_OUT_OF_MEMORY);
  EXPECT_NE(std::string(message.text).find(register_call), std::string::npos) << message.text;
  EXPECT_EQ(registered(), 0u);
}

}  // namespace porta::test
