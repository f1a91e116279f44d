// Implementation of the shared CTS infrastructure declared in cts.h.
#include "conformance/cts.h"

#include <gtest/gtest-spi.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <sstream>
#include <string_view>

#include "conformance/gate.h"
#include "conformance/kernels/test_kernels.h"

namespace porta_cts {
namespace {

Environment& GlobalEnv() {
  static Environment env;
  return env;
}

std::mutex& SkipMutex() {
  static std::mutex mutex;
  return mutex;
}

std::map<std::string, std::string>& SkipReasons() {
  static std::map<std::string, std::string> reasons;
  return reasons;
}

std::string Lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// Splits "a|b|c" into its alternatives.
std::vector<std::string> Alternatives(const char* needles) {
  std::vector<std::string> out;
  std::string_view rest = needles != nullptr ? needles : "";
  while (true) {
    const size_t bar = rest.find('|');
    out.emplace_back(rest.substr(0, bar));
    if (bar == std::string_view::npos) break;
    rest.remove_prefix(bar + 1);
  }
  return out;
}

bool ContainsAny(const std::string& text, const char* needles) {
  const std::string lower = Lower(text);
  for (const std::string& needle : Alternatives(needles)) {
    if (!needle.empty() && lower.find(Lower(needle)) != std::string::npos) return true;
  }
  return false;
}

uint32_t NextRandom(uint32_t* state) {
  *state = *state * 1664525u + 1013904223u;
  return *state >> 8;
}

}  // namespace

void PrintTo(const DeviceParam& param, std::ostream* os) {
  *os << param.id;
}

std::string DeviceParamName(const testing::TestParamInfo<DeviceParam>& info) {
  return info.param.id;
}

const Environment& Env() {
  return GlobalEnv();
}
Environment* MutableEnv() {
  return &GlobalEnv();
}

porta_runtime_options_t RuntimeOptions() {
  const Environment& env = Env();
  porta_runtime_options_t options = PORTA_RUNTIME_OPTIONS_INIT;
  if (!env.plugin_path.empty()) {
    options.plugin_paths = env.plugin_path.c_str();
    options.flags = PORTA_RUNTIME_NO_BUILTIN_BACKENDS | PORTA_RUNTIME_IGNORE_PLUGIN_PATH_ENV;
  }
  if (env.has_device_filter) options.device_filter = env.device_filter.c_str();
  return options;
}

std::vector<porta_device_t> OtherDevices(porta_device_t device) {
  std::vector<porta_device_t> others;
  for (const DeviceParam& param : Env().devices) {
    if (param.device != device) others.push_back(param.device);
  }
  return others;
}

void RecordSkipReason(const std::string& reason) {
  const testing::TestInfo* test = testing::UnitTest::GetInstance()->current_test_info();
  if (test == nullptr) return;
  std::lock_guard<std::mutex> lock(SkipMutex());
  SkipReasons()[std::string(test->test_suite_name()) + "." + test->name()] = reason;
}

std::string TakeSkipReason(const std::string& full_name) {
  std::lock_guard<std::mutex> lock(SkipMutex());
  auto it = SkipReasons().find(full_name);
  if (it == SkipReasons().end()) return "";
  std::string reason = it->second;
  SkipReasons().erase(it);
  return reason;
}

bool DeviceAcceptsTestKernel(const porta_device_info_t& info, const char* kernel) {
  return TestKernelFormatFor(info, kernel) != 0;
}

FaultKind FaultKindFor(const porta_device_info_t& info) {
  const porta_kernel_format_t format = TestKernelFormatFor(info, "fault");
  if (format == 0) return FaultKind::kNone;
  const char* in_child = std::getenv("PORTA_CTS_FAULT_IN_CHILD");
  if (in_child != nullptr && std::strcmp(in_child, "1") == 0) return FaultKind::kEndsDevice;
  if (format == PORTA_FORMAT_HOST && !IsSuppliedKernel("fault", format)) {
    return FaultKind::kStreamLocal;
  }
  return FaultKind::kEndsDevice;
}

void RunChecksAndExit(const std::function<void()>& body) {
  testing::TestPartResultArray results;
  {
    testing::ScopedFakeTestPartResultReporter reporter(
        testing::ScopedFakeTestPartResultReporter::INTERCEPT_ALL_THREADS, &results);
    body();
  }
  int failed = 0;
  for (int i = 0; i < results.size(); ++i) {
    const testing::TestPartResult& result = results.GetTestPartResult(i);
    if (!result.failed()) continue;
    ++failed;
    std::fprintf(stderr, "%s:%d: failure in the child process:\n%s\n",
                 result.file_name() != nullptr ? result.file_name() : "(unknown file)",
                 result.line_number(), result.message());
  }
  std::fflush(stderr);
  std::fflush(stdout);
  // No teardown: the device may be unusable, and the parent only reads the exit code.
  std::_Exit(failed == 0 ? 0 : 1);
}

std::string KernelFormatList(const porta_device_info_t& info) {
  std::string out;
  for (uint32_t format = 1; format < PORTA_FORMAT_COUNT; ++format) {
    if ((info.kernel_formats & PORTA_FORMAT_BIT(format)) == 0) continue;
    if (!out.empty()) out += ", ";
    out += KernelFormatName(static_cast<porta_kernel_format_t>(format));
    if (format != PORTA_FORMAT_NATIVE) continue;
    out += " (tags ";
    for (uint32_t i = 0; i < info.native_tag_count && i < PORTA_MAX_NATIVE_TAGS; ++i) {
      out += (i == 0 ? "" : ", ") + std::string(info.native_tags[i]);
    }
    out += ")";
  }
  return out.empty() ? "(none)" : out;
}

testing::AssertionResult IsStatus(const char* actual_expr, const char* /*expected_expr*/,
                                  porta_status_t actual, porta_status_t expected) {
  if (actual == expected) return testing::AssertionSuccess();
  testing::AssertionResult result = testing::AssertionFailure();
  result << actual_expr << " returned " << porta_status_string(actual) << ", expected "
         << porta_status_string(expected);
  if (actual != PORTA_OK && actual != PORTA_NOT_READY) {
    result << "; last error: \"" << porta_last_error_message() << "\"";
  }
  return result;
}

void PrimeErrorMessage(const char* needles) {
  // Three different failures with different wording; at least one of them avoids the needles
  // of any check in the suite.
  porta_device_t device = nullptr;
  porta_runtime_device(Env().runtime, UINT32_MAX, &device);
  if (!ContainsAny(porta_last_error_message(), needles)) return;
  porta_event_wait(nullptr, 0);
  if (!ContainsAny(porta_last_error_message(), needles)) return;
  uint64_t size = 0;
  porta_buffer_size(nullptr, &size);
}

testing::AssertionResult CheckError(const char* call_text, porta_status_t actual,
                                    porta_status_t expected, const char* needles) {
  const std::string message = porta_last_error_message();
  if (actual != expected) {
    testing::AssertionResult failure = testing::AssertionFailure();
    failure << call_text << " returned " << porta_status_string(actual) << ", expected "
            << porta_status_string(expected);
    if (actual != PORTA_OK && actual != PORTA_NOT_READY) {
      failure << "; last error: \"" << message << "\"";
    }
    return failure;
  }
  if (message.empty()) {
    return testing::AssertionFailure() << call_text << " returned " << porta_status_string(actual)
                                       << " but porta_last_error_message() is empty";
  }
  if (!ContainsAny(message, needles)) {
    return testing::AssertionFailure()
           << call_text << " returned " << porta_status_string(actual)
           << " but the message does not name the argument (expected one of \"" << needles
           << "\"): \"" << message << "\"";
  }
  return testing::AssertionSuccess();
}

testing::AssertionResult LastErrorNamesNumber(uint64_t number) {
  const std::string message = porta_last_error_message();
  const std::string digits = std::to_string(number);
  for (size_t pos = message.find(digits); pos != std::string::npos;
       pos = message.find(digits, pos + 1)) {
    const size_t end = pos + digits.size();
    const bool digit_before =
        pos > 0 && std::isalnum(static_cast<unsigned char>(message[pos - 1])) != 0;
    const bool digit_after =
        end < message.size() && std::isalnum(static_cast<unsigned char>(message[end])) != 0;
    if (!digit_before && !digit_after) return testing::AssertionSuccess();
  }
  return testing::AssertionFailure()
         << "the last error does not name the number " << number << ": \"" << message << "\"";
}

testing::AssertionResult LastErrorSays(const char* part) {
  const std::string message = porta_last_error_message();
  if (message.find(part) != std::string::npos) return testing::AssertionSuccess();
  return testing::AssertionFailure()
         << "the last error does not say \"" << part << "\": \"" << message << "\"";
}

void DeviceTest::SetUp() {
  device_ = GetParam().device;
  info_ = PORTA_DEVICE_INFO_INIT;
  ASSERT_PORTA_OK(porta_device_get_info(device_, &info_));
}

void StreamTest::SetUp() {
  DeviceTest::SetUp();
  if (HasFatalFailure() || IsSkipped()) return;
  ASSERT_PORTA_OK(porta_stream_create(device_, stream_.out()));
}

void StreamTest::TearDown() {
  if (stream_) {
    // A test that leaves a sticky error behind checks it itself; here only drain the stream.
    porta_stream_synchronize(stream_.get());
    EXPECT_PORTA_OK(porta_stream_destroy(stream_.release()));
  }
  DeviceTest::TearDown();
}

void BufferTest::SetUp() {
  StreamTest::SetUp();
  if (HasFatalFailure() || IsSkipped()) return;
  ASSERT_PORTA_OK(porta_buffer_alloc(device_, kBufferSize, PORTA_MEMORY_DEVICE, buffer_.out()));
}

SyncOnExit::~SyncOnExit() {
  if (gate_ != nullptr) gate_->Open();
  if (stream_ != nullptr) porta_stream_synchronize(stream_);
}

std::vector<float> RandomFloats(size_t count, uint32_t seed) {
  std::vector<float> out(count);
  uint32_t state = seed * 2654435761u + 1u;
  // Values in [-8, 8) with a few fractional bits: sums stay exact enough to compare tightly.
  for (float& value : out) value = static_cast<float>(NextRandom(&state) % 4096) / 256.0f - 8.0f;
  return out;
}

std::vector<uint8_t> RandomBytes(size_t count, uint32_t seed) {
  std::vector<uint8_t> out(count);
  uint32_t state = seed * 2246822519u + 7u;
  for (uint8_t& value : out) value = static_cast<uint8_t>(NextRandom(&state));
  return out;
}

uint32_t BlockSizeFor(const porta_device_info_t& info, uint32_t wanted) {
  const uint32_t limit = std::min({wanted, info.max_work_group_size, info.max_work_group_dims[0]});
  uint32_t block = 1;
  while (block * 2 <= limit) block *= 2;
  return block;
}

porta_status_t LoadTestKernel(porta_device_t device, const char* kernel, ModuleHandle* module,
                              porta_kernel_t* out_kernel) {
  const std::vector<porta_module_source_t> sources = TestModuleSources(kernel);
  porta_module_desc_t desc = PORTA_MODULE_DESC_INIT;
  desc.sources = sources.data();
  desc.source_count = static_cast<uint32_t>(sources.size());
  porta_status_t status = porta_module_load(device, &desc, module->out());
  if (status != PORTA_OK) return status;
  return porta_module_get_kernel(module->get(), kernel, out_kernel);
}

testing::AssertionResult BytesEqual(const std::vector<uint8_t>& actual,
                                    const std::vector<uint8_t>& expected) {
  if (actual.size() != expected.size()) {
    return testing::AssertionFailure() << "size " << actual.size() << " != " << expected.size();
  }
  for (size_t i = 0; i < actual.size(); ++i) {
    if (actual[i] != expected[i]) {
      return testing::AssertionFailure() << "first difference at byte " << i << ": got "
                                         << int{actual[i]} << ", expected " << int{expected[i]};
    }
  }
  return testing::AssertionSuccess();
}

testing::AssertionResult ReadBuffer(porta_stream_t stream, porta_buffer_t buffer, uint64_t offset,
                                    uint64_t size, void* dst) {
  porta_status_t status = porta_copy_device_to_host(stream, dst, buffer, offset, size);
  if (status == PORTA_OK) status = porta_stream_synchronize(stream);
  if (status == PORTA_OK) return testing::AssertionSuccess();
  return testing::AssertionFailure()
         << "reading back " << size << " bytes at offset " << offset
         << " failed: " << porta_status_string(status) << ": " << porta_last_error_message();
}

testing::AssertionResult RunVectorAdd(porta_device_t device, porta_stream_t stream,
                                      porta_kernel_t kernel, uint32_t n, uint32_t block,
                                      uint32_t seed) {
  const std::vector<float> a = RandomFloats(n, seed);
  const std::vector<float> b = RandomFloats(n, seed + 1);
  std::vector<float> c(n, -1.0f);
  const uint64_t bytes = uint64_t{n} * sizeof(float);
  BufferHandle a_buf, b_buf, c_buf;
  std::ostringstream failure;
  auto check = [&](porta_status_t status, const char* what) {
    if (status != PORTA_OK && failure.str().empty()) {
      failure << what << ": " << porta_status_string(status) << ": " << porta_last_error_message();
    }
    return status == PORTA_OK;
  };
  const bool allocated =
      check(porta_buffer_alloc(device, bytes, PORTA_MEMORY_DEVICE, a_buf.out()), "alloc a") &&
      check(porta_buffer_alloc(device, bytes, PORTA_MEMORY_DEVICE, b_buf.out()), "alloc b") &&
      check(porta_buffer_alloc(device, bytes, PORTA_MEMORY_DEVICE, c_buf.out()), "alloc c");
  if (allocated) {
    porta_launch_config_t config = PORTA_LAUNCH_CONFIG_INIT;
    config.block[0] = block;
    config.grid[0] = (n + block - 1) / block;
    const porta_kernel_arg_t args[] = {porta_arg_buffer(a_buf.get(), 0),
                                       porta_arg_buffer(b_buf.get(), 0),
                                       porta_arg_buffer(c_buf.get(), 0), porta_arg_scalar(&n, 4)};
    static_cast<void>(
        check(porta_copy_host_to_device(stream, a_buf.get(), 0, a.data(), bytes), "copy a") &&
        check(porta_copy_host_to_device(stream, b_buf.get(), 0, b.data(), bytes), "copy b") &&
        check(porta_kernel_launch(stream, kernel, &config, args, 4), "launch") &&
        check(porta_copy_device_to_host(stream, c.data(), c_buf.get(), 0, bytes), "copy c") &&
        check(porta_stream_synchronize(stream), "synchronize"));
  }
  if (!failure.str().empty()) {
    // Copies of a, b and c may still be queued; they must finish before the vectors go away.
    porta_stream_synchronize(stream);
    return testing::AssertionFailure() << failure.str();
  }
  for (uint32_t i = 0; i < n; ++i) {
    const double expected = double{a[i]} + double{b[i]};
    if (std::fabs(c[i] - expected) > 1e-6 * std::max(1.0, std::fabs(expected))) {
      return testing::AssertionFailure() << "vector_add n=" << n << " block=" << block << ": c["
                                         << i << "] = " << c[i] << ", expected " << expected;
    }
  }
  return testing::AssertionSuccess();
}

}  // namespace porta_cts
