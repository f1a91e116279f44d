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

// tanh: x + x^3 Q(x^2) on |x| < 0.55, 1 - 2 / (e^(2|x|) + 1) beyond (the fits of the Vulkan
// kernels' porta_tanh in kernels/vulkan/common.glsl), both computed and one selected.
inline float TanhLane(float x) {
  const float ax = std::fabs(x);
  const float t = ax * ax;
  const float q = -3.333333433e-1f +
                  t * (1.333332360e-1f +
                       t * (-5.396470055e-2f +
                            t * (2.181844972e-2f + t * (-8.526332676e-3f + t * 2.526390599e-3f))));
  const float near = ax + ax * t * q;
  const float far = 1.0f - 2.0f / (ExpLane(2.0f * ax) + 1.0f);
  const float r = ax < 0.55f ? near : far;
  return x != x ? x : std::copysign(r, x);
}

inline float SigmoidLane(float x) {
  return 1.0f / (1.0f + ExpLane(-x));
}

// 0.5 x (1 + erf(x / sqrt2)) with kernels/vulkan/common.glsl's erf fits: x + x q(x^2) for
// |z| < 1, else erfc(|z|) = exp(-z^2) g(|z|) (g fitted on [0.5, 2.5) and in 1/z^2 beyond), so that
// for negative x the bracket is erfc itself and keeps its relative accuracy.
inline float GeluErfLane(float x) {
  const float z = x * 0.70710678118654752f;
  const float az = std::fabs(z);
  const float t = az * az;
  const float q =
      1.283791661e-1f +
      t * (-3.761262596e-1f +
           t * (1.128359437e-1f +
                t * (-2.685421146e-2f +
                     t * (5.189087242e-3f + t * (-8.016864303e-4f + t * 7.875874871e-5f)))));
  const float erf_near = az + az * q;
  const float u = az - 1.5f;
  const float g6 = 1.890680986e-3f +
                   u * (-6.632265286e-4f +
                        u * (2.147382911e-4f + u * (-7.021189958e-5f +
                                                    u * (3.012266097e-5f + u * -9.051850611e-6f))));
  const float g =
      3.215854168e-1f +
      u * (-1.636229157e-1f +
           u * (7.615113258e-2f +
                u * (-3.293093294e-2f + u * (1.337626297e-2f + u * (-5.145650357e-3f + u * g6)))));
  const float w = (1.0f / (az > 1.0f ? t : 1.0f) - 0.08f) * 12.5f;
  const float h4 =
      3.976521475e-5f +
      w * (-8.194938346e-6f + w * (1.936919261e-6f + w * (-6.404366104e-7f + w * 1.886038348e-7f)));
  const float h = 5.439016223e-1f +
                  w * (-1.835128292e-2f + w * (1.659234520e-3f + w * (-2.267177333e-4f + w * h4)));
  const float scaled = az < 2.5f ? g : h / az;
  const float erfc_far = ExpLane(-t) * scaled;
  const float bracket = az < 1.0f ? (z < 0.0f ? 1.0f - erf_near : 1.0f + erf_near)
                                  : (z < 0.0f ? erfc_far : 2.0f - erfc_far);
  return x != x ? x : 0.5f * x * bracket;
}

inline float GeluTanhLane(float x) {
  return 0.5f * x * (1.0f + TanhLane(0.79788456080286536f * (x + 0.044715f * x * x * x)));
}

// The body of BiasActivateRow for one activation, with a bias (kBias) or without: a test of
// |bias| inside the loop would be control flow the vectorizer declines.
template <uint32_t kAct, bool kBias>
inline void BiasActivateLoop(float* __restrict v, uint64_t n, const float* __restrict bias) {
  for (uint64_t i = 0; i < n; ++i) {
    const float x = kBias ? v[i] + bias[i] : v[i];
    float y = x;
    if constexpr (kAct == PORTA_EW_RELU) y = x > 0.0f ? x : (x != x ? x : 0.0f);
    if constexpr (kAct == PORTA_EW_GELU_ERF) y = GeluErfLane(x);
    if constexpr (kAct == PORTA_EW_GELU_TANH) y = GeluTanhLane(x);
    if constexpr (kAct == PORTA_EW_SILU) y = x * SigmoidLane(x);
    if constexpr (kAct == PORTA_EW_SIGMOID) y = SigmoidLane(x);
    if constexpr (kAct == PORTA_EW_TANH) y = TanhLane(x);
    v[i] = y;
  }
}

template <uint32_t kAct>
inline void BiasActivate(float* v, uint64_t n, const float* bias) {
  if (bias != nullptr) {
    BiasActivateLoop<kAct, true>(v, n, bias);
  } else {
    BiasActivateLoop<kAct, false>(v, n, nullptr);
  }
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

PORTA_HOST_CLONES void BiasActivateRow(float* v, uint64_t n, const float* bias, uint32_t act) {
  switch (act) {
    case 0:
      if (bias != nullptr) BiasActivate<0>(v, n, bias);
      break;
    case PORTA_EW_RELU:
      BiasActivate<PORTA_EW_RELU>(v, n, bias);
      break;
    case PORTA_EW_GELU_ERF:
      BiasActivate<PORTA_EW_GELU_ERF>(v, n, bias);
      break;
    case PORTA_EW_GELU_TANH:
      BiasActivate<PORTA_EW_GELU_TANH>(v, n, bias);
      break;
    case PORTA_EW_SILU:
      BiasActivate<PORTA_EW_SILU>(v, n, bias);
      break;
    case PORTA_EW_SIGMOID:
      BiasActivate<PORTA_EW_SIGMOID>(v, n, bias);
      break;
    case PORTA_EW_TANH:
      BiasActivate<PORTA_EW_TANH>(v, n, bias);
      break;
    default:
      BiasActivate<0>(v, n, bias);
      break;
  }
}

PORTA_HOST_CLONES void DotRows(const float* __restrict q, const float* __restrict rows,
                               uint64_t stride, uint64_t count, uint64_t n, float scale,
                               float* __restrict out) {
  for (uint64_t j = 0; j < count; ++j) {
    const float* row = rows + j * stride;
    float sums[16] = {};
    uint64_t i = 0;
    for (; i + 16 <= n; i += 16) {
      for (int lane = 0; lane < 16; ++lane) sums[lane] += q[i + lane] * row[i + lane];
    }
    for (; i < n; ++i) sums[0] += q[i] * row[i];
    float sum = 0.0f;
    for (float s : sums) sum += s;
    out[j] = sum * scale;
  }
}

PORTA_HOST_CLONES void AxpyRows(const float* __restrict w, const float* __restrict rows,
                                uint64_t stride, uint64_t count, uint64_t n,
                                float* __restrict acc) {
  for (uint64_t j = 0; j < count; ++j) {
    if (w[j] == 0.0f) continue;
    const float s = w[j];
    const float* row = rows + j * stride;
    for (uint64_t i = 0; i < n; ++i) acc[i] += s * row[i];
  }
}

}  // namespace porta::ops::host
