// The original CUDA kernels (../original/matmul_reduce_kernels.cuh), unchanged, built for Porta's
// CUDA devices by nvcc (cubin, ptx) and for its HIP devices by hipcc (hsaco). HIP spells the
// kernel language as CUDA does once its runtime header is in.
#if defined(__HIPCC__) || defined(__HIP__)
#include <hip/hip_runtime.h>
#endif

#include "../original/matmul_reduce_kernels.cuh"
