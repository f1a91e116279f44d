// Host kernels of the block-quantized types: porta_qmatvec (a block of weight rows per call, every
// row of A at once, so each weight byte is read once; the block decode and the dot products are
// written with eight-lane vectors and built per x86-64 level) and porta_qdequant (dequantization
// by whole blocks).
#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels/cpu/host_common.h"
#include "kernels/cpu/host_kernels.h"

namespace porta::ops::host {
namespace {

constexpr uint32_t kMaxRows = PORTA_QMATVEC_MAX_M;

// The matrix-vector loops are built for x86-64-v4 (AVX-512 with byte and word operations), v3
// (AVX2, FMA, F16C) and the baseline. Measured on a Xeon with AVX-512 (1536 x 576 Q4_1, one
// thread): 5.5 ns per block for v4 against 18 for v3 or AVX2 and 18 for plain avx512f, whose
// byte operations GCC splits. Sanitizer builds keep the one portable version.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__SANITIZE_ADDRESS__) && \
    !defined(PORTA_OPS_SANITIZED)
#define PORTA_QUANT_CLONES \
  __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define PORTA_QUANT_CLONES
#endif

// Eight-lane vectors (GCC/Clang vector extensions): one AVX2 register, two SSE ones, an
// AVX-512 half register. Spelled out because the compiler's own vectorization of the byte loads
// builds each vector from single bytes. They only pass between always-inlined helpers, so the
// ABI note GCC gives for vector arguments in the baseline clone does not apply (GCC reports it at
// the end of the file, hence for the whole file).
#pragma GCC diagnostic ignored "-Wpsabi"
typedef uint32_t U32x8 __attribute__((vector_size(32)));
typedef int32_t I32x8 __attribute__((vector_size(32)));
typedef float F32x8 __attribute__((vector_size(32)));

// The 32 weights of a block as four vectors of eight consecutive elements.
struct Weights {
  F32x8 v[4];
};

inline uint16_t Load16(const uint8_t* p) {
  return static_cast<uint16_t>(p[0] | (p[1] << 8));
}

// The f16 at |p| as f32, without branches: the magnitude's bits shifted into place and scaled by
// 2^112 give every finite value (subnormals included); the top exponent maps to inf/NaN.
[[gnu::always_inline]] inline float HalfAt(const uint8_t* p) {
  const uint32_t h = Load16(p);
  const uint32_t magnitude = (h & 0x7fffu) << 13;
  const uint32_t finite = FloatToBits(BitsToFloat(magnitude) * 0x1p112f);
  const uint32_t special = 0u - static_cast<uint32_t>((h & 0x7fffu) >= 0x7c00u);
  const uint32_t bits = (finite & ~special) | ((magnitude | 0x7f800000u) & special);
  return BitsToFloat(bits | ((h & 0x8000u) << 16));
}

template <typename V>
[[gnu::always_inline]] inline V LoadVector(const void* p) {
  V v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

// Lane i holds the 32-bit word that contains byte i of the 8 bytes at |p|, shifted right so that
// byte i starts at bit 0. Built from two word loads and per-lane shifts because GCC lowers a
// byte-to-int conversion of a vector lane by lane.
[[gnu::always_inline]] inline U32x8 SpreadBytes(const uint8_t* p) {
  uint32_t lo, hi;
  std::memcpy(&lo, p, 4);
  std::memcpy(&hi, p + 4, 4);
  const U32x8 words = {lo, lo, lo, lo, hi, hi, hi, hi};
  const U32x8 shifts = {0, 8, 16, 24, 0, 8, 16, 24};
  return words >> shifts;
}

// Bytes 0..7 at |p| as signed values.
[[gnu::always_inline]] inline F32x8 SignedBytes(const uint8_t* p) {
  uint32_t lo, hi;
  std::memcpy(&lo, p, 4);
  std::memcpy(&hi, p + 4, 4);
  const I32x8 words = {static_cast<int32_t>(lo), static_cast<int32_t>(lo), static_cast<int32_t>(lo),
                       static_cast<int32_t>(lo), static_cast<int32_t>(hi), static_cast<int32_t>(hi),
                       static_cast<int32_t>(hi), static_cast<int32_t>(hi)};
  const I32x8 up = {24, 16, 8, 0, 24, 16, 8, 0};
  return __builtin_convertvector((words << up) >> 24, F32x8);
}

[[gnu::always_inline]] inline F32x8 LowNibbles(U32x8 bytes) {
  return __builtin_convertvector(bytes & 15u, F32x8);
}

[[gnu::always_inline]] inline F32x8 HighNibbles(U32x8 bytes) {
  return __builtin_convertvector((bytes >> 4) & 15u, F32x8);
}

uint64_t BlockBytes(uint32_t dtype) {
  return dtype == PORTA_DT_Q4_0   ? PORTA_Q4_0_BYTES
         : dtype == PORTA_DT_Q4_1 ? PORTA_Q4_1_BYTES
                                  : PORTA_Q8_0_BYTES;
}

// The weights of block |q| of type |kType|. Q4_0's d * (q - 8) is computed as d * q - 8 d, which
// is exact either way (d has 11 significant bits, q 4).
template <uint32_t kType>
[[gnu::always_inline]] inline Weights DecodeBlock(const uint8_t* q) {
  const float d = HalfAt(q);
  Weights w;
  if constexpr (kType == PORTA_DT_Q8_0) {
    for (int i = 0; i < 4; ++i) w.v[i] = SignedBytes(q + 2 + 8 * i) * d;
  } else {
    const bool with_min = kType == PORTA_DT_Q4_1;
    const float m = with_min ? HalfAt(q + 2) : -8.0f * d;
    const uint8_t* qs = q + (with_min ? 4 : 2);
    const U32x8 b0 = SpreadBytes(qs), b1 = SpreadBytes(qs + 8);
    w.v[0] = LowNibbles(b0) * d + m;
    w.v[1] = LowNibbles(b1) * d + m;
    w.v[2] = HighNibbles(b0) * d + m;
    w.v[3] = HighNibbles(b1) * d + m;
  }
  return w;
}

// sums[m] = dot(row, a + m * lda) for m < mc, over |blocks| blocks: four vectors of running sums
// per row of A. Inlined into each target_clones version below, so that each is compiled for its
// target.
template <uint32_t kType, uint64_t kBytes>
[[gnu::always_inline]] inline void DotRow(const uint8_t* __restrict row, uint64_t blocks,
                                          const float* __restrict a, uint64_t lda, uint32_t mc,
                                          float* sums) {
  if (mc == 1) {
    // Decode: the sums stay in registers.
    F32x8 acc0{}, acc1{}, acc2{}, acc3{};
    for (uint64_t b = 0; b < blocks; ++b) {
      const Weights w = DecodeBlock<kType>(row + b * kBytes);
      const float* block_a = a + b * 32;
      acc0 += w.v[0] * LoadVector<F32x8>(block_a);
      acc1 += w.v[1] * LoadVector<F32x8>(block_a + 8);
      acc2 += w.v[2] * LoadVector<F32x8>(block_a + 16);
      acc3 += w.v[3] * LoadVector<F32x8>(block_a + 24);
    }
    const F32x8 total = (acc0 + acc1) + (acc2 + acc3);
    float sum = 0.0f;
    for (int j = 0; j < 8; ++j) sum += total[j];
    sums[0] = sum;
    return;
  }
  F32x8 acc[kMaxRows][4];
  for (uint32_t m = 0; m < mc; ++m) {
    for (int i = 0; i < 4; ++i) acc[m][i] = F32x8{};
  }
  for (uint64_t b = 0; b < blocks; ++b) {
    const Weights w = DecodeBlock<kType>(row + b * kBytes);
    for (uint32_t m = 0; m < mc; ++m) {
      const float* block_a = a + m * lda + b * 32;
      for (int i = 0; i < 4; ++i) acc[m][i] += w.v[i] * LoadVector<F32x8>(block_a + 8 * i);
    }
  }
  for (uint32_t m = 0; m < mc; ++m) {
    const F32x8 total = (acc[m][0] + acc[m][1]) + (acc[m][2] + acc[m][3]);
    float sum = 0.0f;
    for (int j = 0; j < 8; ++j) sum += total[j];
    sums[m] = sum;
  }
}

PORTA_QUANT_CLONES void DotRowQ40(const uint8_t* row, uint64_t blocks, const float* a, uint64_t lda,
                                  uint32_t mc, float* sums) {
  DotRow<PORTA_DT_Q4_0, PORTA_Q4_0_BYTES>(row, blocks, a, lda, mc, sums);
}
PORTA_QUANT_CLONES void DotRowQ41(const uint8_t* row, uint64_t blocks, const float* a, uint64_t lda,
                                  uint32_t mc, float* sums) {
  DotRow<PORTA_DT_Q4_1, PORTA_Q4_1_BYTES>(row, blocks, a, lda, mc, sums);
}
PORTA_QUANT_CLONES void DotRowQ80(const uint8_t* row, uint64_t blocks, const float* a, uint64_t lda,
                                  uint32_t mc, float* sums) {
  DotRow<PORTA_DT_Q8_0, PORTA_Q8_0_BYTES>(row, blocks, a, lda, mc, sums);
}

#if defined(PORTA_HOST_AVX512)
// The same products written with AVX-512 intrinsics, chosen at run time when the CPU has
// AVX-512 F/BW/VL/DQ: a block's 32 weights are two sixteen-lane vectors (zero-extended nibbles
// or sign-extended bytes, converted and scaled with two FMAs), and the rows of A are taken in
// tiles whose sums stay in registers. The vector-extension loops above leave a block at about
// 5.5 ns; this form needs about a third of that, so the weights stream near memory speed.
// GCC 12's AVX-512 headers build some results from self-initialized "undefined" vectors, which
// its uninitialized-use warnings flag once inlined here.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#if !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

// The block at |q| as weights 0..15 (|w0|) and 16..31 (|w1|).
template <uint32_t kType>
[[gnu::always_inline]] PORTA_HOST_AVX512_TARGET inline void DecodeAvx512(const uint8_t* q,
                                                                         __m512* w0, __m512* w1) {
  if constexpr (kType == PORTA_DT_Q8_0) {
    uint16_t h;
    std::memcpy(&h, q, 2);
    const __m512 d = _mm512_set1_ps(_cvtsh_ss(h));
    const __m128i b0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(q + 2));
    const __m128i b1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(q + 18));
    *w0 = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(b0)), d);
    *w1 = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(b1)), d);
  } else {
    // Q4_1's d and m are converted together; Q4_0's second half is a nibble pair, ignored.
    const bool with_min = kType == PORTA_DT_Q4_1;
    int32_t dm;
    std::memcpy(&dm, q, 4);
    const __m128 scales = _mm_cvtph_ps(_mm_cvtsi32_si128(dm));
    const __m512 d = _mm512_broadcastss_ps(scales);
    const __m512 mv = with_min ? _mm512_broadcastss_ps(_mm_movehdup_ps(scales))
                               : _mm512_mul_ps(d, _mm512_set1_ps(-8.0f));
    const __m128i qs = _mm_loadu_si128(reinterpret_cast<const __m128i*>(q + (with_min ? 4 : 2)));
    const __m128i mask = _mm_set1_epi8(15);
    const __m128i lo = _mm_and_si128(qs, mask);
    const __m128i hi = _mm_and_si128(_mm_srli_epi16(qs, 4), mask);
    *w0 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(lo)), d, mv);
    *w1 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(hi)), d, mv);
  }
}

