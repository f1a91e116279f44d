// The Vulkan rows of porta-bench: empty-dispatch throughput, dispatch-to-completion latency and
// copy bandwidths of every Vulkan device, each measured through Porta and through raw Vulkan
// calls (its own instance, device and pipeline) in the same run, with the ratio.
#ifndef PORTA_TOOLS_BENCH_BENCH_VULKAN_H_
#define PORTA_TOOLS_BENCH_BENCH_VULKAN_H_

#include <cstdio>

#include "porta/porta.h"

// Measures every device of |runtime| whose backend is "vulkan" and prints one table row per
// figure to |out|. Returns 0 on success (also when there is no Vulkan device) and 1 when a Porta
// or Vulkan call fails, with the reason printed to |out|. Honours PORTA_BENCH_QUICK.
int porta_bench_vulkan(porta_runtime_t runtime, std::FILE* out);

#endif  // PORTA_TOOLS_BENCH_BENCH_VULKAN_H_
