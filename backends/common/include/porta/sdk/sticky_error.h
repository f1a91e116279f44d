// The sticky error of a stream: once the device faults, every later operation on the stream (and
// on the events recorded on it) reports the fault.
#ifndef PORTA_SDK_STICKY_ERROR_H_
#define PORTA_SDK_STICKY_ERROR_H_

#include <atomic>
#include <mutex>
#include <string>

#include "porta/porta_backend.h"

namespace porta::common {

// Shared (through a shared_ptr) between a stream and the events recorded on it, so that a wait
// on an event can report the fault after the stream is gone. Thread-safe.
class StickyError {
 public:
  // Records the first error; later ones are ignored so that the root cause stays visible.
  void Set(porta_status_t status, const std::string& message);
  // Returns PORTA_OK, or the sticky error with its message written into |msg|.
  porta_status_t Check(porta_be_msg msg) const;

 private:
  // Read without the lock on the fast path (no error), which every stream operation takes.
  std::atomic<porta_status_t> status_{PORTA_OK};
  mutable std::mutex mutex_;
  std::string message_;
};

// Reports a failed API call made for work on a stream: writes |text| into |msg| and returns
// |status|; device loss also becomes the sticky error of |sticky| (which may be null).
porta_status_t FailStreamWork(StickyError* sticky, porta_status_t status, const std::string& text,
                              porta_be_msg msg);

}  // namespace porta::common

#endif  // PORTA_SDK_STICKY_ERROR_H_
