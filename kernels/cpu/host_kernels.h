// The host-format kernels of the operator library: one porta_host_kernel_t per family, served to
// the CPU device as a PORTA_FORMAT_HOST module.
#ifndef PORTA_KERNELS_CPU_HOST_KERNELS_H_
#define PORTA_KERNELS_CPU_HOST_KERNELS_H_

#include <cstddef>

#include "porta/porta.h"

namespace porta::ops {

// The module's kernel table and its size in bytes (porta_module_source_t's data and size).
const porta_host_kernel_t* HostKernelTable();
size_t HostKernelTableSize();

namespace host {

porta_host_kernel_fn EwHostKernel();
porta_host_kernel_fn ReduceHostKernel();
porta_host_kernel_fn SoftmaxHostKernel();
porta_host_kernel_fn NormHostKernel();
porta_host_kernel_fn GatherHostKernel();
porta_host_kernel_fn RopeHostKernel();
porta_host_kernel_fn AttentionHostKernel();
porta_host_kernel_fn Conv2dHostKernel();
porta_host_kernel_fn Pool2dHostKernel();
// "porta_matmul" whatever the tile: the host computes the whole product in one call.
porta_host_kernel_fn MatmulHostKernel();
porta_host_kernel_fn QmatvecHostKernel();
porta_host_kernel_fn QdequantHostKernel();

}  // namespace host
}  // namespace porta::ops

#endif  // PORTA_KERNELS_CPU_HOST_KERNELS_H_