// The sum of the lanes of |v| (GCC 12's _mm512_reduce_add_ps trips -Wuninitialized).
[[gnu::always_inline]] PORTA_HOST_AVX512_TARGET inline float LaneSum(__m512 v) {
  const __m256 half = _mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1));
  __m128 quarter = _mm_add_ps(_mm256_castps256_ps128(half), _mm256_extractf128_ps(half, 1));
  quarter = _mm_add_ps(quarter, _mm_movehl_ps(quarter, quarter));
  return _mm_cvtss_f32(_mm_add_ss(quarter, _mm_movehdup_ps(quarter)));
}

// One row against one row of A: four running sums (two blocks per step) so that the FMA
// latency does not bound the loop.
template <uint32_t kType, uint64_t kBytes>
PORTA_HOST_AVX512_TARGET float DotOneAvx512(const uint8_t* __restrict row, uint64_t blocks,
                                            const float* __restrict a) {
  __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
  __m512 acc2 = _mm512_setzero_ps(), acc3 = _mm512_setzero_ps();
  uint64_t b = 0;
  for (; b + 2 <= blocks; b += 2) {
    __m512 w0, w1, w2, w3;
    DecodeAvx512<kType>(row + b * kBytes, &w0, &w1);
    DecodeAvx512<kType>(row + (b + 1) * kBytes, &w2, &w3);
    const float* x = a + b * 32;
    acc0 = _mm512_fmadd_ps(w0, _mm512_loadu_ps(x), acc0);
    acc1 = _mm512_fmadd_ps(w1, _mm512_loadu_ps(x + 16), acc1);
    acc2 = _mm512_fmadd_ps(w2, _mm512_loadu_ps(x + 32), acc2);
    acc3 = _mm512_fmadd_ps(w3, _mm512_loadu_ps(x + 48), acc3);
  }
  if (b < blocks) {
    __m512 w0, w1;
    DecodeAvx512<kType>(row + b * kBytes, &w0, &w1);
    acc0 = _mm512_fmadd_ps(w0, _mm512_loadu_ps(a + b * 32), acc0);
    acc1 = _mm512_fmadd_ps(w1, _mm512_loadu_ps(a + b * 32 + 16), acc1);
  }
  return LaneSum(_mm512_add_ps(_mm512_add_ps(acc0, acc1), _mm512_add_ps(acc2, acc3)));
}

