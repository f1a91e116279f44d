// The caching-allocator rows of porta-bench: per device, a stream-ordered allocation and free of
// a 1 MiB buffer from the device pool beside a plain allocation and free of the same size.
#ifndef PORTA_TOOLS_BENCH_BENCH_POOL_H_
#define PORTA_TOOLS_BENCH_BENCH_POOL_H_

#include "porta/porta.h"
#include "tools/bench/bench_util.h"

namespace porta::bench {

// Sends one row per device of |runtime| to |sink|: µs per porta_buffer_alloc_async +
// porta_buffer_free_async pair on a warm pool (every allocation a hit) beside µs per
// porta_buffer_alloc + porta_buffer_free pair (the backend's own allocation), with a target
// of a 20x speed-up. |quick| shortens the loops. A failing call ends that device's row
// with an error. Throws Failure when the runtime's devices cannot be read.
void RunPoolRows(porta_runtime_t runtime, bool quick, const RowSink& sink);

}  // namespace porta::bench

#endif  // PORTA_TOOLS_BENCH_BENCH_POOL_H_
