// Waiting on a device API that has no timed wait: polling a completion query with backoff.
#ifndef PORTA_SDK_POLL_H_
#define PORTA_SDK_POLL_H_

#include <chrono>
#include <cstdint>

namespace porta::common {

// How PollUntilDone paces its queries.
struct PollPacing {
  // Rounds that only yield the thread before the first sleep (short waits are often the common
  // case, and a sleep would make them long).
  int yield_rounds = 0;
  // The first sleep; each later one doubles, up to |longest_pause|.
  std::chrono::microseconds first_pause{20};
  std::chrono::microseconds longest_pause{1000};
};

// The deadline and the growing pause of one polling wait.
class PollBackoff {
 public:
  PollBackoff(uint64_t timeout_ns, const PollPacing& pacing);
  // Returns false once the deadline has passed; otherwise yields or sleeps (never past the
  // deadline) and returns true.
  bool WaitBeforeNextQuery();

 private:
  std::chrono::steady_clock::time_point deadline_;
  PollPacing pacing_;
  std::chrono::microseconds pause_;
  int round_ = 0;
};

// Calls |done| until it returns true (then returns true) or |timeout_ns| has passed (then returns
// false), backing off between calls so a short wait stays short and a long one does not burn a
// core. |done| runs at least once, also with a zero timeout.
template <typename Done>
bool PollUntilDone(uint64_t timeout_ns, Done&& done, const PollPacing& pacing = {}) {
  PollBackoff backoff(timeout_ns, pacing);
  for (;;) {
    if (done()) return true;
    if (!backoff.WaitBeforeNextQuery()) return false;
  }
}

}  // namespace porta::common

#endif  // PORTA_SDK_POLL_H_
