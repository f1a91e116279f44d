// The CTS test kernels in CUDA-C (contract in ../README.md), built by nvcc into a fatbin and PTX
// and by hipcc into an AMD code object. Kernel parameters arrive in order: buffers as device
// pointers already offset, scalars by value.
#include "porta_cuda_compat.h"

PORTA_KERNEL void vector_add(const float* a, const float* b, float* c, unsigned int n) {
  const size_t i = PORTA_GLOBAL_ID_X();
  if (i < n) c[i] = a[i] + b[i];
}

PORTA_KERNEL void scale_add(float* y, const float* x, float alpha, unsigned int n) {
  const size_t i = PORTA_GLOBAL_ID_X();
  if (i < n) y[i] = alpha * x[i] + y[i];
}

// Tree reduction in the launch's dynamic shared memory (blockDim.x floats); blockDim.x is a
// power of two, so the tree halves evenly.
PORTA_KERNEL void reduce_sum(const float* in, float* out, unsigned int n) {
  PORTA_DYNAMIC_SHARED(float, partial);
  const unsigned int lid = threadIdx.x;
  const size_t i = PORTA_GLOBAL_ID_X();
  partial[lid] = i < n ? in[i] : 0.0f;
  __syncthreads();
  for (unsigned int stride = blockDim.x / 2; stride > 0; stride /= 2) {
    if (lid < stride) partial[lid] += partial[lid + stride];
    __syncthreads();
  }
  if (lid == 0) out[blockIdx.x] = partial[0];
}

PORTA_KERNEL void index_2d(unsigned int* out, unsigned int width, unsigned int height) {
  const size_t x = PORTA_GLOBAL_ID_X();
  const size_t y = PORTA_GLOBAL_ID_Y();
  if (x < width && y < height) {
    out[y * width + x] = (static_cast<unsigned int>(y) << 16) | static_cast<unsigned int>(x);
  }
}

// Holds its stream until the host writes a nonzero words[0] into the mapped host memory, or
// gives up after |rounds| rounds of 1024 reads; words[1] tells the host where it is (1 spinning,
// 2 opened, 3 timed out). volatile makes every read go to memory, and the system-scope fences
// push the state writes out to the host while the kernel still runs.
PORTA_KERNEL void gate(volatile unsigned int* words, unsigned int rounds) {
  if (PORTA_GLOBAL_ID_X() != 0 || PORTA_GLOBAL_ID_Y() != 0 || blockIdx.z != 0 || threadIdx.z != 0) {
    return;
  }
  words[1] = 1u;
  __threadfence_system();
  unsigned int state = 3u;
  unsigned int round = 0u;
  unsigned int read = 0u;
  while (round < rounds) {
    if (words[0] != 0u) {
      state = 2u;
      break;
    }
    if (++read == 1024u) {
      read = 0u;
      ++round;
    }
  }
  words[1] = state;
  __threadfence_system();
}

// Faults on purpose from work-group 0: a trap, which the driver reports as a launch failure and
// which ends the device's context (the CTS runs it in a child process). |out| is not touched.
PORTA_KERNEL void fault(unsigned int* out) {
  (void)out;
  if (blockIdx.x == 0 && blockIdx.y == 0 && blockIdx.z == 0 && threadIdx.x == 0 &&
      threadIdx.y == 0 && threadIdx.z == 0) {
    PORTA_TRAP();
  }
}