// One row against |kRows| rows of A: the block is decoded once for all of them.
template <uint32_t kType, uint64_t kBytes, uint32_t kRows>
PORTA_HOST_AVX512_TARGET void DotTileAvx512(const uint8_t* __restrict row, uint64_t blocks,
                                            const float* __restrict a, uint64_t lda, float* sums) {
  __m512 acc[kRows][2];
  for (uint32_t r = 0; r < kRows; ++r) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
  for (uint64_t b = 0; b < blocks; ++b) {
    __m512 w0, w1;
    DecodeAvx512<kType>(row + b * kBytes, &w0, &w1);
    for (uint32_t r = 0; r < kRows; ++r) {
      const float* x = a + r * lda + b * 32;
      acc[r][0] = _mm512_fmadd_ps(w0, _mm512_loadu_ps(x), acc[r][0]);
      acc[r][1] = _mm512_fmadd_ps(w1, _mm512_loadu_ps(x + 16), acc[r][1]);
    }
  }
  for (uint32_t r = 0; r < kRows; ++r) sums[r] = LaneSum(_mm512_add_ps(acc[r][0], acc[r][1]));
}

template <uint32_t kType, uint64_t kBytes>
void DotRowAvx512(const uint8_t* row, uint64_t blocks, const float* a, uint64_t lda, uint32_t mc,
                  float* sums) {
  if (mc == 1) {
    sums[0] = DotOneAvx512<kType, kBytes>(row, blocks, a);
    return;
  }
  uint32_t m = 0;
  for (; m + 8 <= mc; m += 8)
    DotTileAvx512<kType, kBytes, 8>(row, blocks, a + m * lda, lda, sums + m);
  if (m + 4 <= mc) {
    DotTileAvx512<kType, kBytes, 4>(row, blocks, a + m * lda, lda, sums + m);
    m += 4;
  }
  if (m + 2 <= mc) {
    DotTileAvx512<kType, kBytes, 2>(row, blocks, a + m * lda, lda, sums + m);
    m += 2;
  }
  if (m < mc) sums[m] = DotOneAvx512<kType, kBytes>(row, blocks, a + m * lda);
}
#pragma GCC diagnostic pop
#endif

