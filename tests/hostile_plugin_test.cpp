// A plugin that lies or breaks the ABI's rules (tests/plugins/mini_backend.cpp with MINI_HOSTILE)
// must not take the runtime down: absurd device counts are refused, unterminated text is cut at
// its buffer, an OK without the created object is an error, statuses outside porta_status_t
// become PORTA_ERROR_BACKEND naming the value, and C++ exceptions never leave a C function.
#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "porta/porta.h"
#include "test_support.h"

namespace porta_test {
namespace {

class HostilePluginTest : public LoaderTest {
 protected:
  // Creates a runtime with the hostile plugin in |mode|; |device| is its device, if any.
  void Load(const char* mode) {
    ScopedEnv env("PORTA_TEST_HOSTILE_MODE", std::string(mode));
    ASSERT_EQ(CreateRuntime({.plugin_paths = PORTA_TEST_PLUGIN_HOSTILE}, &runtime_), PORTA_OK)
        << porta_last_error_message();
    report_ = ReportByName(runtime_.get(), "hostile").value_or(porta_backend_report_t{});
    device_ = FindDevice(runtime_.get(), "hostile");
  }

  RuntimePtr runtime_;
  porta_backend_report_t report_{};
  porta_device_t device_ = nullptr;
};

TEST_F(HostilePluginTest, HugeDeviceCountIsRefused) {
  Load("huge_count");
  EXPECT_EQ(device_, nullptr);
  // The count the plugin claimed and the limit, each as a whole number.
  EXPECT_TRUE(ContainsNumber(report_.reason, 4294967295u)) << report_.reason;
  EXPECT_TRUE(ContainsNumber(report_.reason, 1024)) << report_.reason;
}

TEST_F(HostilePluginTest, UnterminatedInitMessageIsCutAtItsBuffer) {
  Load("unterminated_init");
  EXPECT_EQ(device_, nullptr);
  const std::string reason = report_.reason;
  EXPECT_NE(reason.find("init failed"), std::string::npos) << reason;
  EXPECT_NE(reason.find("xxxx"), std::string::npos) << reason;
  EXPECT_LT(reason.size(), sizeof(report_.reason));
  EXPECT_NE(Diagnostics(runtime_.get()).find("xxxx"), std::string::npos);
}

TEST_F(HostilePluginTest, UnterminatedNamesAreTerminated) {
  Load("unterminated_names");
  ASSERT_NE(device_, nullptr) << Diagnostics(runtime_.get());
  porta_device_info_t info = PORTA_DEVICE_INFO_INIT;
  ASSERT_EQ(porta_device_get_info(device_, &info), PORTA_OK);
  for (const char* field : {info.name, info.vendor, info.architecture, info.driver_version}) {
    EXPECT_EQ(strnlen(field, PORTA_NAME_SIZE), PORTA_NAME_SIZE - 1u);
  }
}

TEST_F(HostilePluginTest, OkWithoutABufferIsABackendError) {
  Load("null_buffer");
  ASSERT_NE(device_, nullptr) << Diagnostics(runtime_.get());
  porta_buffer_t buffer = nullptr;
  EXPECT_EQ(porta_buffer_alloc(device_, 64, PORTA_MEMORY_DEVICE, &buffer), PORTA_ERROR_BACKEND);
  EXPECT_EQ(buffer, nullptr);
  EXPECT_NE(std::string(porta_last_error_message()).find("PORTA_OK but no buffer"),
            std::string::npos)
      << porta_last_error_message();
  porta_stream_t stream = nullptr;
  ASSERT_EQ(porta_stream_create(device_, &stream), PORTA_OK);
  StreamPtr owned(stream);
  EXPECT_EQ(porta_buffer_alloc_async(stream, 64, PORTA_MEMORY_DEVICE, &buffer),
            PORTA_ERROR_BACKEND);
  EXPECT_EQ(buffer, nullptr);
}

TEST_F(HostilePluginTest, UnknownStatusBecomesBackendErrorNamingTheValue) {
  Load("status_999");
  ASSERT_NE(device_, nullptr) << Diagnostics(runtime_.get());
  porta_stream_t stream = nullptr;
  ASSERT_EQ(porta_stream_create(device_, &stream), PORTA_OK);
  StreamPtr owned(stream);
  EXPECT_EQ(porta_stream_synchronize(stream), PORTA_ERROR_BACKEND);
  const std::string message = porta_last_error_message();
  EXPECT_TRUE(ContainsNumber(message, 999)) << message;
  EXPECT_NE(message.find("not a porta_status_t"), std::string::npos) << message;
}

TEST_F(HostilePluginTest, ExceptionsNeverLeaveTheApi) {
  Load("throw");
  ASSERT_NE(device_, nullptr) << Diagnostics(runtime_.get());
  porta_buffer_t buffer = nullptr;
  EXPECT_EQ(porta_buffer_alloc(device_, 64, PORTA_MEMORY_DEVICE, &buffer), PORTA_ERROR_BACKEND);
  EXPECT_NE(std::string(porta_last_error_message()).find("buffer_alloc throws"), std::string::npos)
      << porta_last_error_message();
  EXPECT_NE(std::string(porta_last_error_message()).find("porta_buffer_alloc"), std::string::npos)
      << porta_last_error_message();
  // The guard at the slot boundary names the slot that threw, not only the public function.
  EXPECT_NE(std::string(porta_last_error_message()).find("the buffer_alloc slot threw"),
            std::string::npos)
      << porta_last_error_message();
  porta_stream_t stream = nullptr;
  EXPECT_EQ(porta_stream_create(device_, &stream), PORTA_ERROR_OUT_OF_MEMORY);
  EXPECT_EQ(stream, nullptr);
  EXPECT_NE(
      std::string(porta_last_error_message()).find("the stream_create slot threw std::bad_alloc"),
      std::string::npos)
      << porta_last_error_message();
  // The runtime's accounting survived the throw: the failed buffer_alloc's reservation of the
  // device's memory was given back (an exception unwinding through the runtime would leak it).
  porta_memory_info_t memory = PORTA_MEMORY_INFO_INIT;
  ASSERT_EQ(porta_device_get_memory_info(device_, &memory), PORTA_OK) << porta_last_error_message();
  EXPECT_EQ(memory.allocated_bytes, 0u);
}

}  // namespace
}  // namespace porta_test
