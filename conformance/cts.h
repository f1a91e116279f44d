// Shared infrastructure of the conformance tests: the device parameter every test is
// instantiated with, fixtures layered device -> stream -> buffer, owning handle wrappers (every
// test frees what it allocates, even when an assertion returns early), status assertions and the
// capability-skip macros the summary reads.
#ifndef PORTA_CONFORMANCE_CTS_H_
#define PORTA_CONFORMANCE_CTS_H_

#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "conformance/known_failures.h"
#include "porta/porta.h"

namespace porta_cts {

class Gate;

//===------------------------------------------------------------------------------------------===//
// Devices under test
//===------------------------------------------------------------------------------------------===//

// One device the runtime found; each test is instantiated once per DeviceParam.
struct DeviceParam {
  // Index in porta_runtime_device order.
  uint32_t index = 0;
  porta_device_t device = nullptr;
  // Readable, unique test-name suffix: "<backend>_<index>", e.g. "cpu_0".
  std::string id;
  std::string backend;
  std::string name;
};

// Prints the device id, so gtest's messages name the device rather than dumping bytes.
void PrintTo(const DeviceParam& param, std::ostream* os);

// Test-name generator for INSTANTIATE_TEST_SUITE_P: the device id.
std::string DeviceParamName(const testing::TestParamInfo<DeviceParam>& info);

// What main() set up before registering the tests.
struct Environment {
  porta_runtime_t runtime = nullptr;
  std::vector<DeviceParam> devices;
  // --plugin PATH (empty when the runtime's own backends are tested).
  std::string plugin_path;
  // --devices FILTER; has_device_filter is false when the flag was not given.
  std::string device_filter;
  bool has_device_filter = false;
  // --run-known-failures: known failures run with normal pass/fail semantics.
  bool run_known_failures = false;
  // --known-failures FILE: the vendor's entries, consulted after the compiled-in table; null
  // without the flag.
  std::unique_ptr<KnownFailureFile> known_failure_file;
};

// The environment; valid from main's set-up until the runtime is destroyed at exit.
const Environment& Env();
Environment* MutableEnv();

// Options equal to those the CTS runtime was created with, for tests that create a second runtime.
// The strings point into Env() and stay valid as long as it does.
porta_runtime_options_t RuntimeOptions();

// Returns the devices under test other than |device|.
std::vector<porta_device_t> OtherDevices(porta_device_t device);

//===------------------------------------------------------------------------------------------===//
// Skips
//===------------------------------------------------------------------------------------------===//

// Records why the running test skips (a capability or format name), for the summary.
void RecordSkipReason(const std::string& reason);
// Returns the reason recorded for test |full_name| ("" when none), and forgets it.
std::string TakeSkipReason(const std::string& full_name);

// Skips the running test unless |info| declares capability |cap| (a PORTA_CAP_* macro).
#define PORTA_CTS_REQUIRE_CAP(info, cap)                   \
  do {                                                     \
    if (((info).capabilities & (cap)) == 0) {              \
      ::porta_cts::RecordSkipReason(#cap);                 \
      GTEST_SKIP() << "the device does not declare " #cap; \
    }                                                      \
  } while (0)

// Skips the running test unless |info| accepts kernel format |format| (a PORTA_FORMAT_* value).
#define PORTA_CTS_REQUIRE_FORMAT(info, format)                     \
  do {                                                             \
    if (((info).kernel_formats & PORTA_FORMAT_BIT(format)) == 0) { \
      ::porta_cts::RecordSkipReason(#format);                      \
      GTEST_SKIP() << "the device does not accept " #format;       \
    }                                                              \
  } while (0)

// Skips the running test unless at least |count| devices are under test.
#define PORTA_CTS_REQUIRE_DEVICES(count)                                    \
  do {                                                                      \
    if (::porta_cts::Env().devices.size() < static_cast<size_t>(count)) {   \
      ::porta_cts::RecordSkipReason("multiple devices");                    \
      GTEST_SKIP() << "needs " << (count) << " devices, the runtime found " \
                   << ::porta_cts::Env().devices.size();                    \
    }                                                                       \
  } while (0)

// Skips the running test unless the device accepts a format in which test kernel |kernel| was
// built (a format the device declares but this build could not produce is not the device's
// fault, so it is a skip rather than a failure).
#define PORTA_CTS_REQUIRE_KERNEL(info, kernel)                     \
  do {                                                             \
    if (!::porta_cts::DeviceAcceptsTestKernel((info), (kernel))) { \
      ::porta_cts::RecordSkipReason("kernel format");              \
      GTEST_SKIP() << "no format of test kernel " << (kernel)      \
                   << " built here is accepted by the device: "    \
                   << ::porta_cts::KernelFormatList((info));       \
    }                                                              \
  } while (0)

// How the `fault` test kernel faults on a device (kernels/README.md), which decides where a test
// may run it.
enum class FaultKind {
  // The device accepts no format of `fault`: OpenCL C and the SPIR-V formats have no way to fault
  // on purpose.
  kNone,
  // The host format: the fault is sticky on its stream and the device keeps working.
  kStreamLocal,
  // A trap (ptx, cubin, hsaco), or a kernel from porta-cts --kernel-file: the fault may end the
  // device's context, so tests run it in a child process. PORTA_CTS_FAULT_IN_CHILD=1 in the
  // environment puts every device here, to exercise that path where no GPU is at hand.
  kEndsDevice,
};

// The kind of the `fault` source porta_module_load picks on |info|'s device.
FaultKind FaultKindFor(const porta_device_info_t& info);

// Skips the running test, with the reason, when |info|'s device has no kernel that can fault.
#define PORTA_CTS_REQUIRE_FAULT(info)                                                           \
  do {                                                                                          \
    if (::porta_cts::FaultKindFor(info) == ::porta_cts::FaultKind::kNone) {                     \
      ::porta_cts::RecordSkipReason("a kernel that can fault");                                 \
      GTEST_SKIP() << "no kernel can fault on this device: the test kernel fault exists in "    \
                      "host, ptx, cubin and hsaco (OpenCL C and SPIR-V have no trap), and the " \
                      "device accepts "                                                         \
                   << ::porta_cts::KernelFormatList((info))                                     \
                   << "; a vendor supplies one with --kernel-file fault:FORMAT:FILE";           \
    }                                                                                           \
  } while (0)

// Runs |body| in a child process (a gtest death test that re-runs porta-cts for the running test
// only) and expects every check in it to pass; the child's failures are printed on its stderr,
// which the parent's failure message shows. For work that may leave the device unusable, such as
// a trap that ends a CUDA context.
#define PORTA_CTS_EXPECT_IN_CHILD(...)                                                    \
  EXPECT_EXIT(::porta_cts::RunChecksAndExit(__VA_ARGS__), testing::ExitedWithCode(0), "") \
      << "the checks in the child process failed (its messages are quoted above)"

// Runs |body| with every gtest failure it reports captured, prints them on stderr, and ends the
// process: exit code 0 when none failed, 1 otherwise. Used in the child of
// PORTA_CTS_EXPECT_IN_CHILD.
[[noreturn]] void RunChecksAndExit(const std::function<void()>& body);

// True when |info|'s device takes at least one source of test kernel |kernel|: a format built
// here, or a supplied native binary with one of its tags.
bool DeviceAcceptsTestKernel(const porta_device_info_t& info, const char* kernel);
// The formats |info|'s device accepts, "host, opencl-c", and its native tags:
// "native (tags acme-npu2:v3)".
std::string KernelFormatList(const porta_device_info_t& info);

//===------------------------------------------------------------------------------------------===//
// Status assertions
//===------------------------------------------------------------------------------------------===//

// Predicate-formatter: |actual| equals |expected|; the failure text carries both status names and
// porta_last_error_message().
testing::AssertionResult IsStatus(const char* actual_expr, const char* expected_expr,
                                  porta_status_t actual, porta_status_t expected);

#define ASSERT_PORTA_OK(expr) ASSERT_PRED_FORMAT2(::porta_cts::IsStatus, (expr), PORTA_OK)
#define EXPECT_PORTA_OK(expr) EXPECT_PRED_FORMAT2(::porta_cts::IsStatus, (expr), PORTA_OK)
#define EXPECT_PORTA_STATUS(expected, expr) \
  EXPECT_PRED_FORMAT2(::porta_cts::IsStatus, (expr), (expected))
#define ASSERT_PORTA_STATUS(expected, expr) \
  ASSERT_PRED_FORMAT2(::porta_cts::IsStatus, (expr), (expected))

// Makes the calling thread's last error a message that does not contain any alternative of
// |needles|, so a later check of the message proves the checked call wrote it.
void PrimeErrorMessage(const char* needles);

// Checks that a call returned |expected| and left a last-error message that is non-empty and
// contains (case-insensitively) one of the '|'-separated alternatives in |needles|.
testing::AssertionResult CheckError(const char* call_text, porta_status_t actual,
                                    porta_status_t expected, const char* needles);

// Checks that the last error message contains |number| as a whole decimal number (no digit right
// before or after it: 7 is not found in "17" or "0x7f3"), as messages must name the exact value.
testing::AssertionResult LastErrorNamesNumber(uint64_t number);

// Checks that the last error message contains |part| verbatim.
testing::AssertionResult LastErrorSays(const char* part);

// Expects |call| to fail with |expected| and a message naming |needles| (see CheckError).
#define EXPECT_PORTA_ERROR(expected, needles, call) \
  PORTA_CTS_EXPECT_ERROR_IMPL(expected, needles, call)

#define PORTA_CTS_EXPECT_ERROR_IMPL(expected, needles, call)                               \
  do {                                                                                     \
    ::porta_cts::PrimeErrorMessage(needles);                                               \
    const porta_status_t porta_cts_status_ = (call);                                       \
    EXPECT_TRUE(::porta_cts::CheckError(#call, porta_cts_status_, (expected), (needles))); \
  } while (0)

//===------------------------------------------------------------------------------------------===//
// Owning handles
//===------------------------------------------------------------------------------------------===//

// Owns one handle and destroys it with |Destroy| (the status is ignored: destroying a valid
// handle cannot fail, and a test that wants to check it calls release() first).
template <typename H, porta_status_t (*Destroy)(H)>
class Handle {
 public:
  Handle() = default;
  explicit Handle(H handle) : handle_(handle) {}
  ~Handle() { reset(); }
  Handle(Handle&& other) noexcept : handle_(other.release()) {}
  Handle& operator=(Handle&& other) noexcept {
    if (this != &other) {
      reset();
      handle_ = other.release();
    }
    return *this;
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;

  H get() const { return handle_; }
  // For create functions: destroys the current handle and returns where to write a new one.
  H* out() {
    reset();
    return &handle_;
  }
  H release() {
    H handle = handle_;
    handle_ = nullptr;
    return handle;
  }
  void reset() {
    if (handle_ != nullptr) Destroy(release());
  }
  explicit operator bool() const { return handle_ != nullptr; }

 private:
  H handle_ = nullptr;
};

using BufferHandle = Handle<porta_buffer_t, porta_buffer_free>;
using StreamHandle = Handle<porta_stream_t, porta_stream_destroy>;
using EventHandle = Handle<porta_event_t, porta_event_destroy>;
using ModuleHandle = Handle<porta_module_t, porta_module_destroy>;
using RuntimeHandle = Handle<porta_runtime_t, porta_runtime_destroy>;

//===------------------------------------------------------------------------------------------===//
// Fixtures: device -> stream -> buffer
//===------------------------------------------------------------------------------------------===//

// A test on one device: device_ and its full info_.
class DeviceTest : public testing::TestWithParam<DeviceParam> {
 protected:
  void SetUp() override;

  porta_device_t device_ = nullptr;
  porta_device_info_t info_ = PORTA_DEVICE_INFO_INIT;
};

// Adds stream_, an in-order stream on the device, synchronized and destroyed after the test.
class StreamTest : public DeviceTest {
 protected:
  void SetUp() override;
  void TearDown() override;

  StreamHandle stream_;
};

// Adds buffer_, kBufferSize bytes of device memory.
class BufferTest : public StreamTest {
 protected:
  // Not a multiple of a page, so size-rounding bugs in a backend show up.
  static constexpr uint64_t kBufferSize = 65536 + 12;

  void SetUp() override;

  BufferHandle buffer_;
};

// Synchronizes a stream when it goes out of scope (opening |gate| first, when given). Declared
// after the host memory that queued copies read or write, so an assertion that returns early
// cannot free that memory while the stream still uses it.
class SyncOnExit {
 public:
  explicit SyncOnExit(porta_stream_t stream, Gate* gate = nullptr) : stream_(stream), gate_(gate) {}
  ~SyncOnExit();
  SyncOnExit(const SyncOnExit&) = delete;
  SyncOnExit& operator=(const SyncOnExit&) = delete;

 private:
  porta_stream_t stream_;
  Gate* gate_;
};

// Instantiates the value-parameterized suite |suite| once per device under test.
#define PORTA_CTS_INSTANTIATE(suite)                                                      \
  INSTANTIATE_TEST_SUITE_P(Devices, suite, testing::ValuesIn(::porta_cts::Env().devices), \
                           ::porta_cts::DeviceParamName)

//===------------------------------------------------------------------------------------------===//
// Data and kernel helpers
//===------------------------------------------------------------------------------------------===//

// Deterministic pseudo-random data (a fixed LCG, so failures reproduce).
std::vector<float> RandomFloats(size_t count, uint32_t seed);
std::vector<uint8_t> RandomBytes(size_t count, uint32_t seed);

// Largest power of two <= |wanted| that the device allows as block[0].
uint32_t BlockSizeFor(const porta_device_info_t& info, uint32_t wanted);

// Loads test kernel |kernel| on |device| from every format built (the runtime picks), and gets
// the kernel handle (owned by *module).
porta_status_t LoadTestKernel(porta_device_t device, const char* kernel, ModuleHandle* module,
                              porta_kernel_t* out_kernel);

// Allocates inputs on |device|, runs vector_add with |n| elements and block |block| on |stream|,
// and compares against a host reference. Frees everything it allocated.
testing::AssertionResult RunVectorAdd(porta_device_t device, porta_stream_t stream,
                                      porta_kernel_t kernel, uint32_t n, uint32_t block,
                                      uint32_t seed);

// Checks that two byte vectors are equal; the failure names the first byte that differs.
testing::AssertionResult BytesEqual(const std::vector<uint8_t>& actual,
                                    const std::vector<uint8_t>& expected);

// Copies |size| bytes of |buffer| at |offset| to the host and synchronizes |stream|.
testing::AssertionResult ReadBuffer(porta_stream_t stream, porta_buffer_t buffer, uint64_t offset,
                                    uint64_t size, void* dst);

}  // namespace porta_cts

#endif  // PORTA_CONFORMANCE_CTS_H_
