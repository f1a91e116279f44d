// A point in a device's work that completes once, with a status and a time: what an event
// recording is on a backend that runs a stream's work itself (a worker thread per stream, a
// simulator) and completes each point when the work before it is done.
#ifndef PORTA_SDK_EVENT_POINT_H_
#define PORTA_SDK_EVENT_POINT_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>

#include "porta/porta_backend.h"

namespace porta::common {

// One recording of an event: completed by the stream's worker when it reaches the recording, with
// the stream's fault (if any) and the time. Re-recording an event makes a new point, so a stream
// that waits on the old one keeps waiting for the old one. Thread-safe.
class EventPoint {
 public:
  // Marks the point complete with |status| (PORTA_OK or the stream's fault) and |message| at the
  // current time, and wakes every waiter.
  void Complete(porta_status_t status, const std::string& message);
  // Waits up to |timeout_ns| (from 2^60 on: forever); returns whether the point completed.
  bool Wait(uint64_t timeout_ns);
  // PORTA_OK, PORTA_NOT_READY, or the fault the point completed with (its text into |msg|).
  porta_status_t Query(porta_be_msg msg);
  // The fault the point completed with (its text into |message|), or PORTA_OK.
  porta_status_t Fault(std::string* message);
  // When complete: writes the completion time and returns true.
  bool CompletionTime(std::chrono::steady_clock::time_point* out);

 private:
  std::mutex mutex_;
  std::condition_variable completed_cv_;
  bool complete_ = false;
  porta_status_t status_ = PORTA_OK;
  std::string message_;
  std::chrono::steady_clock::time_point time_;
};

}  // namespace porta::common

#endif  // PORTA_SDK_EVENT_POINT_H_
