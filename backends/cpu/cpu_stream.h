// CPU streams (an in-order queue run by a worker thread) and events (points in such a queue).
#ifndef PORTA_BACKENDS_CPU_CPU_STREAM_H_
#define PORTA_BACKENDS_CPU_CPU_STREAM_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "backends/cpu/cpu_objects.h"
#include "backends/cpu/thread_pool.h"
#include "porta/sdk/event_point.h"

namespace porta::cpu {

using common::EventPoint;

// Work the stream's worker executes. |work| returns false and writes a description into |fault|
// when the work faulted; it runs with the worker's scratch, used for work-groups it executes.
struct Command {
  std::function<bool(std::string* fault, Scratch& scratch)> work;
  // Completed when the command is reached, even on a faulted stream (so waiters never hang).
  std::shared_ptr<EventPoint> signal;
  // The worker blocks until this point completes before going on.
  std::shared_ptr<EventPoint> wait;
};

// An asynchronous in-order queue. A fault (a kernel returning nonzero, or a wait on an event point
// that completed with a fault) is sticky: commands queued behind it are skipped, except that
// events behind it still complete, carrying the fault.
class Stream {
 public:
  // Starts the worker thread. Throws std::system_error when it cannot be started.
  explicit Stream(Device* device);
  // Runs what is still queued, then joins the worker.
  ~Stream();
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  // Queues |command|; returns the sticky error instead once the stream has faulted.
  porta_status_t Enqueue(Command command, porta_be_msg msg);
  porta_status_t Synchronize(porta_be_msg msg);
  porta_status_t Query(porta_be_msg msg);

  Device* device() const { return device_; }

 private:
  void WorkerLoop();
  porta_status_t StickyError(porta_be_msg msg) const;

  Device* device_;
  std::mutex mutex_;
  std::condition_variable work_cv_;
  std::condition_variable idle_cv_;
  std::deque<Command> queue_;
  bool busy_ = false;
  // Commands queued or running; written under |mutex_|, read without it by the short spins that
  // spare a sleeping thread's wake-up on back-to-back work (Synchronize, WorkerLoop).
  std::atomic<uint64_t> outstanding_{0};
  bool stop_ = false;
  bool faulted_ = false;
  std::string fault_message_;
  std::thread worker_;
};

// An event: the point of its latest recording (none until first recorded, which counts as
// complete).
class Event {
 public:
  Event(Device* device, uint32_t flags) : device_(device), flags_(flags) {}

  porta_status_t Record(Stream* stream, porta_be_msg msg);
  // Makes |stream| wait for the current recording.
  porta_status_t MakeStreamWait(Stream* stream, porta_be_msg msg);
  porta_status_t Wait(uint64_t timeout_ns, porta_be_msg msg);
  porta_status_t Query(porta_be_msg msg);
  static porta_status_t ElapsedMs(Event* start, Event* end, float* out_ms, porta_be_msg msg);

  Device* device() const { return device_; }

 private:
  std::shared_ptr<EventPoint> Current();

  Device* device_;
  uint32_t flags_;
  std::mutex mutex_;
  std::shared_ptr<EventPoint> point_;
};

}  // namespace porta::cpu

#endif  // PORTA_BACKENDS_CPU_CPU_STREAM_H_
