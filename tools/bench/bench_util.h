// Helpers shared by the porta-bench sources (the CPU rows, and the OpenCL, Vulkan and CUDA rows
// written next to them), so every row is measured, checked, summarized and printed the same way.
#ifndef PORTA_TOOLS_BENCH_BENCH_UTIL_H_
#define PORTA_TOOLS_BENCH_BENCH_UTIL_H_

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "porta/porta.h"

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

// Median over |repetitions| calls of |sample|, each of which returns one measurement.
double MedianOf(int repetitions, const std::function<double()>& sample);

// True when porta-bench runs with --quick; it sets PORTA_BENCH_QUICK=1 so that benchmark code
// with a fixed signature can shorten its loops too.
inline bool QuickMode() {
  const char* value = std::getenv("PORTA_BENCH_QUICK");
  return value != nullptr && std::strcmp(value, "0") != 0 && value[0] != '\0';
}

// Sizes of one backend's runs. Each backend keeps a full and a --quick set, because what is
// long enough to be steady differs per device (a JIT-compiled GPU launch against a host call).
struct BenchConfig {
  int repetitions = 7;            // repetitions whose median each row reports
  int launches = 20000;           // launches per throughput repetition
  int latency_iterations = 2000;  // launch + synchronize pairs per latency repetition
  uint64_t copy_bytes = uint64_t{64} << 20;
  int copies = 4;  // copies per bandwidth repetition
};

// |quick| when porta-bench runs with --quick (QuickMode()), |full| otherwise.
inline BenchConfig ConfigFor(const BenchConfig& full, const BenchConfig& quick) {
  return QuickMode() ? quick : full;
}

// One measured figure and its baseline. |ratio| is porta / baseline in |unit|: for times (µs)
// above 1 means Porta is slower, for bandwidths (GB/s) below 1 means Porta is slower.
struct BenchRow {
  std::string device;
  std::string name;
  std::string unit;
  double porta = 0.0;
  std::string baseline_name;
  double baseline = 0.0;
  double ratio = 0.0;
};

// A row with its ratio filled in (0 when the baseline is not positive).
BenchRow MakeRow(std::string device, std::string name, std::string unit, double porta,
                 std::string baseline_name, double baseline);

// "<call> failed: <status>: <porta_last_error_message()>", the text of a failed Porta call.
std::string FailureText(porta_status_t status, const char* call);

// For code that reports failure by return value: false, with |error| set to FailureText(), when
// |status| is not PORTA_OK.
bool Check(porta_status_t status, const char* call, std::string* error);

// The exception the throwing checks raise; the benchmark catches it per device and prints it.
class Failure {
 public:
  explicit Failure(std::string text) : text_(std::move(text)) {}
  const std::string& text() const { return text_; }

 private:
  std::string text_;
};

// For code that reports failure by exception: throws Failure(FailureText()) when |status| is not
// PORTA_OK.
void Check(porta_status_t status, const char* call);

// The Porta objects of one device's run, released however the run ends.
struct PortaObjects {
  PortaObjects() = default;
  ~PortaObjects();
  PortaObjects(const PortaObjects&) = delete;
  PortaObjects& operator=(const PortaObjects&) = delete;

  porta_stream_t stream = nullptr;
  porta_module_t module = nullptr;
  porta_buffer_t buffers[2] = {nullptr, nullptr};
};

// Creates |objects->stream|, loads |source| (one kernel source of any format) into
// |objects->module| and returns its kernel |kernel_name| in |kernel|. Returns false with |error|
// set when a call fails.
bool CreateStreamAndKernel(porta_device_t device, const porta_module_source_t& source,
                           const char* kernel_name, PortaObjects* objects, porta_kernel_t* kernel,
                           std::string* error);

// What a column of a printed table shows.
enum class Field { kDevice, kName, kUnit, kPorta, kBaselineName, kBaseline, kRatio };

// One column of a printed table. Text is left-aligned and numbers right-aligned with |decimals|
// digits; the device name is cut to |width| so that long driver names keep the columns aligned.
struct Column {
  Field field;
  int width;
  const char* header;
  int decimals = 3;
};

// Prints the header line of a table with |columns| (separated by one space) to |out|.
void PrintHeader(std::FILE* out, std::span<const Column> columns);

// Prints one line of |row| in the layout of |columns| to |out|.
void PrintRow(std::FILE* out, std::span<const Column> columns, const BenchRow& row);

}  // namespace porta::bench

#endif  // PORTA_TOOLS_BENCH_BENCH_UTIL_H_
