// The CPU rows of porta-bench: launch overhead and copy bandwidth of the host device, each beside a
// baseline measured in the same run.
#ifndef PORTA_TOOLS_BENCH_BENCH_CPU_H_
#define PORTA_TOOLS_BENCH_BENCH_CPU_H_

#include <string>
#include <vector>

#include "porta/porta.h"
#include "tools/bench/bench_util.h"

namespace porta::bench {

// Returns the sizes of a full or a --quick run.
BenchConfig CpuBenchConfigFor(bool quick);

// Appends the rows of every device of the "cpu" backend in |runtime| to |rows|. Returns false and
// sets |error| (with the failing call and porta_last_error_message()) when a Porta call fails.
bool RunCpuBench(porta_runtime_t runtime, const BenchConfig& config, std::vector<BenchRow>* rows,
                 std::string* error);

}  // namespace porta::bench

#endif  // PORTA_TOOLS_BENCH_BENCH_CPU_H_
