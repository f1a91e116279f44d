// Helpers shared by the porta-bench sources (the CPU rows, the OpenCL, Vulkan and CUDA rows, the
// operator rows and the runtime feature rows), so every row is measured, summarized, compared and
// printed the same way.
#ifndef PORTA_TOOLS_BENCH_BENCH_UTIL_H_
#define PORTA_TOOLS_BENCH_BENCH_UTIL_H_

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
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

// A median and the spread of the samples it came from.
struct Measure {
  double median = 0.0;
  // The median absolute deviation of the samples relative to the median: 0.05 is printed as "5%"
  // and means half the samples lay within +-5% of the median. Unlike the range, one preempted
  // repetition on a busy machine does not blow it up.
  double spread = 0.0;
};

// The median and spread of |samples| (all zero for none).
Measure Summarize(const std::vector<double>& samples);

// Summarizes |repetitions| calls of |sample|, each of which returns one measurement.
Measure MeasureOf(int repetitions, const std::function<double()>& sample);

// Measures two paths (Porta's and its baseline's) in |repetitions| interleaved rounds, |a| first
// in even rounds and |b| first in odd ones, so that a drift in the machine's load and any gain
// from going second fall on both alike. Each call returns one measurement, or a negative value
// for a failure, which ends the pair with false.
bool MeasurePair(int repetitions, const std::function<double()>& a,
                 const std::function<double()>& b, Measure* a_out, Measure* b_out);

// |measure| with its median multiplied by |factor| (seconds of N launches to us per launch).
inline Measure Scale(const Measure& measure, double factor) {
  return {measure.median * factor, measure.spread};
}

// |work| per unit of |time|, e.g. GB per second from a time in seconds: the rate at the median
// time, with the same relative spread.
inline Measure RateOf(double work, const Measure& time) {
  return {time.median > 0.0 ? work / time.median : 0.0, time.spread};
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

// True for units of time ("us/launch", "ms", "us"), where lower is better; rates (GB/s,
// GFLOP/s) are better higher.
bool LowerIsBetter(const std::string& unit);

// One measured figure beside its baseline. Every row states its comparison the same way, as a
// speed-up: how many times faster Porta is than the baseline (baseline time / Porta time, or
// Porta rate / baseline rate), so above 1 always means Porta is faster.
struct BenchRow {
  std::string section;  // "cpu", "opencl", "ops", ...: the part of porta-bench that measured it
  std::string device;
  std::string name;
  std::string unit;
  Measure porta;
  std::string baseline_name;
  Measure baseline;      // median 0: no baseline
  double speedup = 0.0;  // 0 without a baseline
  // The speed-up set as this row's goal (0: none), so the table shows each figure beside what it
  // should reach.
  double target = 0.0;
};

// A row with its speed-up computed from the two medians and the unit's direction.
BenchRow MakeRow(std::string device, std::string name, std::string unit, const Measure& porta,
                 std::string baseline_name, const Measure& baseline, double target = 0.0);

// Where the parts of porta-bench send what they measure, so that one table (or one JSON
// document) collects every device's rows as they arrive.
struct RowSink {
  // A measured row.
  std::function<void(const BenchRow&)> row;
  // A problem that fails the run: a Porta call that failed (with porta_last_error_message()), a
  // result that disagrees with its reference, a baseline that failed.
  std::function<void(const std::string&)> error;
  // Something worth knowing that does not fail the run: a missing baseline library, an
  // operation the device does not support.
  std::function<void(const std::string&)> note;
  // Whether row |name| of |device| is to be measured (porta-bench --filter); unset: every row.
  std::function<bool(const std::string& device, const std::string& name)> wants;
  // What is being measured now, for a progress line on a terminal; may be unset.
  std::function<void(const std::string& device, const std::string& name)> progress;

  // Whether row |name| of |device| is wanted (wants(), or true when unset), without reporting
  // progress: for a part that decides whether to prepare its rows at all.
  bool Wants(const std::string& device, const std::string& name) const;
  // Asked before a row is measured: Wants(), and when wanted, reports the row as in progress.
  bool Start(const std::string& device, const std::string& name) const;
};

// "<call> failed: <status>: <porta_last_error_message()>", the text of a failed Porta call.
std::string FailureText(porta_status_t status, const char* call);

// For code that reports failure by return value: false, with |error| set to FailureText(), when
// |status| is not PORTA_OK.
bool Check(porta_status_t status, const char* call, std::string* error);

// The exception the throwing checks raise; the benchmark catches it per device and reports it.
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

// A graph of |count| launches of one kernel, captured on a stream and instantiated, for the rows
// that compare a replay with separate launches. Throws Failure when a call fails (then nothing is
// left behind: the stream's destruction discards an open capture).
class LaunchGraph {
 public:
  LaunchGraph(porta_stream_t stream, porta_kernel_t kernel, const porta_launch_config_t& config,
              const porta_kernel_arg_t* args, uint32_t arg_count, int count);
  ~LaunchGraph();
  LaunchGraph(const LaunchGraph&) = delete;
  LaunchGraph& operator=(const LaunchGraph&) = delete;

  // Queues one replay of the launches on the stream (no synchronize).
  void Replay();

 private:
  porta_stream_t stream_;
  porta_graph_exec_t exec_ = nullptr;
};

// The launches in the graph rows (porta-bench's graph replay against separate launches).
constexpr int kGraphLaunches = 100;

// "backend:index" of a device (as PORTA_DEVICES names it), the device column of every row.
std::string DeviceLabel(const porta_device_info_t& info);

// The devices of |runtime| whose backend is |backend| (every device for nullptr), with their
// info. Throws Failure when the runtime cannot be read.
std::vector<std::pair<porta_device_t, porta_device_info_t>> DevicesOf(porta_runtime_t runtime,
                                                                      const char* backend);

// The printed table: one header, then one line per row, the same columns for every part.
void PrintTableHeader(std::FILE* out);
void PrintTableRow(std::FILE* out, const BenchRow& row);

}  // namespace porta::bench

#endif  // PORTA_TOOLS_BENCH_BENCH_UTIL_H_
