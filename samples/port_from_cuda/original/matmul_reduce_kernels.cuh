// The two kernels of matmul_reduce.cu: a tiled shared-memory matrix product and a block sum.
// extern "C" keeps their names unmangled, so they can also be looked up by name in a module
// (cuModuleGetFunction, hipModuleGetFunction).
#ifndef MATMUL_REDUCE_KERNELS_CUH_
#define MATMUL_REDUCE_KERNELS_CUH_

#define TILE 16

// c (m x n) = a (m x k) * b (k x n), all row-major. One TILE x TILE block computes one TILE x
// TILE tile of c, staging TILE x TILE tiles of a and b through shared memory. Launch with
// block (TILE, TILE) and grid (ceil(n / TILE), ceil(m / TILE)).
extern "C" __global__ void matmul_tiled(const float* a, const float* b, float* c, unsigned int m,
                                        unsigned int n, unsigned int k) {
  __shared__ float tile_a[TILE][TILE];
  __shared__ float tile_b[TILE][TILE];
  const unsigned int tx = threadIdx.x;
  const unsigned int ty = threadIdx.y;
  const unsigned int row = blockIdx.y * TILE + ty;
  const unsigned int col = blockIdx.x * TILE + tx;
  float acc = 0.0f;
  for (unsigned int t = 0; t < k; t += TILE) {
    tile_a[ty][tx] = row < m && t + tx < k ? a[row * k + t + tx] : 0.0f;
    tile_b[ty][tx] = t + ty < k && col < n ? b[(t + ty) * n + col] : 0.0f;
    __syncthreads();
    for (unsigned int i = 0; i < TILE; ++i) acc += tile_a[ty][i] * tile_b[i][tx];
    __syncthreads();
  }
  if (row < m && col < n) c[row * n + col] = acc;
}

// out[blockIdx.x] = the sum of the 2 * blockDim.x values of in[0, n) starting at
// blockIdx.x * 2 * blockDim.x. Each thread adds two values, then the block sums them as a tree in
// dynamic shared memory (blockDim.x floats; blockDim.x a power of two).
extern "C" __global__ void block_reduce_sum(const float* in, float* out, unsigned int n) {
  extern __shared__ float partial[];
  const unsigned int tid = threadIdx.x;
  const unsigned int i = blockIdx.x * 2 * blockDim.x + tid;
  float value = i < n ? in[i] : 0.0f;
  if (i + blockDim.x < n) value += in[i + blockDim.x];
  partial[tid] = value;
  __syncthreads();
  for (unsigned int stride = blockDim.x / 2; stride > 0; stride /= 2) {
    if (tid < stride) partial[tid] += partial[tid + stride];
    __syncthreads();
  }
  if (tid == 0) out[blockIdx.x] = partial[0];
}

#endif  // MATMUL_REDUCE_KERNELS_CUH_