#if defined(PORTA_HOST_AVX2)
// The same products for AVX2 CPUs: a block's 32 weights are four eight-lane vectors (zero-extended
// nibbles or sign-extended bytes, converted and scaled with FMAs). The vector-extension loops
// above compile for x86-64-v3 into lane-by-lane byte handling (about 18 ns a block); these take a
// fraction of that.

// Bytes 0..7 at |p| as signed values.
[[gnu::always_inline]] PORTA_HOST_AVX2_TARGET inline __m256 SignedBytesAvx2(const uint8_t* p) {
  return _mm256_cvtepi32_ps(
      _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))));
}

// d * q + m for the eight values 0..15 in the low bytes of |bytes|.
[[gnu::always_inline]] PORTA_HOST_AVX2_TARGET inline __m256 NibblesAvx2(__m128i bytes, __m256 d,
                                                                        __m256 m) {
  return _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(bytes)), d, m);
}

// The block at |q| as weights 0..7 (|w0|), 8..15, 16..23 and 24..31 (|w3|). Written out
// vector by vector: GCC at -O2 keeps arrays of vectors in memory.
template <uint32_t kType>
[[gnu::always_inline]] PORTA_HOST_AVX2_TARGET inline void DecodeAvx2(const uint8_t* q, __m256* w0,
                                                                     __m256* w1, __m256* w2,
                                                                     __m256* w3) {
  if constexpr (kType == PORTA_DT_Q8_0) {
    uint16_t h;
    std::memcpy(&h, q, 2);
    const __m256 d = _mm256_set1_ps(_cvtsh_ss(h));
    *w0 = _mm256_mul_ps(SignedBytesAvx2(q + 2), d);
    *w1 = _mm256_mul_ps(SignedBytesAvx2(q + 10), d);
    *w2 = _mm256_mul_ps(SignedBytesAvx2(q + 18), d);
    *w3 = _mm256_mul_ps(SignedBytesAvx2(q + 26), d);
  } else {
    // Q4_1's d and m are converted together; Q4_0's second half is a nibble pair, ignored.
    const bool with_min = kType == PORTA_DT_Q4_1;
    int32_t dm;
    std::memcpy(&dm, q, 4);
    const __m128 scales = _mm_cvtph_ps(_mm_cvtsi32_si128(dm));
    const __m256 d = _mm256_broadcastss_ps(scales);
    const __m256 mv = with_min ? _mm256_broadcastss_ps(_mm_movehdup_ps(scales))
                               : _mm256_mul_ps(d, _mm256_set1_ps(-8.0f));
    const __m128i qs = _mm_loadu_si128(reinterpret_cast<const __m128i*>(q + (with_min ? 4 : 2)));
    const __m128i mask = _mm_set1_epi8(15);
    const __m128i lo = _mm_and_si128(qs, mask);
    const __m128i hi = _mm_and_si128(_mm_srli_epi16(qs, 4), mask);
    *w0 = NibblesAvx2(lo, d, mv);
    *w1 = NibblesAvx2(_mm_srli_si128(lo, 8), d, mv);
    *w2 = NibblesAvx2(hi, d, mv);
    *w3 = NibblesAvx2(_mm_srli_si128(hi, 8), d, mv);
  }
}

