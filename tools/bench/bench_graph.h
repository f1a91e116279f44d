// The graph rows of porta-bench: one replay of a captured graph of many small kernel launches
// beside the same launches queued one call at a time, on every device.
#ifndef PORTA_TOOLS_BENCH_BENCH_GRAPH_H_
#define PORTA_TOOLS_BENCH_BENCH_GRAPH_H_

#include "porta/porta.h"
#include "tools/bench/bench_util.h"

namespace porta::bench {

// For every device of |runtime| that accepts a format of the empty kernel (bench_kernels.h) and
// whose row |sink| wants: sends a row with the time of one porta_graph_launch of kGraphLaunches
// captured empty launches plus porta_stream_synchronize, beside the time of kGraphLaunches
// separate porta_kernel_launch calls plus porta_stream_synchronize (unit "us"; the speed-up is
// separate / graph). |quick| takes fewer repetitions. A failing call ends that device's row with
// an error. Throws Failure when the runtime's devices cannot be read.
void RunGraphRows(porta_runtime_t runtime, bool quick, const RowSink& sink);

}  // namespace porta::bench

#endif  // PORTA_TOOLS_BENCH_BENCH_GRAPH_H_
