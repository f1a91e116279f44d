// Lets one CUDA-C source build with nvcc (ptx, cubin) and with hipcc (hsaco). Kernels use the
// CUDA spelling (threadIdx, blockIdx, blockDim, __syncthreads) plus the macros below; HIP
// provides the same built-ins once its runtime header is included.
#ifndef PORTA_CONFORMANCE_KERNELS_CUDA_PORTA_CUDA_COMPAT_H_
#define PORTA_CONFORMANCE_KERNELS_CUDA_PORTA_CUDA_COMPAT_H_

#if defined(__HIPCC__) || defined(__HIP__)
#include <hip/hip_runtime.h>
#endif

#include <stddef.h>

// A kernel entry point with an unmangled name, so the module exposes it under the kernel name
// the CTS looks up.
#define PORTA_KERNEL extern "C" __global__

// Declares |name| as the launch's dynamic local memory (porta_launch_config_t's
// local_memory_bytes), viewed as an array of |type|.
#define PORTA_DYNAMIC_SHARED(type, name) extern __shared__ type name[]

// Global index in dimension x / y: group id * block size + local id, widened before the
// multiply so that large grids do not wrap.
#define PORTA_GLOBAL_ID_X() ((size_t)blockIdx.x * blockDim.x + threadIdx.x)
#define PORTA_GLOBAL_ID_Y() ((size_t)blockIdx.y * blockDim.y + threadIdx.y)

// Ends the kernel with a device fault: CUDA's trap instruction, the compiler's trap on AMD.
#if defined(__HIPCC__) || defined(__HIP__)
#define PORTA_TRAP() __builtin_trap()
#else
#define PORTA_TRAP() __trap()
#endif

#endif  // PORTA_CONFORMANCE_KERNELS_CUDA_PORTA_CUDA_COMPAT_H_
