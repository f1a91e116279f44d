// The CPU rows of porta-bench: launch overhead and copy bandwidth of the host device, each beside a
// baseline measured in the same run.
#ifndef PORTA_TOOLS_BENCH_BENCH_CPU_H_
#define PORTA_TOOLS_BENCH_BENCH_CPU_H_

#include "porta/porta.h"
#include "tools/bench/bench_util.h"

namespace porta::bench {

// Measures every device of the "cpu" backend in |runtime| (short runs when |quick|) and sends the
// rows to |sink|: empty-kernel launch throughput against a direct call, launch + synchronize
// latency against a condition-variable handoff, and copies against memcpy. A failing call ends
// that device's rows with an error. Throws Failure when the runtime's devices cannot be read.
void RunCpuRows(porta_runtime_t runtime, bool quick, const RowSink& sink);

}  // namespace porta::bench

#endif  // PORTA_TOOLS_BENCH_BENCH_CPU_H_
