// Helpers shared by the loader unit tests: owning runtime handles, environment overrides and
// readers for the runtime's backend reports and diagnostics.
#ifndef PORTA_TESTS_TEST_SUPPORT_H_
#define PORTA_TESTS_TEST_SUPPORT_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "porta/porta.h"

namespace porta_test {

// Destroys a runtime when the test ends, even when an assertion returns early.
struct RuntimeDeleter {
  void operator()(porta_runtime* runtime) const { porta_runtime_destroy(runtime); }
};
using RuntimePtr = std::unique_ptr<porta_runtime, RuntimeDeleter>;

// Same for buffers and streams.
struct BufferDeleter {
  void operator()(porta_buffer* buffer) const { porta_buffer_free(buffer); }
};
using BufferPtr = std::unique_ptr<porta_buffer, BufferDeleter>;
struct StreamDeleter {
  void operator()(porta_stream* stream) const { porta_stream_destroy(stream); }
};
using StreamPtr = std::unique_ptr<porta_stream, StreamDeleter>;

// Sets (or, with nullopt, unsets) an environment variable for the lifetime of the object and
// restores the previous value afterwards, so tests cannot leak settings into each other.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, std::optional<std::string> value);
  ~ScopedEnv();
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  std::string name_;
  std::optional<std::string> previous_;
};

// Clears every variable the runtime or the test plugins read, so that the caller's environment
// cannot change a test's outcome. Fixtures hold one.
class CleanEnvironment {
 public:
  CleanEnvironment();

 private:
  std::vector<std::unique_ptr<ScopedEnv>> vars_;
};

// What a runtime is created with; plugin_paths and device_filter are passed as NULL when unset.
struct RuntimeConfig {
  std::optional<std::string> plugin_paths;
  std::optional<std::string> device_filter;
  uint32_t flags = PORTA_RUNTIME_NO_BUILTIN_BACKENDS | PORTA_RUNTIME_IGNORE_PLUGIN_PATH_ENV;
};

// Calls porta_runtime_create; on success stores the runtime in |out|.
porta_status_t CreateRuntime(const RuntimeConfig& config, RuntimePtr* out);

// Every backend report of |runtime|, in the runtime's order.
std::vector<porta_backend_report_t> Reports(porta_runtime_t runtime);

// The report whose name is |name|, or whose source is |source|; nullopt when none.
std::optional<porta_backend_report_t> ReportByName(porta_runtime_t runtime,
                                                   const std::string& name);
std::optional<porta_backend_report_t> ReportBySource(porta_runtime_t runtime,
                                                     const std::string& source);

// porta_runtime_diagnostics as a string.
std::string Diagnostics(porta_runtime_t runtime);

// Devices that passed the filter, in order, and their infos.
std::vector<porta_device_t> Devices(porta_runtime_t runtime);
porta_device_info_t Info(porta_device_t device);

// The first visible device whose backend is |backend|, or nullptr.
porta_device_t FindDevice(porta_runtime_t runtime, const std::string& backend);

// |size| bytes of a pattern that |seed| shifts.
std::vector<uint8_t> Pattern(uint64_t size, uint8_t seed);

// Allocates |size| bytes on |device| and checks a host -> device -> host round trip of a
// distinctive pattern through porta.h. Reports failures through gtest.
void ExpectRoundTrip(porta_device_t device, uint64_t size);

// Copies a pattern from a buffer on |src_device| to one on |dst_device| with
// porta_copy_device_to_device on a stream of |stream_device| (one of the two), and checks it.
void ExpectCrossDeviceCopy(porta_device_t src_device, porta_device_t dst_device,
                           porta_device_t stream_device);

// Names of the backends linked into libporta (from the build's backend list).
std::vector<std::string> BuiltinBackendNames();

// Case-insensitive substring test.
bool ContainsNoCase(const std::string& text, const std::string& part);

// True when |text| contains |number| as a whole number (not as part of a longer one).
bool ContainsNumber(const std::string& text, unsigned number);

// A gtest fixture that starts from a clean environment.
class LoaderTest : public ::testing::Test {
 private:
  CleanEnvironment environment_;
};

}  // namespace porta_test

#endif  // PORTA_TESTS_TEST_SUPPORT_H_
