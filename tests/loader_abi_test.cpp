// ABI negotiation and plugin start-up: each test plugin (tests/plugins/mini_backend.cpp) is one
// case of the plugin ABI's negotiation rules (docs/backend_sdk.md), loaded through the runtime
// options and observed through porta.h.
#include <cstring>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "porta/porta.h"
#include "porta/porta_backend.h"
#include "test_support.h"

namespace porta_test {
namespace {

using LoaderAbiTest = LoaderTest;

// vector_add in the host kernel format: c[i] = a[i] + b[i] for the group's items with i < n.
int32_t VectorAdd(const porta_host_group_t* group) {
  const float* a = static_cast<const float*>(group->args[0].ptr);
  const float* b = static_cast<const float*>(group->args[1].ptr);
  float* c = static_cast<float*>(group->args[2].ptr);
  uint32_t n = *static_cast<const uint32_t*>(group->args[3].ptr);
  for (uint32_t local = 0; local < group->group_size[0]; ++local) {
    uint32_t i = group->group_id[0] * group->group_size[0] + local;
    if (i < n) c[i] = a[i] + b[i];
  }
  return 0;
}

// Reports a device fault with a recognizable code.
int32_t Fault(const porta_host_group_t* /*group*/) {
  return 77;
}

const porta_host_kernel_t kHostKernels[] = {{"vector_add", VectorAdd}, {"fault", Fault}};

TEST_F(LoaderAbiTest, GoodPluginLoadsWithOneDevice) {
  RuntimePtr runtime;
  ASSERT_EQ(CreateRuntime({.plugin_paths = PORTA_TEST_PLUGIN_GOOD}, &runtime), PORTA_OK)
      << porta_last_error_message();

  auto report = ReportBySource(runtime.get(), PORTA_TEST_PLUGIN_GOOD);
  ASSERT_TRUE(report.has_value()) << Diagnostics(runtime.get());
  EXPECT_STREQ(report->name, "good");
  EXPECT_NE(report->loaded, 0) << report->reason;
  EXPECT_EQ(report->device_count, 1u);
  EXPECT_EQ(report->abi_major, 1u);
  EXPECT_EQ(report->abi_minor, PORTA_BACKEND_ABI_MINOR);  // the ABI minor of porta_backend.h
  EXPECT_STREQ(report->reason, "");

  std::vector<porta_device_t> devices = Devices(runtime.get());
  ASSERT_EQ(devices.size(), 1u);
  porta_device_info_t info = Info(devices[0]);
  EXPECT_STREQ(info.name, "good device 0");
  EXPECT_STREQ(info.backend, "good");
  EXPECT_STREQ(info.vendor, "Porta tests");
  EXPECT_EQ(info.type, PORTA_DEVICE_TYPE_ACCELERATOR);
  EXPECT_EQ(info.backend_device_index, 0u);
  EXPECT_EQ(info.kernel_formats, PORTA_FORMAT_BIT(PORTA_FORMAT_HOST));

  ExpectRoundTrip(devices[0], 1000);
}

TEST_F(LoaderAbiTest, GoodPluginNativeHandleIsTheBackendsOwn) {
  RuntimePtr runtime;
  ASSERT_EQ(CreateRuntime({.plugin_paths = PORTA_TEST_PLUGIN_GOOD}, &runtime), PORTA_OK);
  porta_device_t device = FindDevice(runtime.get(), "good");
  ASSERT_NE(device, nullptr) << Diagnostics(runtime.get());

  porta_buffer_t raw_buffer = nullptr;
  ASSERT_EQ(porta_buffer_alloc(device, 64, PORTA_MEMORY_DEVICE, &raw_buffer), PORTA_OK);
  BufferPtr buffer(raw_buffer);
  porta_stream_t raw_stream = nullptr;
  ASSERT_EQ(porta_stream_create(device, &raw_stream), PORTA_OK);
  StreamPtr stream(raw_stream);
  const char text[] = "handed through the runtime unchanged";
  ASSERT_EQ(porta_copy_host_to_device(stream.get(), buffer.get(), 0, text, sizeof(text)), PORTA_OK);
  ASSERT_EQ(porta_stream_synchronize(stream.get()), PORTA_OK);

  // The mini backend's native handle is its host allocation, so the bytes can be read back.
  uint64_t handle = 0;
  ASSERT_EQ(porta_buffer_native_handle(buffer.get(), &handle), PORTA_OK)
      << porta_last_error_message();
  ASSERT_NE(handle, 0u);
  EXPECT_STREQ(reinterpret_cast<const char*>(static_cast<uintptr_t>(handle)), text);

  // The plugin has no ABI 1.4 slots: the buffer's handles come from buffer_native_handle, and
  // the device's, the stream's and imports are unsupported, naming the missing slot.
  porta_native_handles_t native = PORTA_NATIVE_HANDLES_INIT;
  ASSERT_EQ(porta_buffer_get_native_handles(buffer.get(), &native), PORTA_OK)
      << porta_last_error_message();
  EXPECT_STREQ(native.backend, "good");
  EXPECT_EQ(native.count, 1u);
  EXPECT_EQ(native.handles[0], handle);
  porta_native_handles_t none = PORTA_NATIVE_HANDLES_INIT;
  EXPECT_EQ(porta_device_get_native_handles(device, &none), PORTA_ERROR_UNSUPPORTED);
  EXPECT_TRUE(ContainsNoCase(porta_last_error_message(), "device_native_handles"))
      << porta_last_error_message();
  EXPECT_EQ(porta_stream_get_native_handles(stream.get(), &none), PORTA_ERROR_UNSUPPORTED);
  EXPECT_TRUE(ContainsNoCase(porta_last_error_message(), "stream_native_handles"))
      << porta_last_error_message();
  porta_buffer_import_desc_t desc = PORTA_BUFFER_IMPORT_DESC_INIT;
  desc.native = &native;
  desc.size = 16;
  porta_buffer_t imported = nullptr;
  EXPECT_EQ(porta_buffer_import(device, &desc, &imported), PORTA_ERROR_UNSUPPORTED);
  EXPECT_TRUE(ContainsNoCase(porta_last_error_message(), "buffer_import"))
      << porta_last_error_message();
  EXPECT_EQ(imported, nullptr);

  // Without stream_host_func the runtime synchronizes the stream and calls the function itself.
  int calls = 0;
  ASSERT_EQ(porta_stream_enqueue_host_func(
                stream.get(), [](void* data) { ++*static_cast<int*>(data); }, &calls),
            PORTA_OK)
      << porta_last_error_message();
  EXPECT_EQ(calls, 1) << "the fallback returned before calling the function";
}

TEST_F(LoaderAbiTest, GoodPluginRunsHostKernelsAndReportsFaults) {
  RuntimePtr runtime;
  ASSERT_EQ(CreateRuntime({.plugin_paths = PORTA_TEST_PLUGIN_GOOD}, &runtime), PORTA_OK);
  porta_device_t device = FindDevice(runtime.get(), "good");
  ASSERT_NE(device, nullptr) << Diagnostics(runtime.get());

  porta_module_source_t source = {PORTA_FORMAT_HOST, kHostKernels, sizeof(kHostKernels),
                                  nullptr,           nullptr,      0};
  porta_module_desc_t desc = PORTA_MODULE_DESC_INIT;
  desc.sources = &source;
  desc.source_count = 1;
  porta_module_t module = nullptr;
  ASSERT_EQ(porta_module_load(device, &desc, &module), PORTA_OK) << porta_last_error_message();
  porta_kernel_t add = nullptr;
  ASSERT_EQ(porta_module_get_kernel(module, "vector_add", &add), PORTA_OK);

  constexpr uint32_t kN = 1000;
  std::vector<float> a(kN), b(kN), c(kN, 0.0f);
  for (uint32_t i = 0; i < kN; ++i) {
    a[i] = static_cast<float>(i);
    b[i] = 0.5f * static_cast<float>(i);
  }
  porta_buffer_t buffers[3] = {};
  for (porta_buffer_t& buffer : buffers) {
    ASSERT_EQ(porta_buffer_alloc(device, kN * sizeof(float), PORTA_MEMORY_DEVICE, &buffer),
              PORTA_OK);
  }
  porta_stream_t raw_stream = nullptr;
  ASSERT_EQ(porta_stream_create(device, &raw_stream), PORTA_OK);
  StreamPtr stream(raw_stream);
  ASSERT_EQ(porta_copy_host_to_device(stream.get(), buffers[0], 0, a.data(), kN * 4), PORTA_OK);
  ASSERT_EQ(porta_copy_host_to_device(stream.get(), buffers[1], 0, b.data(), kN * 4), PORTA_OK);
  porta_kernel_arg_t args[4] = {porta_arg_buffer(buffers[0], 0), porta_arg_buffer(buffers[1], 0),
                                porta_arg_buffer(buffers[2], 0), porta_arg_scalar(&kN, 4)};
  porta_launch_config_t config = PORTA_LAUNCH_CONFIG_INIT;
  config.block[0] = 64;
  config.grid[0] = (kN + 63) / 64;
  ASSERT_EQ(porta_kernel_launch(stream.get(), add, &config, args, 4), PORTA_OK)
      << porta_last_error_message();
  ASSERT_EQ(porta_copy_device_to_host(stream.get(), c.data(), buffers[2], 0, kN * 4), PORTA_OK);
  ASSERT_EQ(porta_stream_synchronize(stream.get()), PORTA_OK) << porta_last_error_message();
  for (uint32_t i = 0; i < kN; ++i) ASSERT_EQ(c[i], 1.5f * static_cast<float>(i)) << i;

  // A fault inside the plugin is sticky on the stream and carries the kernel's code.
  porta_kernel_t fault = nullptr;
  ASSERT_EQ(porta_module_get_kernel(module, "fault", &fault), PORTA_OK);
  porta_kernel_arg_t fault_arg = porta_arg_buffer(buffers[2], 0);
  porta_launch_config_t one = PORTA_LAUNCH_CONFIG_INIT;
  // The plugin runs the kernel at launch but, like an asynchronous device, reports the fault at
  // the next synchronize: the launch itself succeeds.
  EXPECT_EQ(porta_kernel_launch(stream.get(), fault, &one, &fault_arg, 1), PORTA_OK)
      << porta_last_error_message();
  // The runtime, not the plugin (whose stream waits only check the waiting stream), carries the
  // fault to a stream that waits on an event recorded after it.
  porta_event_t event = nullptr;
  ASSERT_EQ(porta_event_create(device, PORTA_EVENT_DEFAULT, &event), PORTA_OK);
  EXPECT_EQ(porta_event_record(event, stream.get()), PORTA_OK) << porta_last_error_message();
  porta_stream_t raw_waiter = nullptr;
  ASSERT_EQ(porta_stream_create(device, &raw_waiter), PORTA_OK);
  StreamPtr waiter(raw_waiter);
  EXPECT_EQ(porta_stream_wait_event(waiter.get(), event), PORTA_OK) << porta_last_error_message();
  EXPECT_EQ(porta_stream_synchronize(waiter.get()), PORTA_ERROR_DEVICE_LOST);
  EXPECT_NE(std::string(porta_last_error_message())
                .find("waited on an event recorded after a fault on stream"),
            std::string::npos)
      << porta_last_error_message();
  EXPECT_TRUE(ContainsNumber(porta_last_error_message(), 77)) << porta_last_error_message();
  EXPECT_EQ(porta_event_destroy(event), PORTA_OK);
  EXPECT_EQ(porta_stream_synchronize(stream.get()), PORTA_ERROR_DEVICE_LOST);
  EXPECT_TRUE(ContainsNumber(porta_last_error_message(), 77)) << porta_last_error_message();
  EXPECT_EQ(porta_stream_query(stream.get()), PORTA_ERROR_DEVICE_LOST);

  stream.reset();
  for (porta_buffer_t buffer : buffers) EXPECT_EQ(porta_buffer_free(buffer), PORTA_OK);
  EXPECT_EQ(porta_module_destroy(module), PORTA_OK);
}

TEST_F(LoaderAbiTest, DifferentMajorIsRefusedNamingBothVersions) {
  RuntimePtr runtime;
  ASSERT_EQ(CreateRuntime({.plugin_paths = PORTA_TEST_PLUGIN_MAJOR2}, &runtime), PORTA_OK)
      << porta_last_error_message();
  auto report = ReportBySource(runtime.get(), PORTA_TEST_PLUGIN_MAJOR2);
  ASSERT_TRUE(report.has_value()) << Diagnostics(runtime.get());
  EXPECT_EQ(report->loaded, 0);
  EXPECT_EQ(report->abi_major, 2u);
  EXPECT_EQ(report->device_count, 0u);
  std::string reason = report->reason;
  EXPECT_TRUE(ContainsNoCase(reason, "major")) << reason;
  EXPECT_TRUE(ContainsNumber(reason, 2)) << reason;
  EXPECT_TRUE(ContainsNumber(reason, 1)) << reason;
  EXPECT_TRUE(Devices(runtime.get()).empty());

  std::string diagnostics = Diagnostics(runtime.get());
  EXPECT_NE(diagnostics.find(reason), std::string::npos) << diagnostics;
  EXPECT_NE(diagnostics.find(PORTA_TEST_PLUGIN_MAJOR2), std::string::npos) << diagnostics;
}

TEST_F(LoaderAbiTest, OlderMinorLoadsWithLaterSlotsAbsent) {
  RuntimePtr runtime;
  ASSERT_EQ(CreateRuntime({.plugin_paths = PORTA_TEST_PLUGIN_OLD_MINOR}, &runtime), PORTA_OK);
  auto report = ReportBySource(runtime.get(), PORTA_TEST_PLUGIN_OLD_MINOR);
  ASSERT_TRUE(report.has_value()) << Diagnostics(runtime.get());
  EXPECT_NE(report->loaded, 0) << report->reason;
  EXPECT_EQ(report->abi_major, 1u);
  EXPECT_EQ(report->abi_minor, 0u);
  EXPECT_EQ(report->device_count, 1u);

  porta_device_t device = FindDevice(runtime.get(), "old_minor");
  ASSERT_NE(device, nullptr) << Diagnostics(runtime.get());
  ExpectRoundTrip(device, 333);

  // buffer_native_handle lies beyond the table's struct_size. The plugin's memory there holds a
  // function that fails with PORTA_ERROR_BACKEND, so reading it would show up here.
  porta_buffer_t raw_buffer = nullptr;
  ASSERT_EQ(porta_buffer_alloc(device, 16, PORTA_MEMORY_DEVICE, &raw_buffer), PORTA_OK);
  BufferPtr buffer(raw_buffer);
  uint64_t handle = 0;
  EXPECT_EQ(porta_buffer_native_handle(buffer.get(), &handle), PORTA_ERROR_UNSUPPORTED);
  EXPECT_TRUE(ContainsNoCase(porta_last_error_message(), "buffer_native_handle"))
      << porta_last_error_message();
  porta_native_handles_t native = PORTA_NATIVE_HANDLES_INIT;
  EXPECT_EQ(porta_buffer_get_native_handles(buffer.get(), &native), PORTA_ERROR_UNSUPPORTED);
  EXPECT_TRUE(ContainsNoCase(porta_last_error_message(), "buffer_native_handles"))
      << porta_last_error_message();
}

TEST_F(LoaderAbiTest, OlderMinorCrossBackendCopyIsStaged) {
  RuntimePtr runtime;
  std::string paths = std::string(PORTA_TEST_PLUGIN_GOOD) + ":" + PORTA_TEST_PLUGIN_OLD_MINOR;
  ASSERT_EQ(CreateRuntime({.plugin_paths = paths}, &runtime), PORTA_OK);
  porta_device_t good = FindDevice(runtime.get(), "good");
  porta_device_t old = FindDevice(runtime.get(), "old_minor");
  ASSERT_NE(good, nullptr) << Diagnostics(runtime.get());
  ASSERT_NE(old, nullptr) << Diagnostics(runtime.get());

  ExpectCrossDeviceCopy(old, good, good);
  ExpectCrossDeviceCopy(old, good, old);
  ExpectCrossDeviceCopy(good, old, good);
  ExpectCrossDeviceCopy(good, old, old);
}

TEST_F(LoaderAbiTest, OlderMinorSameBackendCopyWithoutCopyPeerIsStaged) {
  ScopedEnv two_devices("PORTA_TEST_OLD_MINOR_DEVICES", "2");
  RuntimePtr runtime;
  ASSERT_EQ(CreateRuntime({.plugin_paths = PORTA_TEST_PLUGIN_OLD_MINOR}, &runtime), PORTA_OK);
  std::vector<porta_device_t> devices = Devices(runtime.get());
  ASSERT_EQ(devices.size(), 2u) << Diagnostics(runtime.get());
  // The tripwire behind struct_size fails every copy_peer call, so success means staging.
  ExpectCrossDeviceCopy(devices[0], devices[1], devices[0]);
  ExpectCrossDeviceCopy(devices[1], devices[0], devices[0]);
}

TEST_F(LoaderAbiTest, SameBackendCopyBetweenTwoDevicesWithCopyPeer) {
  ScopedEnv two_devices("PORTA_TEST_GOOD_DEVICES", "2");
  RuntimePtr runtime;
  ASSERT_EQ(CreateRuntime({.plugin_paths = PORTA_TEST_PLUGIN_GOOD}, &runtime), PORTA_OK);
  std::vector<porta_device_t> devices = Devices(runtime.get());
  ASSERT_EQ(devices.size(), 2u) << Diagnostics(runtime.get());
  ExpectCrossDeviceCopy(devices[0], devices[1], devices[1]);
  ExpectCrossDeviceCopy(devices[1], devices[0], devices[1]);
}

TEST_F(LoaderAbiTest, MissingRequiredSlotIsRefusedNamingTheSlot) {
  RuntimePtr runtime;
  std::string paths =
      std::string(PORTA_TEST_PLUGIN_MISSING_REQUIRED) + ":" + PORTA_TEST_PLUGIN_GOOD;
  ASSERT_EQ(CreateRuntime({.plugin_paths = paths}, &runtime), PORTA_OK);
  auto report = ReportBySource(runtime.get(), PORTA_TEST_PLUGIN_MISSING_REQUIRED);
  ASSERT_TRUE(report.has_value()) << Diagnostics(runtime.get());
  EXPECT_EQ(report->loaded, 0);
  EXPECT_EQ(report->device_count, 0u);
  EXPECT_NE(std::string(report->reason).find("stream_query"), std::string::npos) << report->reason;
  EXPECT_NE(Diagnostics(runtime.get()).find("stream_query"), std::string::npos);
  EXPECT_EQ(FindDevice(runtime.get(), "missing_required"), nullptr);

  porta_device_t good = FindDevice(runtime.get(), "good");
  ASSERT_NE(good, nullptr) << Diagnostics(runtime.get());
  ExpectRoundTrip(good, 256);
}

TEST_F(LoaderAbiTest, FailingInitIsSkippedAndOthersKeepWorking) {
  RuntimePtr runtime;
  std::string paths = std::string(PORTA_TEST_PLUGIN_INIT_FAILS) + ":" + PORTA_TEST_PLUGIN_GOOD;
  ASSERT_EQ(CreateRuntime({.plugin_paths = paths}, &runtime), PORTA_OK);
  auto report = ReportBySource(runtime.get(), PORTA_TEST_PLUGIN_INIT_FAILS);
  ASSERT_TRUE(report.has_value()) << Diagnostics(runtime.get());
  EXPECT_EQ(report->loaded, 0);
  EXPECT_STREQ(report->name, "init_fails");
  EXPECT_EQ(report->abi_major, 1u);
  const char* const kMessage = "simulated driver failure (code 42)";
  EXPECT_NE(std::string(report->reason).find(kMessage), std::string::npos) << report->reason;
  EXPECT_NE(Diagnostics(runtime.get()).find(kMessage), std::string::npos);

  std::vector<porta_device_t> devices = Devices(runtime.get());
  ASSERT_EQ(devices.size(), 1u);
  EXPECT_STREQ(Info(devices[0]).backend, "good");
  ExpectRoundTrip(devices[0], 4096);
}

TEST_F(LoaderAbiTest, LibraryWithoutEntryIsSkippedWithReason) {
  RuntimePtr runtime;
  std::string paths = std::string(PORTA_TEST_PLUGIN_NO_ENTRY) + ":" + PORTA_TEST_PLUGIN_GOOD;
  ASSERT_EQ(CreateRuntime({.plugin_paths = paths}, &runtime), PORTA_OK);
  auto report = ReportBySource(runtime.get(), PORTA_TEST_PLUGIN_NO_ENTRY);
  ASSERT_TRUE(report.has_value()) << Diagnostics(runtime.get());
  EXPECT_EQ(report->loaded, 0);
  // The table's name is unknown, so the report falls back to the file's base name.
  EXPECT_NE(std::string(report->name).find("no_entry"), std::string::npos) << report->name;
  EXPECT_EQ(report->abi_major, 0u);
  EXPECT_NE(std::string(report->reason).find("porta_backend_entry"), std::string::npos)
      << report->reason;
  EXPECT_NE(Diagnostics(runtime.get()).find(PORTA_TEST_PLUGIN_NO_ENTRY), std::string::npos);
  EXPECT_NE(FindDevice(runtime.get(), "good"), nullptr);
}

TEST_F(LoaderAbiTest, MissingFileIsReportedWithReason) {
  const std::string missing = std::string(PORTA_TEST_PLUGIN_DIR) + "/libporta_test_absent.so";
  RuntimePtr runtime;
  std::string paths = missing + ":" + PORTA_TEST_PLUGIN_GOOD;
  ASSERT_EQ(CreateRuntime({.plugin_paths = paths}, &runtime), PORTA_OK);
  auto report = ReportBySource(runtime.get(), missing);
  ASSERT_TRUE(report.has_value()) << Diagnostics(runtime.get());
  EXPECT_EQ(report->loaded, 0);
  EXPECT_STRNE(report->reason, "");
  EXPECT_NE(Diagnostics(runtime.get()).find(missing), std::string::npos);
  EXPECT_NE(FindDevice(runtime.get(), "good"), nullptr);
}

TEST_F(LoaderAbiTest, ZeroDevicesLoadsAndKeepsTheReason) {
  RuntimePtr runtime;
  ASSERT_EQ(CreateRuntime({.plugin_paths = PORTA_TEST_PLUGIN_ZERO_DEVICES}, &runtime), PORTA_OK);
  auto report = ReportBySource(runtime.get(), PORTA_TEST_PLUGIN_ZERO_DEVICES);
  ASSERT_TRUE(report.has_value()) << Diagnostics(runtime.get());
  EXPECT_NE(report->loaded, 0) << report->reason;
  EXPECT_EQ(report->device_count, 0u);
  EXPECT_NE(std::string(report->reason).find("simulated empty machine"), std::string::npos)
      << report->reason;
  EXPECT_NE(Diagnostics(runtime.get()).find("simulated empty machine"), std::string::npos);
  EXPECT_TRUE(Devices(runtime.get()).empty());
}

TEST_F(LoaderAbiTest, EveryFailureAppearsInTheDiagnostics) {
  RuntimePtr runtime;
  const char* const kFailing[] = {PORTA_TEST_PLUGIN_MAJOR2, PORTA_TEST_PLUGIN_MISSING_REQUIRED,
                                  PORTA_TEST_PLUGIN_INIT_FAILS, PORTA_TEST_PLUGIN_NO_ENTRY};
  std::string paths = PORTA_TEST_PLUGIN_GOOD;
  for (const char* path : kFailing) paths += std::string(":") + path;
  ASSERT_EQ(CreateRuntime({.plugin_paths = paths}, &runtime), PORTA_OK);
  std::string diagnostics = Diagnostics(runtime.get());
  for (const char* path : kFailing) {
    auto report = ReportBySource(runtime.get(), path);
    ASSERT_TRUE(report.has_value()) << path << "\n" << diagnostics;
    EXPECT_EQ(report->loaded, 0) << path;
    ASSERT_STRNE(report->reason, "") << path;
    EXPECT_NE(diagnostics.find(path), std::string::npos) << path << "\n" << diagnostics;
    EXPECT_NE(diagnostics.find(report->reason), std::string::npos) << path << "\n" << diagnostics;
  }
  std::vector<porta_device_t> devices = Devices(runtime.get());
  ASSERT_EQ(devices.size(), 1u);
  ExpectRoundTrip(devices[0], 100);
}

}  // namespace
}  // namespace porta_test
