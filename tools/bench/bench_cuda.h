// The CUDA rows of porta-bench: launch overhead and copy bandwidth of every CUDA device, each
// measured through Porta and through raw driver-API calls in the same run.
#ifndef PORTA_TOOLS_BENCH_BENCH_CUDA_H_
#define PORTA_TOOLS_BENCH_BENCH_CUDA_H_

#include "porta/porta.h"
#include "tools/bench/bench_util.h"

namespace porta::bench {

// Measures every device of the "cuda" backend in |runtime| and sends its rows to |sink|:
// empty-kernel launch throughput (us per launch), launch-to-completion latency (us per launch +
// synchronize), and host-to-device, device-to-host and device-to-device bandwidth (GB/s), each
// beside the raw driver API. The raw side opens libcuda.so.1 itself and works in the same
// device's primary context, on its own non-blocking stream. Without a CUDA device it sends a note
// saying why; a failing call ends that device's rows with an error. |quick| shortens the runs.
void RunCudaRows(porta_runtime_t runtime, bool quick, const RowSink& sink);

}  // namespace porta::bench

#endif  // PORTA_TOOLS_BENCH_BENCH_CUDA_H_
