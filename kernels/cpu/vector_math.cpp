#include "kernels/cpu/vector_math.h"

#include <bit>
#include <cmath>
#include <limits>

#include "kernels/cpu/host_common.h"

namespace porta::ops::host {
namespace {

// exp for one lane, written without branches or calls so that the loops calling it vectorize:
// x = n ln2 + r with |r| <= ln2 / 2 (ln2 split in two parts so r is exact), exp(r) by Cephes'
// degree-6 polynomial, 2^n by building the exponent bits. n is rounded by adding and subtracting
// 1.5 * 2^23 (round to nearest even for |n| < 2^22), since std::nearbyint keeps GCC from
// vectorizing. Out-of-range and NaN inputs are selected at the end.
inline float ExpLane(float x) {
  constexpr float kLog2e = 1.44269504088896341f;
  constexpr float kLn2Hi = 0.693359375f;
  constexpr float kLn2Lo = -2.12194440e-4f;
  // A NaN fails both tests and is clamped too, so the float-to-int conversion below stays defined.
  const float clamped = (x >= -87.3f && x <= 88.7f) ? x : (x > 88.7f ? 88.7f : -87.3f);
  constexpr float kRound = 12582912.0f;
  const float n = (clamped * kLog2e + kRound) - kRound;
  const float r = clamped - n * kLn2Hi - n * kLn2Lo;
  float poly = 1.9875691500e-4f;
  poly = poly * r + 1.3981999507e-3f;
  poly = poly * r + 8.3334519073e-3f;
  poly = poly * r + 4.1665795894e-2f;
  poly = poly * r + 1.6666665459e-1f;
  poly = poly * r + 5.0000001201e-1f;
  const float mantissa = poly * r * r + r + 1.0f;
  // 2^n as two normal factors: n reaches 128 near the top of the range, where 2^n alone is
  // not a float but the result still is.
  const int32_t whole = static_cast<int32_t>(n);
  const int32_t half = whole >> 1;
  float result = mantissa * std::bit_cast<float>((half + 127) << 23) *
                 std::bit_cast<float>((whole - half + 127) << 23);
  result = x < -87.3f ? 0.0f : result;
  result = x > 88.7f ? std::numeric_limits<float>::infinity() : result;
  return x != x ? x : result;
}

}  // namespace

PORTA_HOST_CLONES float RowMax(const float* x, uint64_t n) {
  float best = -std::numeric_limits<float>::infinity();
  for (uint64_t i = 0; i < n; ++i) best = x[i] > best ? x[i] : best;
  return best;
}

PORTA_HOST_CLONES float ExpShiftSum(float* v, uint64_t n, float shift) {
  float sums[16] = {};
  uint64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    for (int lane = 0; lane < 16; ++lane) {
      v[i + lane] = ExpLane(v[i + lane] - shift);
      sums[lane] += v[i + lane];
    }
  }
  for (; i < n; ++i) {
    v[i] = ExpLane(v[i] - shift);
    sums[0] += v[i];
  }
  float sum = 0.0f;
  for (float s : sums) sum += s;
  return sum;
}

PORTA_HOST_CLONES void ScaleRow(float* v, uint64_t n, float s) {
  for (uint64_t i = 0; i < n; ++i) v[i] *= s;
}

PORTA_HOST_CLONES void SumAndSquares(const float* x, uint64_t n, float center, float* sum,
                                     float* squares) {
  float s[8] = {}, q[8] = {};
  uint64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int lane = 0; lane < 8; ++lane) {
      const float d = x[i + lane] - center;
      s[lane] += x[i + lane];
      q[lane] += d * d;
    }
  }
  for (; i < n; ++i) {
    const float d = x[i] - center;
    s[0] += x[i];
    q[0] += d * d;
  }
  *sum = 0.0f;
  *squares = 0.0f;
  for (int lane = 0; lane < 8; ++lane) {
    *sum += s[lane];
    *squares += q[lane];
  }
}

PORTA_HOST_CLONES void NormalizeF32(const float* x, uint64_t n, float mean, float inv,
                                    const float* weight, const float* bias, float* out) {
  for (uint64_t i = 0; i < n; ++i) {
    float y = (x[i] - mean) * inv;
    if (weight != nullptr) y *= weight[i];
    if (bias != nullptr) y += bias[i];
    out[i] = y;
  }
}

PORTA_HOST_CLONES float Dot(const float* a, const float* b, uint64_t n) {
  float sums[8] = {};
  uint64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int lane = 0; lane < 8; ++lane) sums[lane] += a[i + lane] * b[i + lane];
  }
  for (; i < n; ++i) sums[0] += a[i] * b[i];
  float sum = 0.0f;
  for (float s : sums) sum += s;
  return sum;
}

PORTA_HOST_CLONES void Axpy(float s, const float* x, float* y, uint64_t n) {
  for (uint64_t i = 0; i < n; ++i) y[i] += s * x[i];
}

}  // namespace porta::ops::host
