#include "porta/sdk/event_point.h"

#include "porta/sdk/message.h"

namespace porta::common {
namespace {

// Longer timeouts wait forever: adding them to steady_clock::now() could overflow its int64.
constexpr uint64_t kForeverNs = uint64_t{1} << 60;

}  // namespace

void EventPoint::Complete(porta_status_t status, const std::string& message) {
  const auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    status_ = status;
    message_ = message;
    time_ = now;
    complete_ = true;
  }
  completed_cv_.notify_all();
}

bool EventPoint::Wait(uint64_t timeout_ns) {
  std::unique_lock<std::mutex> lock(mutex_);
  if (timeout_ns >= kForeverNs) {
    completed_cv_.wait(lock, [this] { return complete_; });
    return true;
  }
  return completed_cv_.wait_for(lock, std::chrono::nanoseconds(timeout_ns),
                                [this] { return complete_; });
}

porta_status_t EventPoint::Query(porta_be_msg msg) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!complete_) return PORTA_NOT_READY;
  if (status_ != PORTA_OK) return Fail(msg, status_, "%s", message_.c_str());
  return PORTA_OK;
}

porta_status_t EventPoint::Fault(std::string* message) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (status_ != PORTA_OK) *message = message_;
  return status_;
}

bool EventPoint::CompletionTime(std::chrono::steady_clock::time_point* out) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!complete_) return false;
  *out = time_;
  return true;
}

}  // namespace porta::common
