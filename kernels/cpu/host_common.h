// Shared pieces of the host (CPU device) kernels: element access by runtime dtype, f16/bf16
// conversion, the index decomposition and the f32 math of the kernel contract
// (kernels/common/params.h). Host kernels run once per work-group on the CPU device's threads.
#ifndef PORTA_KERNELS_CPU_HOST_COMMON_H_
#define PORTA_KERNELS_CPU_HOST_COMMON_H_

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "kernels/common/params.h"
#include "porta/porta.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

// Builds a function for AVX-512, AVX2 and the baseline; the dynamic loader picks the one the CPU
// runs (an ifunc), so CI binaries run anywhere and use what the machine has. Sanitizer builds
// keep the one portable version.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__SANITIZE_ADDRESS__) && \
    !defined(PORTA_OPS_SANITIZED)
#define PORTA_HOST_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define PORTA_HOST_CLONES
#endif

namespace porta::ops::host {

inline float BitsToFloat(uint32_t bits) {
  float value;
  std::memcpy(&value, &bits, sizeof(value));
  return value;
}

inline uint32_t FloatToBits(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  return bits;
}

inline float HalfToFloat(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exponent = (h >> 10) & 0x1fu;
  uint32_t mantissa = h & 0x3ffu;
  if (exponent == 0x1f) return BitsToFloat(sign | 0x7f800000u | (mantissa << 13));
  if (exponent == 0) {
    if (mantissa == 0) return BitsToFloat(sign);
    // Subnormal: value = mantissa * 2^-24.
    const float magnitude = static_cast<float>(mantissa) * 5.9604644775390625e-8f;
    return sign != 0 ? -magnitude : magnitude;
  }
  return BitsToFloat(sign | ((exponent + 112) << 23) | (mantissa << 13));
}

// Round to nearest even; overflow gives infinity, NaN stays NaN.
inline uint16_t FloatToHalf(float f) {
  const uint32_t bits = FloatToBits(f);
  const uint32_t sign = (bits >> 16) & 0x8000u;
  const uint32_t magnitude = bits & 0x7fffffffu;
  if (magnitude > 0x7f800000u) return static_cast<uint16_t>(sign | 0x7e00u);
  if (magnitude >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // >= 65520
  if (magnitude < 0x38800000u) {
    // Subnormal half (or zero): round magnitude * 2^24 to an integer, ties to even.
    const float scaled = BitsToFloat(magnitude) * 16777216.0f;
    return static_cast<uint16_t>(sign | static_cast<uint32_t>(std::nearbyint(scaled)));
  }
  const uint32_t rounded = magnitude + 0xfffu + ((magnitude >> 13) & 1u);
  return static_cast<uint16_t>(sign | ((rounded - 0x38000000u) >> 13));
}

inline float Bf16ToFloat(uint16_t b) {
  return BitsToFloat(static_cast<uint32_t>(b) << 16);
}

inline uint16_t FloatToBf16(float f) {
  const uint32_t bits = FloatToBits(f);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((bits >> 16) | 0x40u);
  return static_cast<uint16_t>((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16);
}

// Element |i| of a buffer of |dtype| as f32.
inline float Load(const void* base, uint32_t dtype, uint64_t i) {
  switch (dtype) {
    case PORTA_DT_F32:
      return static_cast<const float*>(base)[i];
    case PORTA_DT_F16:
      return HalfToFloat(static_cast<const uint16_t*>(base)[i]);
    case PORTA_DT_BF16:
      return Bf16ToFloat(static_cast<const uint16_t*>(base)[i]);
    case PORTA_DT_I32:
      return static_cast<float>(static_cast<const int32_t*>(base)[i]);
    default:
      return 0.0f;
  }
}

inline void Store(void* base, uint32_t dtype, uint64_t i, float value) {
  switch (dtype) {
    case PORTA_DT_F32:
      static_cast<float*>(base)[i] = value;
      break;
    case PORTA_DT_F16:
      static_cast<uint16_t*>(base)[i] = FloatToHalf(value);
      break;
    case PORTA_DT_BF16:
      static_cast<uint16_t*>(base)[i] = FloatToBf16(value);
      break;
    case PORTA_DT_I32:
      // Truncation toward zero; values outside int32 are undefined by the contract, so clamp
      // rather than invoke C++ undefined behaviour.
      static_cast<int32_t*>(base)[i] =
          std::isnan(value)        ? 0
          : value >= 2147483648.0f ? std::numeric_limits<int32_t>::max()
          : value < -2147483648.0f ? std::numeric_limits<int32_t>::min()
                                   : static_cast<int32_t>(value);
      break;
    default:
      break;
  }
}

// The 4-entry decomposition: item |i| of |shape| to an element offset with |strides|.
inline uint64_t Offset4(uint64_t i, const unsigned int shape[4], const unsigned int strides[4]) {
  uint64_t offset = 0;
  for (int d = 3; d >= 0; --d) {
    const uint64_t extent = shape[d];
    offset += (i % extent) * strides[d];
    i /= extent;
  }
  return offset;
}

inline uint64_t Offset3(uint64_t i, const unsigned int shape[3], const unsigned int strides[3]) {
  uint64_t offset = 0;
  for (int d = 2; d >= 0; --d) {
    const uint64_t extent = shape[d];
    offset += (i % extent) * strides[d];
    i /= extent;
  }
  return offset;
}

// Linear index of the work-group (kernels/common/params.h, "linear" kernels).
#if defined(__x86_64__) && defined(__GNUC__)
// Whether the CPU runs the hand-written AVX-512 loops (F, BW, VL, DQ, with FMA and F16C), which
// the host kernels build with per-function target attributes and choose at run time. Every
// AVX-512 CPU has FMA and F16C (and Clang's builtin cannot ask for F16C).
#define PORTA_HOST_AVX512 1
#define PORTA_HOST_AVX512_TARGET \
  __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,fma,f16c")))
inline bool HasAvx512() {
  static const bool has = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
  }();
  return has;
}

// Whether the CPU runs the hand-written AVX2 loops (with FMA and F16C), the path of x86-64 CPUs
// without AVX-512 (AMD Zen 1 to 3, Intel client parts). Chosen at run time like the AVX-512 ones;
// every CPU with AVX2 and FMA has F16C, which Clang's builtin cannot ask for.
#define PORTA_HOST_AVX2 1
#define PORTA_HOST_AVX2_TARGET __attribute__((target("avx2,fma,f16c")))
inline bool HasAvx2() {
  static const bool has = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  }();
  return has;
}
#endif

inline uint64_t GroupIndex(const porta_host_group_t* group) {
  return uint64_t{group->group_id[1]} * group->group_count[0] + group->group_id[0] +
         uint64_t{group->group_id[2]} * group->group_count[0] * group->group_count[1];
}

// The parameter block: the last argument.
template <typename P>
inline const P& ParamsOf(const porta_host_group_t* group) {
  return *static_cast<const P*>(group->args[group->arg_count - 1].ptr);
}

inline void* Arg(const porta_host_group_t* group, uint32_t index) {
  return group->args[index].ptr;
}

inline uint32_t Byte(uint32_t packed, int index) {
  return (packed >> (8 * index)) & 0xffu;
}

// max/min that propagate NaN, as the contract wants (std::fmax does not).
inline float MaxNan(float a, float b) {
  return std::isnan(a) || std::isnan(b) ? std::numeric_limits<float>::quiet_NaN() : (a > b ? a : b);
}
inline float MinNan(float a, float b) {
  return std::isnan(a) || std::isnan(b) ? std::numeric_limits<float>::quiet_NaN() : (a < b ? a : b);
}

inline float Sigmoid(float x) {
  return 1.0f / (1.0f + std::exp(-x));
}

// The unary functions and matmul activations of the contract.
inline float ApplyUnary(uint32_t op, float x) {
  switch (op) {
    case PORTA_EW_NEG:
      return -x;
    case PORTA_EW_ABS:
      return std::fabs(x);
    case PORTA_EW_EXP:
      return std::exp(x);
    case PORTA_EW_LOG:
      return std::log(x);
    case PORTA_EW_SQRT:
      return std::sqrt(x);
    case PORTA_EW_RSQRT:
      return 1.0f / std::sqrt(x);
    case PORTA_EW_TANH:
      return std::tanh(x);
    case PORTA_EW_SIGMOID:
      return Sigmoid(x);
    case PORTA_EW_RELU:
      return x > 0.0f ? x : (std::isnan(x) ? x : 0.0f);
    case PORTA_EW_GELU_ERF:
      return 0.5f * x * (1.0f + std::erf(x * 0.70710678118654752f));
    case PORTA_EW_GELU_TANH:
      return 0.5f * x * (1.0f + std::tanh(0.79788456080286536f * (x + 0.044715f * x * x * x)));
    case PORTA_EW_SILU:
      return x * Sigmoid(x);
    default:
      return x;
  }
}

inline float ApplyBinary(uint32_t op, float a, float b) {
  switch (op) {
    case PORTA_EW_ADD:
      return a + b;
    case PORTA_EW_SUB:
      return a - b;
    case PORTA_EW_MUL:
      return a * b;
    case PORTA_EW_DIV:
      return a / b;
    case PORTA_EW_MAX:
      return MaxNan(a, b);
    case PORTA_EW_MIN:
      return MinNan(a, b);
    case PORTA_EW_POW:
      return std::pow(a, b);
    case PORTA_EW_SWIGLU:
      return a * Sigmoid(a) * b;
    default:
      return 0.0f;
  }
}

}  // namespace porta::ops::host

#endif  // PORTA_KERNELS_CPU_HOST_COMMON_H_
