// The caching-allocator rows of porta-bench: per device, a stream-ordered allocation and free of
// a 1 MiB buffer from the device pool beside a plain allocation and free of the same size.
#ifndef PORTA_TOOLS_BENCH_BENCH_POOL_H_
#define PORTA_TOOLS_BENCH_BENCH_POOL_H_

#include <functional>

#include "porta/porta.h"
#include "tools/bench/bench_util.h"

namespace porta::bench {

// Emits one row per device of |runtime|: µs per porta_buffer_alloc_async + porta_buffer_free_async
// pair (a warm pool, so every allocation is a hit) beside µs per porta_buffer_alloc +
// porta_buffer_free pair (the backend's own allocation), medians of repetitions. |quick| shortens
// the loops. Throws Failure when a Porta call fails.
void RunPoolRows(porta_runtime_t runtime, bool quick,
                 const std::function<void(const BenchRow&)>& emit);

}  // namespace porta::bench

#endif  // PORTA_TOOLS_BENCH_BENCH_POOL_H_
