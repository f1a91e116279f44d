// The runtime-independent corners of porta.h: status names, version reporting and the
// thread-local last-error message.
#include <cstdio>
#include <future>
#include <string>
#include <thread>
#include <utility>

#include <gtest/gtest.h>

#include "porta/porta.h"
#include "test_support.h"

namespace porta_test {
namespace {

TEST(StatusStringTest, NamesEveryStatus) {
  const std::pair<porta_status_t, const char*> kNames[] = {
      {PORTA_OK, "PORTA_OK"},
      {PORTA_NOT_READY, "PORTA_NOT_READY"},
      {PORTA_ERROR_INVALID_ARGUMENT, "PORTA_ERROR_INVALID_ARGUMENT"},
      {PORTA_ERROR_INVALID_HANDLE, "PORTA_ERROR_INVALID_HANDLE"},
      {PORTA_ERROR_OUT_OF_MEMORY, "PORTA_ERROR_OUT_OF_MEMORY"},
      {PORTA_ERROR_UNSUPPORTED, "PORTA_ERROR_UNSUPPORTED"},
      {PORTA_ERROR_NOT_FOUND, "PORTA_ERROR_NOT_FOUND"},
      {PORTA_ERROR_OUT_OF_RANGE, "PORTA_ERROR_OUT_OF_RANGE"},
      {PORTA_ERROR_BUILD_FAILED, "PORTA_ERROR_BUILD_FAILED"},
      {PORTA_ERROR_DEVICE_LOST, "PORTA_ERROR_DEVICE_LOST"},
      {PORTA_ERROR_TIMEOUT, "PORTA_ERROR_TIMEOUT"},
      {PORTA_ERROR_ABI_MISMATCH, "PORTA_ERROR_ABI_MISMATCH"},
      {PORTA_ERROR_BACKEND, "PORTA_ERROR_BACKEND"},
      {PORTA_ERROR_INVALID_OPERATION, "PORTA_ERROR_INVALID_OPERATION"},
  };
  for (const auto& [status, name] : kNames) {
    const char* text = porta_status_string(status);
    ASSERT_NE(text, nullptr) << name;
    EXPECT_STREQ(text, name);
  }
}

TEST(StatusStringTest, UnknownValuesHaveAFixedName) {
  for (int value : {-1, 14, 100, 0x7fffffff}) {
    const char* text = porta_status_string(static_cast<porta_status_t>(value));
    ASSERT_NE(text, nullptr) << value;
    EXPECT_STREQ(text, "PORTA_STATUS_UNKNOWN") << value;
  }
}

TEST(KernelFormatNameTest, EveryFormatHasItsNameAndOthersAreUnknown) {
  const std::pair<porta_kernel_format_t, const char*> kNames[] = {
      {PORTA_FORMAT_HOST, "host"},
      {PORTA_FORMAT_OPENCL_C, "opencl-c"},
      {PORTA_FORMAT_SPIRV_KERNEL, "spirv-kernel"},
      {PORTA_FORMAT_SPIRV_SHADER, "spirv-shader"},
      {PORTA_FORMAT_PTX, "ptx"},
      {PORTA_FORMAT_CUBIN, "cubin"},
      {PORTA_FORMAT_HSACO, "hsaco"},
      {PORTA_FORMAT_NATIVE, "native"},
  };
  static_assert(sizeof(kNames) / sizeof(kNames[0]) == PORTA_FORMAT_COUNT - 1);
  for (const auto& [format, name] : kNames) {
    EXPECT_STREQ(porta_kernel_format_name(format), name);
  }
  for (int32_t value : {0, PORTA_FORMAT_COUNT, -1, 1000}) {
    EXPECT_STREQ(porta_kernel_format_name(value), "unknown") << value;
  }
}

TEST(VersionTest, MatchesTheHeaderMacros) {
  uint32_t major = 99;
  uint32_t minor = 99;
  uint32_t patch = 99;
  porta_version(&major, &minor, &patch);
  EXPECT_EQ(major, static_cast<uint32_t>(PORTA_VERSION_MAJOR));
  EXPECT_EQ(minor, static_cast<uint32_t>(PORTA_VERSION_MINOR));
  EXPECT_EQ(patch, static_cast<uint32_t>(PORTA_VERSION_PATCH));

  char expected[64];
  std::snprintf(expected, sizeof(expected), "%u.%u.%u", major, minor, patch);
  ASSERT_NE(porta_version_string(), nullptr);
  EXPECT_STREQ(porta_version_string(), expected);
}

TEST(VersionTest, AcceptsNullPointers) {
  porta_version(nullptr, nullptr, nullptr);
  uint32_t minor = 99;
  porta_version(nullptr, &minor, nullptr);
  EXPECT_EQ(minor, static_cast<uint32_t>(PORTA_VERSION_MINOR));
}

// Produces a failure whose message names a device index; the runtime has no devices.
std::string FailWithOutOfRange(porta_runtime_t runtime, uint32_t index) {
  porta_device_t device = nullptr;
  EXPECT_EQ(porta_runtime_device(runtime, index, &device), PORTA_ERROR_OUT_OF_RANGE);
  return porta_last_error_message();
}

TEST(LastErrorTest, MessageIsPerThread) {
  CleanEnvironment environment;
  RuntimePtr runtime;
  ASSERT_EQ(CreateRuntime({}, &runtime), PORTA_OK) << porta_last_error_message();

  // Thread B fails first, then thread A fails differently while B is still alive; B's message
  // must not change, and A's must be A's own.
  std::promise<void> b_failed;
  std::promise<void> a_failed;
  std::string b_before;
  std::string b_after;
  std::thread b([&] {
    b_before = FailWithOutOfRange(runtime.get(), 4242);
    b_failed.set_value();
    a_failed.get_future().wait();
    b_after = porta_last_error_message();
  });
  b_failed.get_future().wait();
  std::string a_message;
  std::thread a([&] {
    EXPECT_STREQ(porta_last_error_message(), "");
    uint32_t* null_count = nullptr;
    EXPECT_EQ(porta_runtime_device_count(runtime.get(), null_count), PORTA_ERROR_INVALID_ARGUMENT);
    a_message = porta_last_error_message();
    a_failed.set_value();
  });
  a.join();
  b.join();

  EXPECT_TRUE(ContainsNumber(b_before, 4242)) << b_before;
  EXPECT_EQ(b_after, b_before);
  EXPECT_FALSE(a_message.empty());
  EXPECT_NE(a_message, b_before);
  EXPECT_FALSE(ContainsNumber(a_message, 4242)) << a_message;
}

TEST(LastErrorTest, SuccessLeavesTheMessageUnchanged) {
  CleanEnvironment environment;
  RuntimePtr runtime;
  ASSERT_EQ(CreateRuntime({}, &runtime), PORTA_OK);
  std::string failure = FailWithOutOfRange(runtime.get(), 7);
  ASSERT_FALSE(failure.empty());
  uint32_t count = 99;
  ASSERT_EQ(porta_runtime_device_count(runtime.get(), &count), PORTA_OK);
  EXPECT_EQ(count, 0u);
  EXPECT_EQ(porta_last_error_message(), failure);
}

TEST(LastErrorTest, BadHandlesAndArgumentsFailCleanly) {
  porta_runtime_t runtime = nullptr;
  EXPECT_EQ(porta_runtime_create(nullptr, nullptr), PORTA_ERROR_INVALID_ARGUMENT);
  EXPECT_STRNE(porta_last_error_message(), "");
  uint32_t count = 0;
  EXPECT_EQ(porta_runtime_device_count(runtime, &count), PORTA_ERROR_INVALID_HANDLE);
  EXPECT_STRNE(porta_last_error_message(), "");
  porta_runtime_options_t options = PORTA_RUNTIME_OPTIONS_INIT;
  options.struct_size = 1;
  EXPECT_EQ(porta_runtime_create(&options, &runtime), PORTA_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(porta_last_error_message()).find("struct_size"), std::string::npos)
      << porta_last_error_message();
}

// Objects outlive their runtime, but their device does not: the device handle is dead, and the
// queries that would hand it out fail instead of returning a handle every other call rejects.
TEST_F(LoaderTest, ObjectsOutliveTheRuntimeButNotItsDevices) {
  RuntimePtr runtime;
  ASSERT_EQ(CreateRuntime({.plugin_paths = PORTA_TEST_PLUGIN_GOOD}, &runtime), PORTA_OK)
      << porta_last_error_message();
  porta_device_t device = FindDevice(runtime.get(), "good");
  ASSERT_NE(device, nullptr) << Diagnostics(runtime.get());
  porta_buffer_t buffer = nullptr;
  ASSERT_EQ(porta_buffer_alloc(device, 256, PORTA_MEMORY_DEVICE, &buffer), PORTA_OK);
  porta_stream_t stream = nullptr;
  ASSERT_EQ(porta_stream_create(device, &stream), PORTA_OK);
  porta_device_t owner = nullptr;
  ASSERT_EQ(porta_buffer_device(buffer, &owner), PORTA_OK);
  EXPECT_EQ(owner, device);

  runtime.reset();
  porta_device_info_t info = PORTA_DEVICE_INFO_INIT;
  EXPECT_EQ(porta_device_get_info(device, &info), PORTA_ERROR_INVALID_HANDLE);
  owner = device;
  EXPECT_EQ(porta_buffer_device(buffer, &owner), PORTA_ERROR_INVALID_OPERATION);
  EXPECT_EQ(owner, nullptr);
  EXPECT_NE(std::string(porta_last_error_message()).find("porta_runtime_destroy"),
            std::string::npos)
      << porta_last_error_message();
  EXPECT_EQ(porta_stream_device(stream, &owner), PORTA_ERROR_INVALID_OPERATION);
  // The buffer and the stream themselves still work.
  const uint32_t value = 7;
  uint32_t read = 0;
  EXPECT_EQ(porta_fill_buffer(stream, buffer, 0, 256, &value, 4), PORTA_OK);
  EXPECT_EQ(porta_copy_device_to_host(stream, &read, buffer, 0, 4), PORTA_OK);
  EXPECT_EQ(porta_stream_synchronize(stream), PORTA_OK);
  EXPECT_EQ(read, value);
  uint64_t size = 0;
  EXPECT_EQ(porta_buffer_size(buffer, &size), PORTA_OK);
  EXPECT_EQ(size, 256u);
  EXPECT_EQ(porta_stream_destroy(stream), PORTA_OK);
  EXPECT_EQ(porta_buffer_free(buffer), PORTA_OK);
}

}  // namespace
}  // namespace porta_test
