// The OpenCL rows of porta-bench: launch overhead and copy bandwidth of every OpenCL device,
// each measured through Porta and through raw OpenCL calls in the same run.
#ifndef PORTA_TOOLS_BENCH_BENCH_OPENCL_H_
#define PORTA_TOOLS_BENCH_BENCH_OPENCL_H_

#include <cstdio>

#include "porta/porta.h"

// Measures every device of the "opencl" backend in |runtime| and prints one table to |out|:
// empty-kernel launch throughput (µs per launch), launch-to-completion latency (µs per launch +
// synchronize), and host-to-device, device-to-host and device-to-device bandwidth (GB/s), each as
// Porta, raw OpenCL and the ratio Porta/raw. The raw side opens libOpenCL itself and uses the
// same device and context as Porta (found through the buffers' native handles). Returns 0 on
// success, also when there is no OpenCL device; nonzero with the reason printed when a call
// fails. PORTA_BENCH_QUICK shortens the runs.
int porta_bench_opencl(porta_runtime_t runtime, std::FILE* out);

#endif  // PORTA_TOOLS_BENCH_BENCH_OPENCL_H_
