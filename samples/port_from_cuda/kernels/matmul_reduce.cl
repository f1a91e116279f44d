// The CUDA kernels of ../original/matmul_reduce_kernels.cuh in OpenCL C 1.2, for OpenCL devices
// (as source) and Level Zero devices (compiled offline to spirv-kernel). The translation:
// threadIdx -> get_local_id, blockIdx -> get_group_id, blockDim -> get_local_size,
// __syncthreads() -> barrier(CLK_LOCAL_MEM_FENCE), __shared__ -> __local, and the dynamic
// shared memory (extern __shared__) becomes a trailing __local pointer parameter that Porta
// appends from the launch's local_memory_bytes.

// The tile edge; the port passes -DTILE=8 to devices that cannot run 16 x 16 work-groups.
#ifndef TILE
#define TILE 16
#endif

__kernel void matmul_tiled(__global const float* a, __global const float* b, __global float* c,
                           uint m, uint n, uint k) {
  __local float tile_a[TILE][TILE];
  __local float tile_b[TILE][TILE];
  const uint tx = (uint)get_local_id(0);
  const uint ty = (uint)get_local_id(1);
  const uint row = (uint)get_group_id(1) * TILE + ty;
  const uint col = (uint)get_group_id(0) * TILE + tx;
  float acc = 0.0f;
  for (uint t = 0; t < k; t += TILE) {
    tile_a[ty][tx] = row < m && t + tx < k ? a[row * k + t + tx] : 0.0f;
    tile_b[ty][tx] = t + ty < k && col < n ? b[(t + ty) * n + col] : 0.0f;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (uint i = 0; i < TILE; ++i) acc += tile_a[ty][i] * tile_b[i][tx];
    barrier(CLK_LOCAL_MEM_FENCE);
  }
  if (row < m && col < n) c[row * n + col] = acc;
}

__kernel void block_reduce_sum(__global const float* in, __global float* out, uint n,
                               __local float* partial) {
  const uint tid = (uint)get_local_id(0);
  const uint size = (uint)get_local_size(0);
  const uint i = (uint)get_group_id(0) * 2 * size + tid;
  float value = i < n ? in[i] : 0.0f;
  if (i + size < n) value += in[i + size];
  partial[tid] = value;
  barrier(CLK_LOCAL_MEM_FENCE);
  for (uint stride = size / 2; stride > 0; stride /= 2) {
    if (tid < stride) partial[tid] += partial[tid + stride];
    barrier(CLK_LOCAL_MEM_FENCE);
  }
  if (tid == 0) out[get_group_id(0)] = partial[0];
}
