#include "porta/sdk/poll.h"

#include <algorithm>
#include <thread>

namespace porta::common {

PollBackoff::PollBackoff(uint64_t timeout_ns, const PollPacing& pacing)
    // Clamped so that a huge (but not infinite) timeout cannot overflow the clock's range.
    : deadline_(std::chrono::steady_clock::now() +
                std::chrono::nanoseconds(std::min<uint64_t>(timeout_ns, INT64_MAX / 2))),
      pacing_(pacing),
      pause_(pacing.first_pause) {}

bool PollBackoff::WaitBeforeNextQuery() {
  const auto now = std::chrono::steady_clock::now();
  if (now >= deadline_) return false;
  if (round_ < pacing_.yield_rounds) {
    ++round_;
    std::this_thread::yield();
    return true;
  }
  std::this_thread::sleep_for(std::min<std::chrono::nanoseconds>(pause_, deadline_ - now));
  pause_ = std::min(pause_ * 2, pacing_.longest_pause);
  return true;
}

}  // namespace porta::common
