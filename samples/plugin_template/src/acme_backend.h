// The objects of the acme backend: a backend with its devices, buffers in host memory, streams
// that run their work in order on a worker thread of their own, events (points in a stream's
// queue, with a completion time), and modules of host-format kernels. Rename "acme" to your
// backend's name; keep the split: acme_backend.cpp (entry, table, devices, memory),
// acme_stream.cpp (streams and events), acme_module.cpp (modules and launches).
#ifndef ACME_BACKEND_H_
#define ACME_BACKEND_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <thread>
#include <vector>

#include "porta/porta_backend.h"
#include "porta/sdk/backend_table.h"
#include "porta/sdk/event_point.h"
#include "porta/sdk/message.h"
#include "porta/sdk/sticky_error.h"

namespace acme {

// The slot functions of the table (Init, Shutdown, ... StreamHostFunc), declared with the exact
// signatures of porta_backend.h; acme_backend.cpp, acme_stream.cpp and acme_module.cpp define
// them.
PORTA_DECLARE_BACKEND_SLOTS()

// The backend's name: the table's name, porta_device_info_t.backend, the PORTA_DEVICES key.
inline constexpr const char kName[] = "acme";

// What one device offers. A real backend asks its driver; this one's device memory is host memory
// with a budget of its own.
inline constexpr uint64_t kGlobalMemoryBytes = uint64_t{1} << 30;
inline constexpr uint64_t kMaxAllocationBytes = uint64_t{256} << 20;
inline constexpr uint64_t kLocalMemoryBytes = 64 * 1024;

struct Backend {
  uint32_t device_count = 0;
  // The runtime's version string, reported as the driver version of the devices.
  std::string porta_version;
};

struct Device {
  Backend* backend = nullptr;
  uint32_t index = 0;
  // Bytes of the device's live buffers (not counting imports), for device_memory_info.
  std::atomic<uint64_t> allocated_bytes{0};
  // The device's allocations, address to size, so that buffer_import can check memory of its
  // own as a driver's address-range query does.
  std::mutex allocations_mutex;
  std::map<uintptr_t, uint64_t> allocations;
};

struct Buffer {
  Device* device = nullptr;
  uint8_t* data = nullptr;
  uint64_t size = 0;
  // Wraps memory the application owns (buffer_import): buffer_free leaves it alone.
  bool imported = false;
};

// One recording of an event (porta/sdk/event_point.h): the stream's worker completes it, with the
// stream's fault and the time, when it reaches the recording.
using porta::common::EventPoint;

// A unit of work on a stream. |work| runs on the stream's worker and returns false with the
// fault's description when the device faulted. |wait| (if set) must complete before |work| runs;
// |signal| (if set) is completed once the command is reached, also on a faulted stream, so that
// no waiter hangs.
struct Command {
  std::function<bool(std::string* fault)> work;
  std::shared_ptr<EventPoint> wait;
  std::shared_ptr<EventPoint> signal;
};

// An in-order queue run by a worker thread of its own. A fault is sticky: commands queued behind
// it are skipped (their events still complete, carrying the fault), and every later call on the
// stream reports it.
class Stream {
 public:
  // Starts the worker; throws std::system_error when it cannot.
  explicit Stream(Device* device);
  // Runs what is queued, then joins the worker.
  ~Stream();
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  // Queues |command|, or returns the stream's fault without queuing it.
  porta_status_t Enqueue(Command command, porta_be_msg msg);
  porta_status_t Synchronize(porta_be_msg msg);
  porta_status_t Query(porta_be_msg msg);

  Device* device() const { return device_; }

 private:
  void Run();

  Device* device_;
  std::mutex mutex_;
  std::condition_variable work_ready_;
  std::condition_variable idle_;
  std::deque<Command> queue_;
  bool busy_ = false;
  bool stop_ = false;
  // Set by the worker when work faults, read by every call; thread-safe on its own.
  porta::common::StickyError fault_;
  std::atomic<bool> faulted_{false};
  // The fault's text, for the events that complete behind it (guarded by mutex_).
  std::string fault_text_;
  std::thread worker_;
};

class Event {
 public:
  explicit Event(uint32_t flags) : flags_(flags) {}

  // Queues a new point on |stream|.
  porta_status_t Record(Stream* stream, porta_be_msg msg);
  // Makes |stream| wait for the current point before running later work.
  porta_status_t MakeStreamWait(Stream* stream, porta_be_msg msg);
  porta_status_t Wait(uint64_t timeout_ns, porta_be_msg msg);
  porta_status_t Query(porta_be_msg msg);
  static porta_status_t ElapsedMs(Event* start, Event* end, float* out_ms, porta_be_msg msg);

 private:
  std::shared_ptr<EventPoint> Current();

  const uint32_t flags_;
  std::mutex mutex_;
  // The last recording; null before the first (an unrecorded event counts as complete).
  std::shared_ptr<EventPoint> point_;
};

struct Kernel {
  std::string name;
  porta_host_kernel_fn fn = nullptr;
};

struct Module {
  std::vector<std::unique_ptr<Kernel>> kernels;
};

// No slot catches C++ exceptions itself: the table macros put the SDK's slot guard around every
// slot (porta/sdk/backend_table.h), which turns one that escapes (std::bad_alloc from a
// make_unique, std::system_error from a thread) into the slot's status and a message naming it.

}  // namespace acme

#endif  // ACME_BACKEND_H_
