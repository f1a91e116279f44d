// The Vulkan rows of porta-bench: empty-dispatch throughput, dispatch-to-completion latency and
// copy bandwidths of every Vulkan device, each measured through Porta and through raw Vulkan
// calls (its own instance, device and pipeline) in the same run.
#ifndef PORTA_TOOLS_BENCH_BENCH_VULKAN_H_
#define PORTA_TOOLS_BENCH_BENCH_VULKAN_H_

#include "porta/porta.h"
#include "tools/bench/bench_util.h"

namespace porta::bench {

// Measures every device of the "vulkan" backend in |runtime| and sends its rows to |sink|. A
// failing Porta or Vulkan call ends that device's rows with an error; |quick| shortens the runs.
void RunVulkanRows(porta_runtime_t runtime, bool quick, const RowSink& sink);

}  // namespace porta::bench

#endif  // PORTA_TOOLS_BENCH_BENCH_VULKAN_H_
