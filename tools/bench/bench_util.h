// Timing helpers shared by the porta-bench sources (the CPU rows here, and the OpenCL, Vulkan and
// CUDA rows written next to them), so every row is measured and summarized the same way.
#ifndef PORTA_TOOLS_BENCH_BENCH_UTIL_H_
#define PORTA_TOOLS_BENCH_BENCH_UTIL_H_

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace porta::bench {

// Seconds on a monotonic clock.
inline double NowSeconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Median of |samples| (the mean of the middle two for an even count); 0 for none. The median,
// not the mean, is reported so that one preempted repetition on a busy machine does not skew a row.
inline double Median(std::vector<double> samples) {
  if (samples.empty()) return 0.0;
  std::sort(samples.begin(), samples.end());
  const size_t mid = samples.size() / 2;
  return samples.size() % 2 == 1 ? samples[mid] : 0.5 * (samples[mid - 1] + samples[mid]);
}

// True when porta-bench runs with --quick; it sets PORTA_BENCH_QUICK=1 so that benchmark code
// with a fixed signature can shorten its loops too.
inline bool QuickMode() {
  const char* value = std::getenv("PORTA_BENCH_QUICK");
  return value != nullptr && std::strcmp(value, "0") != 0 && value[0] != '\0';
}

}  // namespace porta::bench

#endif  // PORTA_TOOLS_BENCH_BENCH_UTIL_H_