[[gnu::always_inline]] PORTA_HOST_AVX2_TARGET inline float LaneSumAvx2(__m256 v) {
  __m128 quarter = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  quarter = _mm_add_ps(quarter, _mm_movehl_ps(quarter, quarter));
  return _mm_cvtss_f32(_mm_add_ss(quarter, _mm_movehdup_ps(quarter)));
}

// One row against one row of A: four running sums, one per eighth of the block.
template <uint32_t kType, uint64_t kBytes>
PORTA_HOST_AVX2_TARGET float DotOneAvx2(const uint8_t* __restrict row, uint64_t blocks,
                                        const float* __restrict a) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  __m256 acc2 = _mm256_setzero_ps(), acc3 = _mm256_setzero_ps();
  for (uint64_t b = 0; b < blocks; ++b) {
    __m256 w0, w1, w2, w3;
    DecodeAvx2<kType>(row + b * kBytes, &w0, &w1, &w2, &w3);
    const float* x = a + b * 32;
    acc0 = _mm256_fmadd_ps(w0, _mm256_loadu_ps(x), acc0);
    acc1 = _mm256_fmadd_ps(w1, _mm256_loadu_ps(x + 8), acc1);
    acc2 = _mm256_fmadd_ps(w2, _mm256_loadu_ps(x + 16), acc2);
    acc3 = _mm256_fmadd_ps(w3, _mm256_loadu_ps(x + 24), acc3);
  }
  return LaneSumAvx2(_mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3)));
}

