// The gate: a test kernel that holds a stream busy until the test opens it. It makes "work is
// still pending" states deterministic (NOT_READY queries, event-wait timeouts, work queued behind
// a blocked stream) on every device that can run it, in whichever format the device takes: the
// `gate` test kernel exists in every format the CTS ships (kernels/README.md).
//
// The kernel watches a word of a host-visible buffer that stays mapped while the kernel runs;
// Open() writes that word directly through the mapping. A queued copy could not open it: on an
// in-order stream the copy would wait behind the gate it is meant to open.
#ifndef PORTA_CONFORMANCE_GATE_H_
#define PORTA_CONFORMANCE_GATE_H_

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "conformance/cts.h"
#include "porta/porta.h"

namespace porta_cts {

namespace internal {
struct GateObjects;
}  // namespace internal

// Whether a device can run the gate, found by ProbeGate.
struct GateSupport {
  enum class Kind {
    // The gate holds a stream and opens on the host's write.
    kAvailable,
    // The device lacks what the gate needs; tests that need the gate skip with |reason|.
    kUnavailable,
    // The gate kernel misbehaved (wrong state, load failure); tests that need it fail with
    // |reason|.
    kBroken,
  };
  Kind kind = Kind::kBroken;
  // Why it is unavailable or broken; empty when available.
  std::string reason;
  // Short reason for the summary's skip table (RecordSkipReason).
  std::string skip_tag;
  // The format the gate runs in.
  porta_kernel_format_t format = static_cast<porta_kernel_format_t>(0);
  // The gate kernels one Close() queues, and the `rounds` argument of each, so that a closed gate
  // spins for about Gate::kTimeout. One kernel, except on devices that end long kernels early.
  uint32_t launches_per_close = 1;
  uint32_t timeout_rounds = 0;
};

// Finds out once per device (cached for the process) whether |device| can run the gate: it needs
// PORTA_CAP_HOST_VISIBLE_MEMORY and a `gate` source it accepts, and then a probe on a stream of
// its own checks what the API does not promise: that a running kernel sees the host's write to
// mapped host-visible memory, and the host the kernel's. The probe also calibrates the spin bound
// against the clock (a never-opened gate spins for about Gate::kTimeout), which checks that a
// gate nobody opens ends by itself and says so.
const GateSupport& ProbeGate(porta_device_t device);

// True when the tests that need the gate run on |device| (available, or broken so that they
// fail); false when they skip.
bool GateApplies(porta_device_t device);

// Skips the running test, with the probe's reason, when |device| cannot run the gate.
#define PORTA_CTS_REQUIRE_GATE(device)                                                \
  do {                                                                                \
    const ::porta_cts::GateSupport& porta_cts_gate_ = ::porta_cts::ProbeGate(device); \
    if (porta_cts_gate_.kind == ::porta_cts::GateSupport::Kind::kUnavailable) {       \
      ::porta_cts::RecordSkipReason(porta_cts_gate_.skip_tag);                        \
      GTEST_SKIP() << porta_cts_gate_.reason;                                         \
    }                                                                                 \
  } while (0)

// Owns one gate on one device: a module with the gate kernel and a mapped host-visible buffer of
// kMaxCloses slots, one per Close(). A closed gate that nobody opens ends after about kTimeout and
// records that it timed out, which the destructor reports as a test failure (that also happens
// when porta_kernel_launch runs the kernel synchronously, which is not conformant). The gate
// kernel never faults.
class Gate {
 public:
  // How long a closed gate spins before it gives up.
  static constexpr std::chrono::seconds kTimeout{10};
  // Close() calls one gate serves.
  static constexpr uint32_t kMaxCloses = 16;

  Gate();
  // Opens the gate, fails the running test for every gate kernel that timed out, and frees the
  // module and the buffer (queued work keeps them alive until it completes).
  ~Gate();
  Gate(const Gate&) = delete;
  Gate& operator=(const Gate&) = delete;

  // Loads the gate on |device|. Fails with the probe's reason when the device cannot run it
  // (check GateApplies or PORTA_CTS_REQUIRE_GATE first).
  testing::AssertionResult Load(porta_device_t device);
  // Closes the gate and queues the gate kernel on |stream| (several, one after the other, on a
  // device that ends long kernels early): work queued on |stream| after this call does not start
  // until Open(). Returns the launch's status, or PORTA_ERROR_OUT_OF_RANGE
  // after kMaxCloses calls.
  porta_status_t Close(porta_stream_t stream);
  // Lets every queued gate kernel finish.
  void Open();

 private:
  // The module and the mapped buffer; null until Load succeeds.
  std::unique_ptr<internal::GateObjects> objects_;
  uint32_t timeout_rounds_ = 0;
  uint32_t launches_per_close_ = 1;
  uint32_t launched_ = 0;
};

}  // namespace porta_cts

#endif  // PORTA_CONFORMANCE_GATE_H_
