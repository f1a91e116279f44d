// A host-format kernel that holds a stream busy until the test opens the gate. It makes "work is
// still pending" states deterministic (NOT_READY queries, event-wait timeouts, work queued behind
// a blocked stream) on every device that accepts PORTA_FORMAT_HOST.
#ifndef PORTA_CONFORMANCE_GATE_H_
#define PORTA_CONFORMANCE_GATE_H_

#include <atomic>
#include <cstdint>
#include <memory>

#include "porta/porta.h"

namespace porta_cts {

// Owns a gate module on one device. Every Close() launch spins until Open() or until a safety
// timeout, after which it reports a device fault instead of hanging the test run (that also
// happens when porta_kernel_launch runs the kernel synchronously, which is not conformant).
class HostGate {
 public:
  // The safety timeout of one closed gate.
  static constexpr uint32_t kTimeoutMs = 10000;
  // The fault code a timed-out gate reports.
  static constexpr int32_t kTimeoutCode = 99;

  HostGate() = default;
  // Opens the gate, waits (bounded) until every launched gate kernel has returned, so none reads
  // the state after it is freed, then destroys the module.
  ~HostGate();
  HostGate(const HostGate&) = delete;
  HostGate& operator=(const HostGate&) = delete;

  // Loads the gate kernel on |device| (which must accept PORTA_FORMAT_HOST).
  porta_status_t Load(porta_device_t device);
  // Closes the gate and queues one gate kernel on |stream|: work queued on |stream| after this
  // call does not start until Open().
  porta_status_t Close(porta_stream_t stream);
  // Lets every queued gate kernel finish.
  void Open();
  // True once a gate kernel has started spinning (it ran asynchronously, as it should).
  bool started() const;

  // Shared with the kernel through a scalar argument holding its address.
  struct State {
    std::atomic<bool> open{false};
    std::atomic<uint32_t> started{0};
    std::atomic<uint32_t> finished{0};
  };

 private:
  std::unique_ptr<State> state_ = std::make_unique<State>();
  porta_module_t module_ = nullptr;
  porta_kernel_t kernel_ = nullptr;
  uint32_t launched_ = 0;
};

}  // namespace porta_cts

#endif  // PORTA_CONFORMANCE_GATE_H_
