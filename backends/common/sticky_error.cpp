#include "porta/sdk/sticky_error.h"

#include "porta/sdk/message.h"

namespace porta::common {

void StickyError::Set(porta_status_t status, const std::string& message) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (status_.load(std::memory_order_relaxed) != PORTA_OK) return;
  message_ = message;
  status_.store(status, std::memory_order_release);
}

porta_status_t StickyError::Check(porta_be_msg msg) const {
  const porta_status_t status = status_.load(std::memory_order_acquire);
  if (status == PORTA_OK) return PORTA_OK;
  std::lock_guard<std::mutex> lock(mutex_);
  return Fail(msg, status, "%s", message_.c_str());
}

porta_status_t FailStreamWork(StickyError* sticky, porta_status_t status, const std::string& text,
                              porta_be_msg msg) {
  if (status == PORTA_ERROR_DEVICE_LOST && sticky != nullptr) {
    sticky->Set(status, "the device faulted: " + text);
  }
  return Fail(msg, status, "%s", text.c_str());
}

}  // namespace porta::common
