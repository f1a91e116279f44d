// The CPU rows of porta-bench: launch overhead and copy bandwidth of the host device, each beside a
// baseline measured in the same run.
#ifndef PORTA_TOOLS_BENCH_BENCH_CPU_H_
#define PORTA_TOOLS_BENCH_BENCH_CPU_H_

#include <string>
#include <vector>

#include "porta/porta.h"

namespace porta::bench {

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

// Sizes of the runs; --quick shrinks them so the tests finish fast.
struct CpuBenchConfig {
  int repetitions = 7;
  int throughput_launches = 20000;
  int latency_iterations = 2000;
  uint64_t copy_bytes = uint64_t{64} << 20;
  int copies_per_repetition = 4;
};

// Returns the configuration for a full or a --quick run.
CpuBenchConfig CpuBenchConfigFor(bool quick);

// Appends the rows of every device of the "cpu" backend in |runtime| to |rows|. Returns false and
// sets |error| (with the failing call and porta_last_error_message()) when a Porta call fails.
bool RunCpuBench(porta_runtime_t runtime, const CpuBenchConfig& config, std::vector<BenchRow>* rows,
                 std::string* error);

}  // namespace porta::bench

#endif  // PORTA_TOOLS_BENCH_BENCH_CPU_H_
