#include "test_support.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <sstream>

namespace porta_test {

ScopedEnv::ScopedEnv(const char* name, std::optional<std::string> value) : name_(name) {
  if (const char* old = std::getenv(name)) previous_ = old;
  if (value) {
    setenv(name, value->c_str(), 1);
  } else {
    unsetenv(name);
  }
}

ScopedEnv::~ScopedEnv() {
  if (previous_) {
    setenv(name_.c_str(), previous_->c_str(), 1);
  } else {
    unsetenv(name_.c_str());
  }
}

CleanEnvironment::CleanEnvironment() {
  static const char* const kVariables[] = {"PORTA_PLUGIN_PATH",
                                           "PORTA_DEVICES",
                                           "PORTA_TEST_GOOD_DEVICES",
                                           "PORTA_TEST_MAJOR2_DEVICES",
                                           "PORTA_TEST_OLD_MINOR_DEVICES",
                                           "PORTA_TEST_MISSING_REQUIRED_DEVICES",
                                           "PORTA_TEST_INIT_FAILS_DEVICES",
                                           "PORTA_TEST_NO_ENTRY_DEVICES",
                                           "PORTA_TEST_ZERO_DEVICES_DEVICES",
                                           "PORTA_TEST_SMALL_MEMORY_DEVICES",
                                           "PORTA_TEST_FAULTY_DEVICES",
                                           "PORTA_TEST_FAULT_WALK",
                                           "PORTA_TEST_NATIVE_DEVICES",
                                           "PORTA_TEST_NATIVE_TAGS",
                                           "PORTA_TEST_NATIVE_TAG_COUNT",
                                           "PORTA_POOL"};
  for (const char* name : kVariables) {
    vars_.push_back(std::make_unique<ScopedEnv>(name, std::nullopt));
  }
}

porta_status_t CreateRuntime(const RuntimeConfig& config, RuntimePtr* out) {
  porta_runtime_options_t options = PORTA_RUNTIME_OPTIONS_INIT;
  options.plugin_paths = config.plugin_paths ? config.plugin_paths->c_str() : nullptr;
  options.device_filter = config.device_filter ? config.device_filter->c_str() : nullptr;
  options.flags = config.flags;
  porta_runtime_t runtime = nullptr;
  porta_status_t status = porta_runtime_create(&options, &runtime);
  if (status == PORTA_OK) out->reset(runtime);
  return status;
}

std::vector<porta_backend_report_t> Reports(porta_runtime_t runtime) {
  std::vector<porta_backend_report_t> reports;
  uint32_t count = 0;
  EXPECT_EQ(porta_runtime_backend_count(runtime, &count), PORTA_OK) << porta_last_error_message();
  for (uint32_t i = 0; i < count; ++i) {
    porta_backend_report_t report = PORTA_BACKEND_REPORT_INIT;
    EXPECT_EQ(porta_runtime_backend_report(runtime, i, &report), PORTA_OK)
        << porta_last_error_message();
    reports.push_back(report);
  }
  return reports;
}

std::optional<porta_backend_report_t> ReportByName(porta_runtime_t runtime,
                                                   const std::string& name) {
  for (const porta_backend_report_t& report : Reports(runtime)) {
    if (name == report.name) return report;
  }
  return std::nullopt;
}

std::optional<porta_backend_report_t> ReportBySource(porta_runtime_t runtime,
                                                     const std::string& source) {
  for (const porta_backend_report_t& report : Reports(runtime)) {
    if (source == report.source) return report;
  }
  return std::nullopt;
}

std::string Diagnostics(porta_runtime_t runtime) {
  size_t required = 0;
  EXPECT_EQ(porta_runtime_diagnostics(runtime, nullptr, 0, &required), PORTA_OK)
      << porta_last_error_message();
  std::string text(required, '\0');
  EXPECT_EQ(porta_runtime_diagnostics(runtime, text.data(), text.size(), nullptr), PORTA_OK)
      << porta_last_error_message();
  text.resize(std::strlen(text.c_str()));
  return text;
}

std::vector<porta_device_t> Devices(porta_runtime_t runtime) {
  std::vector<porta_device_t> devices;
  uint32_t count = 0;
  EXPECT_EQ(porta_runtime_device_count(runtime, &count), PORTA_OK) << porta_last_error_message();
  for (uint32_t i = 0; i < count; ++i) {
    porta_device_t device = nullptr;
    EXPECT_EQ(porta_runtime_device(runtime, i, &device), PORTA_OK) << porta_last_error_message();
    devices.push_back(device);
  }
  return devices;
}

porta_device_info_t Info(porta_device_t device) {
  porta_device_info_t info = PORTA_DEVICE_INFO_INIT;
  EXPECT_EQ(porta_device_get_info(device, &info), PORTA_OK) << porta_last_error_message();
  return info;
}

porta_device_t FindDevice(porta_runtime_t runtime, const std::string& backend) {
  for (porta_device_t device : Devices(runtime)) {
    if (backend == Info(device).backend) return device;
  }
  return nullptr;
}

std::vector<uint8_t> Pattern(uint64_t size, uint8_t seed) {
  std::vector<uint8_t> bytes(size);
  for (uint64_t i = 0; i < size; ++i) bytes[i] = static_cast<uint8_t>(i * 31 + seed);
  return bytes;
}

void ExpectRoundTrip(porta_device_t device, uint64_t size) {
  porta_buffer_t raw_buffer = nullptr;
  ASSERT_EQ(porta_buffer_alloc(device, size, PORTA_MEMORY_DEVICE, &raw_buffer), PORTA_OK)
      << porta_last_error_message();
  BufferPtr buffer(raw_buffer);
  uint64_t actual_size = 0;
  ASSERT_EQ(porta_buffer_size(buffer.get(), &actual_size), PORTA_OK);
  EXPECT_EQ(actual_size, size);
  porta_device_t owner = nullptr;
  ASSERT_EQ(porta_buffer_device(buffer.get(), &owner), PORTA_OK);
  EXPECT_EQ(owner, device);

  porta_stream_t raw_stream = nullptr;
  ASSERT_EQ(porta_stream_create(device, &raw_stream), PORTA_OK) << porta_last_error_message();
  StreamPtr stream(raw_stream);
  std::vector<uint8_t> in = Pattern(size, 7);
  std::vector<uint8_t> out(size, 0);
  ASSERT_EQ(porta_copy_host_to_device(stream.get(), buffer.get(), 0, in.data(), size), PORTA_OK)
      << porta_last_error_message();
  ASSERT_EQ(porta_copy_device_to_host(stream.get(), out.data(), buffer.get(), 0, size), PORTA_OK)
      << porta_last_error_message();
  ASSERT_EQ(porta_stream_synchronize(stream.get()), PORTA_OK) << porta_last_error_message();
  EXPECT_EQ(in, out);
}

void ExpectCrossDeviceCopy(porta_device_t src_device, porta_device_t dst_device,
                           porta_device_t stream_device) {
  constexpr uint64_t kSize = 4096;
  porta_buffer_t raw_src = nullptr;
  porta_buffer_t raw_dst = nullptr;
  ASSERT_EQ(porta_buffer_alloc(src_device, kSize, PORTA_MEMORY_DEVICE, &raw_src), PORTA_OK)
      << porta_last_error_message();
  BufferPtr src(raw_src);
  ASSERT_EQ(porta_buffer_alloc(dst_device, kSize, PORTA_MEMORY_DEVICE, &raw_dst), PORTA_OK)
      << porta_last_error_message();
  BufferPtr dst(raw_dst);

  porta_stream_t raw_src_stream = nullptr;
  porta_stream_t raw_dst_stream = nullptr;
  porta_stream_t raw_copy_stream = nullptr;
  ASSERT_EQ(porta_stream_create(src_device, &raw_src_stream), PORTA_OK);
  StreamPtr src_stream(raw_src_stream);
  ASSERT_EQ(porta_stream_create(dst_device, &raw_dst_stream), PORTA_OK);
  StreamPtr dst_stream(raw_dst_stream);
  ASSERT_EQ(porta_stream_create(stream_device, &raw_copy_stream), PORTA_OK);
  StreamPtr copy_stream(raw_copy_stream);

  std::vector<uint8_t> in = Pattern(kSize, 3);
  uint8_t zero = 0;
  ASSERT_EQ(porta_copy_host_to_device(src_stream.get(), src.get(), 0, in.data(), kSize), PORTA_OK)
      << porta_last_error_message();
  ASSERT_EQ(porta_fill_buffer(dst_stream.get(), dst.get(), 0, kSize, &zero, 1), PORTA_OK)
      << porta_last_error_message();
  ASSERT_EQ(porta_stream_synchronize(src_stream.get()), PORTA_OK);
  ASSERT_EQ(porta_stream_synchronize(dst_stream.get()), PORTA_OK);

  // Half of the buffer, at different offsets on each side, so offsets are checked too.
  ASSERT_EQ(porta_copy_device_to_device(copy_stream.get(), dst.get(), 1024, src.get(), 256, 2048),
            PORTA_OK)
      << porta_last_error_message();
  ASSERT_EQ(porta_stream_synchronize(copy_stream.get()), PORTA_OK) << porta_last_error_message();

  std::vector<uint8_t> out(kSize, 0xff);
  ASSERT_EQ(porta_copy_device_to_host(dst_stream.get(), out.data(), dst.get(), 0, kSize), PORTA_OK)
      << porta_last_error_message();
  ASSERT_EQ(porta_stream_synchronize(dst_stream.get()), PORTA_OK);
  for (uint64_t i = 0; i < kSize; ++i) {
    uint8_t expected = (i >= 1024 && i < 3072) ? in[i - 1024 + 256] : 0;
    ASSERT_EQ(out[i], expected) << "byte " << i;
  }
}

std::vector<std::string> BuiltinBackendNames() {
  std::vector<std::string> names;
  std::stringstream text(PORTA_TEST_BUILTIN_BACKENDS);
  for (std::string name; std::getline(text, name, ',');) {
    if (!name.empty()) names.push_back(name);
  }
  return names;
}

bool ContainsNoCase(const std::string& text, const std::string& part) {
  auto lower = [](std::string s) {
    std::transform(s.begin(), s.end(), s.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
  };
  return lower(text).find(lower(part)) != std::string::npos;
}

bool ContainsNumber(const std::string& text, unsigned number) {
  std::string digits = std::to_string(number);
  for (size_t pos = text.find(digits); pos != std::string::npos; pos = text.find(digits, pos + 1)) {
    bool digit_before = pos > 0 && std::isdigit(static_cast<unsigned char>(text[pos - 1]));
    size_t end = pos + digits.size();
    bool digit_after = end < text.size() && std::isdigit(static_cast<unsigned char>(text[end]));
    if (!digit_before && !digit_after) return true;
  }
  return false;
}

}  // namespace porta_test
