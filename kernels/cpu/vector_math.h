// Contiguous f32 row primitives of the host kernels: loops the compiler vectorizes, built for
// AVX-512, AVX2 and the baseline and chosen by the CPU at run time (GCC/Clang target_clones).
// They carry the f32-contiguous fast paths of softmax, the norms and attention.
#ifndef PORTA_KERNELS_CPU_VECTOR_MATH_H_
#define PORTA_KERNELS_CPU_VECTOR_MATH_H_

#include <cstdint>

namespace porta::ops::host {

// Largest element, ignoring NaNs (-inf for an empty or all-NaN row).
float RowMax(const float* x, uint64_t n);

// v[i] = exp(v[i] - shift) for every i; returns the sum of the new values. exp is a polynomial
// accurate to about 2 ulp (it underflows to 0 below -87.3 and is +inf above 88.7; NaN stays NaN).
float ExpShiftSum(float* v, uint64_t n, float shift);

// v[i] *= s.
void ScaleRow(float* v, uint64_t n, float s);

// Sum of x[i] and sum of (x[i] - center)^2, in eight running partial sums each.
void SumAndSquares(const float* x, uint64_t n, float center, float* sum, float* squares);

// out[i] = (x[i] - mean) * inv * weight[i] + bias[i]; weight and bias may be NULL (1 and 0).
void NormalizeF32(const float* x, uint64_t n, float mean, float inv, const float* weight,
                  const float* bias, float* out);

// sum of a[i] * b[i].
float Dot(const float* a, const float* b, uint64_t n);

// y[i] += s * x[i].
void Axpy(float s, const float* x, float* y, uint64_t n);

// out[j] = scale * sum of q[i] * rows[j * stride + i] over i < n, for j < count (attention scores
// against contiguous key rows).
void DotRows(const float* q, const float* rows, uint64_t stride, uint64_t count, uint64_t n,
             float scale, float* out);

// acc[i] += w[j] * rows[j * stride + i] for i < n, over the j < count whose w[j] is not 0.
void AxpyRows(const float* w, const float* rows, uint64_t stride, uint64_t count, uint64_t n,
              float* acc);

// v[i] = act(v[i] + bias[i]) for the matmul activations (0 for none, RELU, GELU_ERF, GELU_TANH,
// SILU) and SIGMOID and TANH, vectorized (erf, tanh and exp from polynomials within a few ulp;
// NaN stays NaN); bias may be NULL. Any other act adds the bias alone.
void BiasActivateRow(float* v, uint64_t n, const float* bias, uint32_t act);

}  // namespace porta::ops::host

#endif  // PORTA_KERNELS_CPU_VECTOR_MATH_H_
