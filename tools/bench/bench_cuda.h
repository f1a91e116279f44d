// The CUDA rows of porta-bench: launch overhead and copy bandwidth of every CUDA device, each
// measured through Porta and through raw driver-API calls in the same run.
#ifndef PORTA_TOOLS_BENCH_BENCH_CUDA_H_
#define PORTA_TOOLS_BENCH_BENCH_CUDA_H_

#include <cstdio>

#include "porta/porta.h"

// Measures every device of the "cuda" backend in |runtime| and prints one table to |out|:
// empty-kernel launch throughput (µs per launch), launch-to-completion latency (µs per launch +
// synchronize), and host-to-device, device-to-host and device-to-device bandwidth (GB/s), each as
// Porta, raw driver API and the ratio Porta/raw. The raw side opens libcuda.so.1 itself and
// works in the same device's primary context, on its own non-blocking stream. Returns 0 on
// success, also when there is no CUDA device (it then prints why the rows are skipped); nonzero
// with the reason printed when a call fails. PORTA_BENCH_QUICK shortens the runs.
int porta_bench_cuda(porta_runtime_t runtime, std::FILE* out);

#endif  // PORTA_TOOLS_BENCH_BENCH_CUDA_H_
