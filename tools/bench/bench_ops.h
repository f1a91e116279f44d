// The operator-library rows of porta-bench: matrix products, memory-bound operations and attention
// through libporta_ops on every device, each checked for correctness and measured beside a
// baseline from the same run.
#ifndef PORTA_TOOLS_BENCH_BENCH_OPS_H_
#define PORTA_TOOLS_BENCH_BENCH_OPS_H_

#include "porta/porta.h"
#include "tools/bench/bench_util.h"

namespace porta::bench {

// Measures the operator rows on every device of |runtime| (quick: tiny shapes, used by the
// tests) and sends them to |sink|: f32 matmul against OpenBLAS (cpu) or CLBlast (OpenCL), f16
// weights, block-quantized weights against the f32 product, softmax, layernorm and add against a
// device copy of as many bytes, and fused causal attention against matmul + softmax + matmul. A
// failing Porta call ends that device's rows and the run goes on with the next device; a result
// that disagrees with its reference drops that row. Returns false when anything was reported
// through |sink|.error.
bool RunOpsRows(porta_runtime_t runtime, bool quick, const RowSink& sink);

}  // namespace porta::bench

#endif  // PORTA_TOOLS_BENCH_BENCH_OPS_H_