// One row against |kRows| rows of A: the block is decoded once for all of them; two running sums
// per row keep the twelve vectors in registers.
template <uint32_t kType, uint64_t kBytes, uint32_t kRows>
PORTA_HOST_AVX2_TARGET void DotTileAvx2(const uint8_t* __restrict row, uint64_t blocks,
                                        const float* __restrict a, uint64_t lda, float* sums) {
  __m256 acc[kRows][2];
  for (uint32_t r = 0; r < kRows; ++r) acc[r][0] = acc[r][1] = _mm256_setzero_ps();
  for (uint64_t b = 0; b < blocks; ++b) {
    __m256 w0, w1, w2, w3;
    DecodeAvx2<kType>(row + b * kBytes, &w0, &w1, &w2, &w3);
#pragma GCC unroll 4
    for (uint32_t r = 0; r < kRows; ++r) {
      const float* x = a + r * lda + b * 32;
      acc[r][0] = _mm256_fmadd_ps(w0, _mm256_loadu_ps(x), acc[r][0]);
      acc[r][1] = _mm256_fmadd_ps(w1, _mm256_loadu_ps(x + 8), acc[r][1]);
      acc[r][0] = _mm256_fmadd_ps(w2, _mm256_loadu_ps(x + 16), acc[r][0]);
      acc[r][1] = _mm256_fmadd_ps(w3, _mm256_loadu_ps(x + 24), acc[r][1]);
    }
  }
  for (uint32_t r = 0; r < kRows; ++r) sums[r] = LaneSumAvx2(_mm256_add_ps(acc[r][0], acc[r][1]));
}

template <uint32_t kType, uint64_t kBytes>
void DotRowAvx2(const uint8_t* row, uint64_t blocks, const float* a, uint64_t lda, uint32_t mc,
                float* sums) {
  uint32_t m = 0;
  for (; m + 4 <= mc; m += 4)
    DotTileAvx2<kType, kBytes, 4>(row, blocks, a + m * lda, lda, sums + m);
  if (m + 2 <= mc) {
    DotTileAvx2<kType, kBytes, 2>(row, blocks, a + m * lda, lda, sums + m);
    m += 2;
  }
  if (m < mc) sums[m] = DotOneAvx2<kType, kBytes>(row, blocks, a + m * lda);
}
#endif

// The dot-product routine for weights of |dtype| on this CPU.
using DotRowFn = void (*)(const uint8_t*, uint64_t, const float*, uint64_t, uint32_t, float*);

DotRowFn DotRowFor(uint32_t dtype) {
#if defined(PORTA_HOST_AVX512)
  if (HasAvx512()) {
    return dtype == PORTA_DT_Q4_0   ? DotRowAvx512<PORTA_DT_Q4_0, PORTA_Q4_0_BYTES>
           : dtype == PORTA_DT_Q4_1 ? DotRowAvx512<PORTA_DT_Q4_1, PORTA_Q4_1_BYTES>
                                    : DotRowAvx512<PORTA_DT_Q8_0, PORTA_Q8_0_BYTES>;
  }
#endif
#if defined(PORTA_HOST_AVX2)
  if (HasAvx2()) {
    return dtype == PORTA_DT_Q4_0   ? DotRowAvx2<PORTA_DT_Q4_0, PORTA_Q4_0_BYTES>
           : dtype == PORTA_DT_Q4_1 ? DotRowAvx2<PORTA_DT_Q4_1, PORTA_Q4_1_BYTES>
                                    : DotRowAvx2<PORTA_DT_Q8_0, PORTA_Q8_0_BYTES>;
  }
#endif
  return dtype == PORTA_DT_Q4_0 ? DotRowQ40 : dtype == PORTA_DT_Q4_1 ? DotRowQ41 : DotRowQ80;
}

