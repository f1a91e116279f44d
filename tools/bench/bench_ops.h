// The operator-library rows of porta-bench: matrix products, memory-bound operations and attention
// through libporta_ops on every device, each checked for correctness and printed beside a
// baseline measured in the same run.
#ifndef PORTA_TOOLS_BENCH_BENCH_OPS_H_
#define PORTA_TOOLS_BENCH_BENCH_OPS_H_

#include <functional>
#include <span>
#include <string>

#include "porta/porta.h"
#include "tools/bench/bench_util.h"

namespace porta::bench {

// What the operator rows report as they go, so that a table can be printed while a long run is
// still measuring.
struct OpsSink {
  std::function<void(const BenchRow&)> row;
  // A problem that fails the run: a Porta call that failed (with porta_last_error_message()), a
  // result that disagrees with its reference, a baseline that failed.
  std::function<void(const std::string&)> error;
  // Something worth knowing that does not fail the run: a baseline library that is missing, an
  // operation the device does not support.
  std::function<void(const std::string&)> note;
};

// The layout of the operator table.
std::span<const Column> OpsColumns();

// How the operator rows are measured (a few lines, no final newline), printed above their table.
const char* OpsLegend();

// Measures the operator rows on every device of |runtime| (quick: tiny shapes, used by the
// tests). A failing Porta call ends that device's rows and the run goes on with the next device;
// a result that disagrees with its reference drops that row. Returns false when anything was
// reported through |sink|.error.
bool RunOpsBench(porta_runtime_t runtime, bool quick, const OpsSink& sink);

}  // namespace porta::bench

#endif  // PORTA_TOOLS_BENCH_BENCH_OPS_H_
