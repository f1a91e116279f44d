// The OpenCL rows of porta-bench: launch overhead and copy bandwidth of every OpenCL device,
// each measured through Porta and through raw OpenCL calls in the same run.
#ifndef PORTA_TOOLS_BENCH_BENCH_OPENCL_H_
#define PORTA_TOOLS_BENCH_BENCH_OPENCL_H_

#include "porta/porta.h"
#include "tools/bench/bench_util.h"

namespace porta::bench {

// Measures every device of the "opencl" backend in |runtime| and sends its rows to |sink|:
// empty-kernel launch throughput (us per launch), the launch calls' own CPU time,
// launch-to-completion latency (us per launch + synchronize), and host-to-device, device-to-host
// and device-to-device bandwidth (GB/s), each beside raw OpenCL. The raw side opens libOpenCL
// itself and uses the same device and context as Porta (found through the buffers' native
// handles). A failing call ends that device's rows with an error; |quick| shortens the runs.
void RunOpenClRows(porta_runtime_t runtime, bool quick, const RowSink& sink);

}  // namespace porta::bench

#endif  // PORTA_TOOLS_BENCH_BENCH_OPENCL_H_