void Decode(uint32_t dtype, const uint8_t* q, float* w) {
  const Weights weights = dtype == PORTA_DT_Q4_0   ? DecodeBlock<PORTA_DT_Q4_0>(q)
                          : dtype == PORTA_DT_Q4_1 ? DecodeBlock<PORTA_DT_Q4_1>(q)
                                                   : DecodeBlock<PORTA_DT_Q8_0>(q);
  std::memcpy(w, weights.v, sizeof(weights.v));
}

int32_t QmatvecKernel(const porta_host_group_t* group) {
  const PortaQmatvecParams& p = ParamsOf<PortaQmatvecParams>(group);
  const void* a = Arg(group, 0);
  const auto* b = static_cast<const uint8_t*>(Arg(group, 1));
  const void* bias = Arg(group, 2);
  void* out = Arg(group, 3);
  const uint32_t da = Byte(p.dtypes, 0), db = Byte(p.dtypes, 1), dout = Byte(p.dtypes, 2),
                 dbias = Byte(p.dtypes, 3);
  const uint64_t row_groups = (uint64_t{p.N} + p.rows - 1) / p.rows;
  const uint64_t m_groups = (uint64_t{p.M} + p.m_per_group - 1) / p.m_per_group;
  const uint64_t g = GroupIndex(group);
  const uint64_t r = g % row_groups, z = g / row_groups / m_groups;
  const uint64_t mg = g / row_groups % m_groups;
  if (z >= uint64_t{p.batch0} * p.batch1) return 0;
  const uint64_t z0 = z / p.batch1, z1 = z % p.batch1;
  const uint64_t block_bytes = BlockBytes(db);
  const uint64_t blocks = p.K / PORTA_QBLOCK;
  const uint64_t m0 = mg * p.m_per_group;
  const uint32_t mc = static_cast<uint32_t>(
      std::min<uint64_t>({p.m_per_group, uint64_t{p.M} - m0, uint64_t{kMaxRows}}));
  const uint64_t a_base = p.a_offset + z0 * p.a_bs[0] + z1 * p.a_bs[1] + m0 * p.a_rs;
  const uint64_t b_base = p.b_offset + (z0 * p.b_bs[0] + z1 * p.b_bs[1]) * block_bytes;
  const uint64_t o_base = p.o_offset + z0 * p.o_bs[0] + z1 * p.o_bs[1] + m0 * p.o_rs;
  // A's rows as dense f32, unless they already are.
  const float* rows_a = nullptr;
  uint64_t lda = p.K;
  thread_local std::vector<float> dense;
  if (da == PORTA_DT_F32 && p.a_cs == 1) {
    rows_a = static_cast<const float*>(a) + a_base;
    lda = p.a_rs;
  } else {
    dense.resize(uint64_t{mc} * p.K);
    for (uint32_t m = 0; m < mc; ++m) {
      for (uint64_t k = 0; k < p.K; ++k)
        dense[m * p.K + k] = Load(a, da, a_base + m * p.a_rs + k * p.a_cs);
    }
    rows_a = dense.data();
  }
  const uint32_t act = (p.flags >> 8) & 0xffu;
  const bool has_bias = (p.flags & PORTA_MM_FLAG_BIAS) != 0;
  const bool has_beta = (p.flags & PORTA_MM_FLAG_BETA) != 0;
  const uint64_t n0 = r * p.rows, n1 = std::min<uint64_t>(p.N, n0 + p.rows);
  // Rows of A in tiles of eight against a few weight rows at a time: a tile and the weight rows
  // stay in L1 while each is reused (32 rows of A at K = 576 would not fit).
  constexpr uint64_t kRowChunk = 16;
  constexpr uint32_t kTileRows = 8;
  float sums[kRowChunk][kMaxRows];
  const DotRowFn dot_row = DotRowFor(db);
  for (uint64_t chunk = n0; chunk < n1; chunk += kRowChunk) {
    const uint64_t chunk_end = std::min(n1, chunk + kRowChunk);
    for (uint32_t t = 0; t < mc; t += kTileRows) {
      const uint32_t tile = std::min(kTileRows, mc - t);
      for (uint64_t n = chunk; n < chunk_end; ++n) {
        dot_row(b + b_base + n * p.b_rs * block_bytes, blocks, rows_a + t * lda, lda, tile,
                &sums[n - chunk][t]);
      }
    }
    for (uint64_t n = chunk; n < chunk_end; ++n) {
      const float bias_n = has_bias ? Load(bias, dbias, p.bias_offset + n * p.bias_stride) : 0.0f;
      for (uint32_t m = 0; m < mc; ++m) {
        const uint64_t oi = o_base + m * p.o_rs + n * p.o_cs;
        float value = p.alpha * sums[n - chunk][m];
        if (has_beta) value += p.beta * Load(out, dout, oi);
        value += bias_n;
        Store(out, dout, oi, act == 0 ? value : ApplyUnary(act, value));
      }
    }
  }
  return 0;
}

