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

void ExpectDeviceSmoke(const porta_backend_table_t* table, porta_be_backend_t backend,
                       uint32_t index, const DeviceSmoke& smoke) {
  Message message;
  porta_be_device_t device = nullptr;
  ASSERT_EQ(table->device_open(backend, index, &device, message.get()), PORTA_OK) << message.text;
  porta_device_info_t info = PORTA_DEVICE_INFO_INIT;
  ASSERT_EQ(table->device_get_info(device, &info, message.get()), PORTA_OK) << message.text;
  EXPECT_STREQ(info.backend, smoke.backend);
  EXPECT_GT(info.global_memory_bytes, 0u);
  if (smoke.check_info) smoke.check_info(info);

  porta_be_stream_t stream = nullptr;
  ASSERT_EQ(table->stream_create(device, &stream, message.get()), PORTA_OK) << message.text;
  porta_be_buffer_t buffer = nullptr;
  ASSERT_EQ(table->buffer_alloc(device, 4096, PORTA_MEMORY_DEVICE, &buffer, message.get()),
            PORTA_OK)
      << message.text;
  porta_be_module_t module = nullptr;
  porta_be_kernel_t kernel = nullptr;
  const bool with_kernel = smoke.store_module.format != 0;
  if (with_kernel) {
    ASSERT_EQ(table->module_load(device, &smoke.store_module, &module, message.get()), PORTA_OK)
        << message.text;
    ASSERT_EQ(table->module_get_kernel(module, smoke.store_kernel, &kernel, message.get()),
              PORTA_OK)
        << message.text;
    porta_be_kernel_t missing = nullptr;
    EXPECT_EQ(table->module_get_kernel(module, "porta_no_such_kernel", &missing, message.get()),
              PORTA_ERROR_NOT_FOUND);
  }
  std::vector<uint32_t> in(1024), out(1024, 0);
  for (uint32_t i = 0; i < in.size(); ++i) in[i] = i * 7u;
  const uint32_t pattern = 0xdeadbeefu;
  porta_be_event_t start = nullptr, end = nullptr;
  ASSERT_EQ(table->event_create(device, 0, &start, message.get()), PORTA_OK) << message.text;
  ASSERT_EQ(table->event_create(device, 0, &end, message.get()), PORTA_OK) << message.text;
  ASSERT_EQ(table->event_record(start, stream, message.get()), PORTA_OK) << message.text;
  ASSERT_EQ(table->copy_host_to_device(stream, buffer, 0, in.data(), 4096, message.get()), PORTA_OK)
      << message.text;
  ASSERT_EQ(table->fill_buffer(stream, buffer, 16, 8, &pattern, 4, message.get()), PORTA_OK)
      << message.text;
  const porta_launch_config_t config = PORTA_LAUNCH_CONFIG_INIT;
  if (with_kernel) {
    const porta_be_arg_t arg = {PORTA_ARG_BUFFER, buffer, 4092, nullptr, 0};
    ASSERT_EQ(table->kernel_launch(stream, kernel, &config, &arg, 1, message.get()), PORTA_OK)
        << message.text;
  }
  ASSERT_EQ(table->copy_device_to_host(stream, out.data(), buffer, 0, 4096, message.get()),
            PORTA_OK)
      << message.text;
  ASSERT_EQ(table->event_record(end, stream, message.get()), PORTA_OK) << message.text;
  ASSERT_EQ(table->event_wait(end, 1000000000ull, message.get()), PORTA_OK) << message.text;
  ASSERT_EQ(table->stream_synchronize(stream, message.get()), PORTA_OK) << message.text;
  float ms = -1.0f;
  EXPECT_EQ(table->event_elapsed_ms(start, end, &ms, message.get()), PORTA_OK) << message.text;
  EXPECT_GE(ms, 0.0f);
  for (uint32_t i = 0; i < 1024; ++i) {
    const uint32_t expected = i == 1023 && with_kernel ? 42u : i == 4 || i == 5 ? pattern : in[i];
    ASSERT_EQ(out[i], expected) << "word " << i;
  }

  // Too few arguments and a broken module are reported, not executed.
  if (with_kernel &&
      table->kernel_launch(stream, kernel, &config, nullptr, 0, message.get()) == PORTA_OK) {
    ADD_FAILURE() << "a launch without its argument was accepted";
  }
  porta_be_module_t bad_module = nullptr;
  EXPECT_EQ(table->module_load(device, &smoke.bad_module, &bad_module, message.get()),
            PORTA_ERROR_BUILD_FAILED);
  EXPECT_NE(std::string(message.text).find(smoke.bad_module_error), std::string::npos)
      << message.text;

  table->event_destroy(start);
  table->event_destroy(end);
  if (module != nullptr) table->module_destroy(module);
  table->buffer_free(buffer);
  table->stream_destroy(stream);
  table->device_close(device);
}

}  // namespace porta::test
