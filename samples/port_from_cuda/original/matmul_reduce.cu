// matmul_reduce: a small CUDA runtime program, kept as it was before the port to Porta (the port
// is ../main.c). On GPU 0 it multiplies two matrices with a tiled shared-memory kernel, sums
// 100003 floats with a block reduction run in passes, times the matrix product with events and
// checks both results against the host. Build and run on a machine with an NVIDIA GPU:
//
//   nvcc -O2 -o matmul_reduce matmul_reduce.cu && ./matmul_reduce
#include <cuda_runtime.h>

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include <vector>

#include "matmul_reduce_kernels.cuh"

#define CUDA_CHECK(call)                                                   \
  do {                                                                     \
    cudaError_t status_ = (call);                                          \
    if (status_ != cudaSuccess) {                                          \
      fprintf(stderr, "%s:%d: %s failed: %s\n", __FILE__, __LINE__, #call, \
              cudaGetErrorString(status_));                                \
      exit(1);                                                             \
    }                                                                      \
  } while (0)

// Ragged on purpose: no dimension is a multiple of TILE.
constexpr unsigned int kM = 130, kN = 98, kK = 66;
constexpr unsigned int kCount = 100003;
constexpr unsigned int kReduceBlock = 256;
// Each pass of the reduction writes one partial sum per block into one half of a scratch
// allocation and reads the other; halves are rounded up to 64 floats (256 bytes).
constexpr unsigned int kFirstPassBlocks = (kCount + 2 * kReduceBlock - 1) / (2 * kReduceBlock);
constexpr unsigned int kScratchHalf = (kFirstPassBlocks + 63) / 64 * 64;

int main() {
  int device_count = 0;
  CUDA_CHECK(cudaGetDeviceCount(&device_count));
  if (device_count == 0) {
    fprintf(stderr, "no CUDA device\n");
    return 1;
  }
  cudaDeviceProp prop;
  CUDA_CHECK(cudaGetDeviceProperties(&prop, 0));
  CUDA_CHECK(cudaSetDevice(0));
  printf("%s (sm_%d%d)\n", prop.name, prop.major, prop.minor);

  std::vector<float> a(kM * kK), b(kK * kN), c(kM * kN), in(kCount);
  for (unsigned int i = 0; i < kM * kK; ++i) a[i] = (float)(i * 37u % 101u) / 101.0f - 0.5f;
  for (unsigned int i = 0; i < kK * kN; ++i) b[i] = (float)(i * 53u % 97u) / 97.0f - 0.5f;
  for (unsigned int i = 0; i < kCount; ++i) in[i] = (float)(i * 7919u % 1000u) / 1000.0f - 0.25f;

  cudaStream_t stream;
  CUDA_CHECK(cudaStreamCreate(&stream));
  float *d_a, *d_b, *d_c, *d_in, *d_scratch;
  CUDA_CHECK(cudaMalloc(&d_a, a.size() * sizeof(float)));
  CUDA_CHECK(cudaMalloc(&d_b, b.size() * sizeof(float)));
  CUDA_CHECK(cudaMalloc(&d_c, c.size() * sizeof(float)));
  CUDA_CHECK(cudaMalloc(&d_in, in.size() * sizeof(float)));
  CUDA_CHECK(cudaMalloc(&d_scratch, 2 * kScratchHalf * sizeof(float)));
  CUDA_CHECK(
      cudaMemcpyAsync(d_a, a.data(), a.size() * sizeof(float), cudaMemcpyHostToDevice, stream));
  CUDA_CHECK(
      cudaMemcpyAsync(d_b, b.data(), b.size() * sizeof(float), cudaMemcpyHostToDevice, stream));
  CUDA_CHECK(
      cudaMemcpyAsync(d_in, in.data(), in.size() * sizeof(float), cudaMemcpyHostToDevice, stream));

  // The matrix product, timed with events.
  cudaEvent_t start, stop;
  CUDA_CHECK(cudaEventCreate(&start));
  CUDA_CHECK(cudaEventCreate(&stop));
  CUDA_CHECK(cudaEventRecord(start, stream));
  dim3 block(TILE, TILE);
  dim3 grid((kN + TILE - 1) / TILE, (kM + TILE - 1) / TILE);
  matmul_tiled<<<grid, block, 0, stream>>>(d_a, d_b, d_c, kM, kN, kK);
  CUDA_CHECK(cudaGetLastError());
  CUDA_CHECK(cudaEventRecord(stop, stream));

  // The sum: each pass leaves one partial sum per block, until one value is left.
  const float* src = d_in;
  unsigned int count = kCount;
  for (unsigned int pass = 0; count > 1; ++pass) {
    const unsigned int blocks = (count + 2 * kReduceBlock - 1) / (2 * kReduceBlock);
    float* dst = d_scratch + (pass % 2) * kScratchHalf;
    block_reduce_sum<<<blocks, kReduceBlock, kReduceBlock * sizeof(float), stream>>>(src, dst,
                                                                                     count);
    CUDA_CHECK(cudaGetLastError());
    src = dst;
    count = blocks;
  }
  float sum = 0.0f;
  CUDA_CHECK(cudaMemcpyAsync(&sum, src, sizeof(float), cudaMemcpyDeviceToHost, stream));
  CUDA_CHECK(
      cudaMemcpyAsync(c.data(), d_c, c.size() * sizeof(float), cudaMemcpyDeviceToHost, stream));
  CUDA_CHECK(cudaStreamSynchronize(stream));
  float ms = 0.0f;
  CUDA_CHECK(cudaEventElapsedTime(&ms, start, stop));

  // Check against the host, accumulating in double.
  int failed = 0;
  double max_error = 0.0;
  for (unsigned int row = 0; row < kM; ++row) {
    for (unsigned int col = 0; col < kN; ++col) {
      double expected = 0.0, magnitude = 0.0;
      for (unsigned int i = 0; i < kK; ++i) {
        expected += (double)a[row * kK + i] * b[i * kN + col];
        magnitude += fabs((double)a[row * kK + i] * b[i * kN + col]);
      }
      const double error = fabs(c[row * kN + col] - expected);
      if (error > max_error) max_error = error;
      if (error > 2.0 * kK * FLT_EPSILON * magnitude) failed = 1;
    }
  }
  printf("matmul_tiled %ux%ux%u: %s, max error %g, %.3f ms\n", kM, kN, kK, failed ? "FAILED" : "OK",
         max_error, ms);
  double expected_sum = 0.0, magnitude = 0.0;
  for (unsigned int i = 0; i < kCount; ++i) {
    expected_sum += in[i];
    magnitude += fabs((double)in[i]);
  }
  const double sum_error = fabs(sum - expected_sum);
  const int sum_failed = sum_error > 2.0 * log2((double)kCount) * FLT_EPSILON * magnitude;
  printf("block_reduce_sum of %u floats: %s, %.6f (host %.6f)\n", kCount,
         sum_failed ? "FAILED" : "OK", sum, expected_sum);

  CUDA_CHECK(cudaEventDestroy(start));
  CUDA_CHECK(cudaEventDestroy(stop));
  CUDA_CHECK(cudaFree(d_a));
  CUDA_CHECK(cudaFree(d_b));
  CUDA_CHECK(cudaFree(d_c));
  CUDA_CHECK(cudaFree(d_in));
  CUDA_CHECK(cudaFree(d_scratch));
  CUDA_CHECK(cudaStreamDestroy(stream));
  return failed || sum_failed ? 1 : 0;
}