int32_t QdequantKernel(const porta_host_group_t* group) {
  const PortaQdequantParams& p = ParamsOf<PortaQdequantParams>(group);
  const auto* src = static_cast<const uint8_t*>(Arg(group, 0));
  const auto* indices = static_cast<const int32_t*>(Arg(group, 1));
  void* out = Arg(group, 2);
  const uint32_t ds = Byte(p.dtypes, 0), dout = Byte(p.dtypes, 2);
  const uint64_t block_bytes = BlockBytes(ds);
  const bool gather = (p.flags & PORTA_QD_FLAG_GATHER) != 0;
  const uint64_t begin = GroupIndex(group) * group->group_size[0];
  const uint64_t end = std::min<uint64_t>(p.n, begin + group->group_size[0]);
  // A block at a time: decode it once, store the part of it inside [begin, end).
  for (uint64_t i = begin; i < end;) {
    const uint64_t j = i / p.dim, c = i % p.dim;
    const uint64_t pos = c % PORTA_QBLOCK;
    const uint64_t count = std::min<uint64_t>(PORTA_QBLOCK - pos, end - i);
    const uint64_t o_base = p.out_offset + Offset3(j, p.row_shape, p.out_strides);
    alignas(64) float w[PORTA_QBLOCK];
    bool zero = false;
    uint64_t row_block = 0;
    if (gather) {
      const int32_t v = indices[p.idx_offset + Offset3(j, p.row_shape, p.idx_strides)];
      zero = v < 0 || static_cast<uint32_t>(v) >= p.vocab;
      row_block = zero ? 0 : uint64_t{static_cast<uint32_t>(v)} * p.src_strides[0];
    } else {
      row_block = Offset3(j, p.row_shape, p.src_strides);
    }
    if (zero) {
      std::fill(w, w + PORTA_QBLOCK, 0.0f);
    } else {
      Decode(ds, src + p.src_offset + (row_block + c / PORTA_QBLOCK) * block_bytes, w);
    }
    if (dout == PORTA_DT_F32 && p.out_strides[3] == 1) {
      std::memcpy(static_cast<float*>(out) + o_base + c, w + pos, count * sizeof(float));
    } else {
      for (uint64_t t = 0; t < count; ++t) {
        Store(out, dout, o_base + (c + t) * p.out_strides[3], w[pos + t]);
      }
    }
    i += count;
  }
  return 0;
}

}  // namespace

porta_host_kernel_fn QmatvecHostKernel() {
  return QmatvecKernel;
}

porta_host_kernel_fn QdequantHostKernel() {
  return QdequantKernel;
}

}  // namespace porta::ops::host
