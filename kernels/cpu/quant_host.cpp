// Host kernels of the block-quantized types: porta_qmatvec (a block of weight rows per call, every
// row of A at once, so each weight byte is read once; the block decode and the dot products are
// written with eight-lane vectors and built per x86-64 level) and porta_qdequant (dequantization
// by whole blocks).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
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

// How far ahead of a matrix-vector product's loads the weights are prefetched. Each call reads one
// weight row (a few hundred bytes), and the hardware prefetcher, starting afresh at each short
// row, falls behind: measured on a 2-core AMD EPYC VM (SmolLM2 Q4_1 generation, alternating runs),
// 4 KiB ahead gave 75 to 86 tokens/s against 59 to 71 without (1, 2, 8 and 16 KiB did less).
// Prefetches do not fault, so reaching past the matrix's end is harmless.
constexpr uint64_t kPrefetchBytes = 4096;

[[gnu::always_inline]] PORTA_HOST_AVX2_TARGET inline void PrefetchAhead(const uint8_t* p) {
  _mm_prefetch(reinterpret_cast<const char*>(p + kPrefetchBytes), _MM_HINT_T0);
}

// One row against one row of A: four running sums, one per eighth of the block.
template <uint32_t kType, uint64_t kBytes>
PORTA_HOST_AVX2_TARGET float DotOneAvx2(const uint8_t* __restrict row, uint64_t blocks,
                                        const float* __restrict a) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  __m256 acc2 = _mm256_setzero_ps(), acc3 = _mm256_setzero_ps();
  for (uint64_t b = 0; b < blocks; ++b) {
    PrefetchAhead(row + b * kBytes);
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

// Products with A rounded to Q8 blocks (PORTA_MM_FLAG_QUANTIZE_A): per row of A and block of 32,
// int8 values, the scale d = max|a| / 127 (the values are a / d rounded to nearest) and
// s = d * (sum of the values). A weight block then takes integer products: Q4_1 gives
// dw d (sum q y) + mw s, Q4_0 dw d (sum q y) - 8 dw s and Q8_0 dw d (sum w y).
struct Q8Rows {
  std::vector<int8_t> q;  // rows x K
  std::vector<float> d;   // rows x K / 32
  std::vector<float> s;   // rows x K / 32
  uint64_t k = 0;
};

// Rounds the block of 32 at |x|. A block with a NaN or an infinity gets d = s = NaN, so that its
// products are NaN, as the f32 products would be (or infinite: the rounding cannot keep those
// apart).
void QuantizeBlockScalar(const float* x, int8_t* q, float* d, float* s) {
  float amax = 0.0f;
  bool finite = true;
  for (int i = 0; i < 32; ++i) {
    finite = finite && std::isfinite(x[i]);
    amax = std::max(amax, std::fabs(x[i]));
  }
  if (!finite) {
    std::memset(q, 0, 32);
    *d = *s = std::numeric_limits<float>::quiet_NaN();
    return;
  }
  const float inverse = amax != 0.0f ? 127.0f / amax : 0.0f;
  int32_t sum = 0;
  for (int i = 0; i < 32; ++i) {
    q[i] = static_cast<int8_t>(std::nearbyint(x[i] * inverse));
    sum += q[i];
  }
  *d = amax / 127.0f;
  *s = *d * static_cast<float>(sum);
}

#if defined(PORTA_HOST_AVX2)
PORTA_HOST_AVX2_TARGET void QuantizeBlockAvx2(const float* x, int8_t* q, float* d, float* s) {
  const __m256 v0 = _mm256_loadu_ps(x), v1 = _mm256_loadu_ps(x + 8);
  const __m256 v2 = _mm256_loadu_ps(x + 16), v3 = _mm256_loadu_ps(x + 24);
  const __m256 sign = _mm256_set1_ps(-0.0f);
  const __m256 a0 = _mm256_andnot_ps(sign, v0), a1 = _mm256_andnot_ps(sign, v1);
  const __m256 a2 = _mm256_andnot_ps(sign, v2), a3 = _mm256_andnot_ps(sign, v3);
  // NaN and infinity: |x| > FLT_MAX is false for NaN, hence the "not less or equal" test.
  const __m256 big = _mm256_set1_ps(std::numeric_limits<float>::max());
  const __m256 bad = _mm256_or_ps(
      _mm256_or_ps(_mm256_cmp_ps(a0, big, _CMP_NLE_UQ), _mm256_cmp_ps(a1, big, _CMP_NLE_UQ)),
      _mm256_or_ps(_mm256_cmp_ps(a2, big, _CMP_NLE_UQ), _mm256_cmp_ps(a3, big, _CMP_NLE_UQ)));
  if (_mm256_movemask_ps(bad) != 0) {
    std::memset(q, 0, 32);
    *d = *s = std::numeric_limits<float>::quiet_NaN();
    return;
  }
  const __m256 m = _mm256_max_ps(_mm256_max_ps(a0, a1), _mm256_max_ps(a2, a3));
  __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
  m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
  m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
  const float amax = _mm_cvtss_f32(m4);
  const __m256 inverse = _mm256_set1_ps(amax != 0.0f ? 127.0f / amax : 0.0f);
  // Round to nearest (the default rounding mode) as the scalar form's nearbyint.
  const __m256i i0 = _mm256_cvtps_epi32(_mm256_mul_ps(v0, inverse));
  const __m256i i1 = _mm256_cvtps_epi32(_mm256_mul_ps(v1, inverse));
  const __m256i i2 = _mm256_cvtps_epi32(_mm256_mul_ps(v2, inverse));
  const __m256i i3 = _mm256_cvtps_epi32(_mm256_mul_ps(v3, inverse));
  const __m256i total = _mm256_add_epi32(_mm256_add_epi32(i0, i1), _mm256_add_epi32(i2, i3));
  __m128i t4 = _mm_add_epi32(_mm256_castsi256_si128(total), _mm256_extracti128_si256(total, 1));
  t4 = _mm_add_epi32(t4, _mm_shuffle_epi32(t4, 0x4e));
  t4 = _mm_add_epi32(t4, _mm_shuffle_epi32(t4, 0xb1));
  // Packing works per 128-bit lane; the permutation puts the four groups of eight back in order.
  const __m256i packed = _mm256_packs_epi16(_mm256_packs_epi32(i0, i1), _mm256_packs_epi32(i2, i3));
  _mm256_storeu_si256(
      reinterpret_cast<__m256i*>(q),
      _mm256_permutevar8x32_epi32(packed, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)));
  *d = amax / 127.0f;
  *s = *d * static_cast<float>(_mm_cvtsi128_si32(t4));
}
#endif

// Rounds |rows| rows of K values (row stride |lda|) at |a| into |out|.
void QuantizeRows(const float* a, uint64_t lda, uint32_t rows, uint64_t k, Q8Rows* out) {
  const uint64_t blocks = k / PORTA_QBLOCK;
  out->k = k;
  out->q.resize(uint64_t{rows} * k);
  out->d.resize(uint64_t{rows} * blocks);
  out->s.resize(uint64_t{rows} * blocks);
#if defined(PORTA_HOST_AVX2)
  const bool avx2 = HasAvx2();
#endif
  for (uint32_t r = 0; r < rows; ++r) {
    for (uint64_t b = 0; b < blocks; ++b) {
      const float* x = a + r * lda + b * PORTA_QBLOCK;
      int8_t* q = out->q.data() + r * k + b * PORTA_QBLOCK;
      float* d = out->d.data() + r * blocks + b;
      float* sum = out->s.data() + r * blocks + b;
#if defined(PORTA_HOST_AVX2)
      if (avx2) {
        QuantizeBlockAvx2(x, q, d, sum);
        continue;
      }
#endif
      QuantizeBlockScalar(x, q, d, sum);
    }
  }
}

// The integer part of block |q| (of |kType|) against the 32 values at |y|.
template <uint32_t kType>
int32_t BlockDotScalar(const uint8_t* q, const int8_t* y) {
  int32_t sum = 0;
  if constexpr (kType == PORTA_DT_Q8_0) {
    for (int i = 0; i < 32; ++i) sum += static_cast<int8_t>(q[2 + i]) * y[i];
  } else {
    const uint8_t* qs = q + (kType == PORTA_DT_Q4_1 ? 4 : 2);
    for (int i = 0; i < 16; ++i) sum += (qs[i] & 15) * y[i] + (qs[i] >> 4) * y[i + 16];
  }
  return sum;
}

template <uint32_t kType, uint64_t kBytes>
void DotQ8Scalar(const uint8_t* row, uint64_t blocks, const Q8Rows& a, uint32_t r0, uint32_t count,
                 float* sums) {
  for (uint32_t r = r0; r < r0 + count; ++r) {
    const int8_t* y = a.q.data() + r * a.k;
    const float* d = a.d.data() + r * blocks;
    const float* s = a.s.data() + r * blocks;
    float sum = 0.0f;
    for (uint64_t b = 0; b < blocks; ++b) {
      const uint8_t* q = row + b * kBytes;
      const float dw = HalfAt(q);
      const float dot = static_cast<float>(BlockDotScalar<kType>(q, y + b * PORTA_QBLOCK));
      sum += dw * d[b] * dot;
      if constexpr (kType == PORTA_DT_Q4_1) sum += HalfAt(q + 2) * s[b];
      if constexpr (kType == PORTA_DT_Q4_0) sum -= 8.0f * dw * s[b];
    }
    sums[r - r0] = sum;
  }
}

#if defined(PORTA_HOST_AVX2)
// The block at |q| for the integer products: the 32 weights as bytes (unsigned nibbles, or the
// magnitudes of Q8_0's signed values), d and the term the block adds per unit of s.
struct BlockQ8Avx2 {
  __m256i w;
  float d;
  float per_s;
  __m256i sign;  // Q8_0: the weights' signs, moved onto the values of A
};

template <uint32_t kType>
[[gnu::always_inline]] PORTA_HOST_AVX2_TARGET inline BlockQ8Avx2 LoadBlockQ8Avx2(const uint8_t* q) {
  BlockQ8Avx2 block;
  if constexpr (kType == PORTA_DT_Q8_0) {
    uint16_t h;
    std::memcpy(&h, q, 2);
    block.d = _cvtsh_ss(h);
    block.per_s = 0.0f;
    block.sign = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q + 2));
    block.w = _mm256_sign_epi8(block.sign, block.sign);
  } else {
    const bool with_min = kType == PORTA_DT_Q4_1;
    int32_t dm;
    std::memcpy(&dm, q, 4);
    const __m128 scales = _mm_cvtph_ps(_mm_cvtsi32_si128(dm));
    block.d = _mm_cvtss_f32(scales);
    block.per_s = with_min ? _mm_cvtss_f32(_mm_movehdup_ps(scales)) : -8.0f * block.d;
    const __m128i qs = _mm_loadu_si128(reinterpret_cast<const __m128i*>(q + (with_min ? 4 : 2)));
    block.w = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(qs, 4), qs), _mm256_set1_epi8(15));
    block.sign = block.w;
  }
  return block;
}

// Sum of the products of |block|'s weights and the 32 values at |y|, as eight int32 lanes
// converted to float.
template <uint32_t kType>
[[gnu::always_inline]] PORTA_HOST_AVX2_TARGET inline __m256 BlockProductsAvx2(
    const BlockQ8Avx2& block, const int8_t* y) {
  __m256i values = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y));
  if constexpr (kType == PORTA_DT_Q8_0) values = _mm256_sign_epi8(values, block.sign);
  const __m256i pairs = _mm256_maddubs_epi16(block.w, values);
  return _mm256_cvtepi32_ps(_mm256_madd_epi16(pairs, _mm256_set1_epi16(1)));
}

template <uint32_t kType, uint64_t kBytes, uint32_t kRows>
PORTA_HOST_AVX2_TARGET void DotQ8TileAvx2(const uint8_t* __restrict row, uint64_t blocks,
                                          const Q8Rows& a, uint32_t r0, float* sums) {
  __m256 acc[kRows];
  float extra[kRows];
  const int8_t* y[kRows];
  const float* d[kRows];
  const float* s[kRows];
#pragma GCC unroll 4
  for (uint32_t r = 0; r < kRows; ++r) {
    acc[r] = _mm256_setzero_ps();
    extra[r] = 0.0f;
    y[r] = a.q.data() + (r0 + r) * a.k;
    d[r] = a.d.data() + (r0 + r) * blocks;
    s[r] = a.s.data() + (r0 + r) * blocks;
  }
  for (uint64_t b = 0; b < blocks; ++b) {
    const BlockQ8Avx2 block = LoadBlockQ8Avx2<kType>(row + b * kBytes);
#pragma GCC unroll 4
    for (uint32_t r = 0; r < kRows; ++r) {
      const __m256 products = BlockProductsAvx2<kType>(block, y[r] + b * PORTA_QBLOCK);
      acc[r] = _mm256_fmadd_ps(products, _mm256_set1_ps(block.d * d[r][b]), acc[r]);
      extra[r] += block.per_s * s[r][b];
    }
  }
#pragma GCC unroll 4
  for (uint32_t r = 0; r < kRows; ++r) sums[r] = LaneSumAvx2(acc[r]) + extra[r];
}

// One row of A: two running sums (even and odd blocks) so that the FMA latency does not bound
// the loop.
template <uint32_t kType, uint64_t kBytes>
PORTA_HOST_AVX2_TARGET float DotQ8OneAvx2(const uint8_t* __restrict row, uint64_t blocks,
                                          const Q8Rows& a, uint32_t r) {
  const int8_t* y = a.q.data() + r * a.k;
  const float* d = a.d.data() + r * blocks;
  const float* s = a.s.data() + r * blocks;
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  float extra0 = 0.0f, extra1 = 0.0f;
  uint64_t b = 0;
  for (; b + 2 <= blocks; b += 2) {
    PrefetchAhead(row + b * kBytes);
    const BlockQ8Avx2 first = LoadBlockQ8Avx2<kType>(row + b * kBytes);
    const BlockQ8Avx2 second = LoadBlockQ8Avx2<kType>(row + (b + 1) * kBytes);
    acc0 = _mm256_fmadd_ps(BlockProductsAvx2<kType>(first, y + b * PORTA_QBLOCK),
                           _mm256_set1_ps(first.d * d[b]), acc0);
    acc1 = _mm256_fmadd_ps(BlockProductsAvx2<kType>(second, y + (b + 1) * PORTA_QBLOCK),
                           _mm256_set1_ps(second.d * d[b + 1]), acc1);
    extra0 += first.per_s * s[b];
    extra1 += second.per_s * s[b + 1];
  }
  if (b < blocks) {
    const BlockQ8Avx2 last = LoadBlockQ8Avx2<kType>(row + b * kBytes);
    acc0 = _mm256_fmadd_ps(BlockProductsAvx2<kType>(last, y + b * PORTA_QBLOCK),
                           _mm256_set1_ps(last.d * d[b]), acc0);
    extra0 += last.per_s * s[b];
  }
  return LaneSumAvx2(_mm256_add_ps(acc0, acc1)) + (extra0 + extra1);
}
#endif

#if defined(PORTA_HOST_AVX2)
// sums[i] = dot(row, A's row r0 + i) for i < count, with A rounded to Q8: tiles of four rows of
// A, then two, then one.
template <uint32_t kType, uint64_t kBytes>
void DotQ8Avx2(const uint8_t* row, uint64_t blocks, const Q8Rows& a, uint32_t r0, uint32_t count,
               float* sums) {
  uint32_t r = 0;
  for (; r + 4 <= count; r += 4) DotQ8TileAvx2<kType, kBytes, 4>(row, blocks, a, r0 + r, sums + r);
  if (r + 2 <= count) {
    DotQ8TileAvx2<kType, kBytes, 2>(row, blocks, a, r0 + r, sums + r);
    r += 2;
  }
  if (r < count) sums[r] = DotQ8OneAvx2<kType, kBytes>(row, blocks, a, r0 + r);
}
#endif

using DotQ8Fn = void (*)(const uint8_t*, uint64_t, const Q8Rows&, uint32_t, uint32_t, float*);

// The Q8 product routine for weights of |dtype| on this CPU.
DotQ8Fn DotQ8For(uint32_t dtype) {
#if defined(PORTA_HOST_AVX2)
  if (HasAvx2()) {
    return dtype == PORTA_DT_Q4_0   ? DotQ8Avx2<PORTA_DT_Q4_0, PORTA_Q4_0_BYTES>
           : dtype == PORTA_DT_Q4_1 ? DotQ8Avx2<PORTA_DT_Q4_1, PORTA_Q4_1_BYTES>
                                    : DotQ8Avx2<PORTA_DT_Q8_0, PORTA_Q8_0_BYTES>;
  }
#endif
  return dtype == PORTA_DT_Q4_0   ? DotQ8Scalar<PORTA_DT_Q4_0, PORTA_Q4_0_BYTES>
         : dtype == PORTA_DT_Q4_1 ? DotQ8Scalar<PORTA_DT_Q4_1, PORTA_Q4_1_BYTES>
                                  : DotQ8Scalar<PORTA_DT_Q8_0, PORTA_Q8_0_BYTES>;
}

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
  const bool f32_epilogue =
      dout == PORTA_DT_F32 && act == 0 && (!has_bias || dbias == PORTA_DT_F32);
  const uint64_t o_rs = p.o_rs, o_cs = p.o_cs;
  const float alpha = p.alpha, beta = p.beta;
  // Rows of A in tiles of eight against a few weight rows at a time: a tile and the weight rows
  // stay in L1 while each is reused (32 rows of A at K = 576 would not fit).
  constexpr uint64_t kRowChunk = 16;
  constexpr uint32_t kTileRows = 8;
  float sums[kRowChunk][kMaxRows];
  const DotRowFn dot_row = DotRowFor(db);
  // With PORTA_MM_FLAG_QUANTIZE_A, A's rows rounded to Q8 once per call.
  const bool q8 = (p.flags & PORTA_MM_FLAG_QUANTIZE_A) != 0;
  thread_local Q8Rows q8_rows;
  if (q8) QuantizeRows(rows_a, lda, mc, p.K, &q8_rows);
  const DotQ8Fn dot_q8 = DotQ8For(db);
  for (uint64_t chunk = n0; chunk < n1; chunk += kRowChunk) {
    const uint64_t chunk_end = std::min(n1, chunk + kRowChunk);
    for (uint32_t t = 0; t < mc; t += kTileRows) {
      const uint32_t tile = std::min(kTileRows, mc - t);
      for (uint64_t n = chunk; n < chunk_end; ++n) {
        const uint8_t* row = b + b_base + n * p.b_rs * block_bytes;
        if (q8) {
          dot_q8(row, blocks, q8_rows, t, tile, &sums[n - chunk][t]);
        } else {
          dot_row(row, blocks, rows_a + t * lda, lda, tile, &sums[n - chunk][t]);
        }
      }
    }
    if (f32_epilogue) {
      // The common case (f32 out and bias, no activation) without the per-element type switch.
      float* o = static_cast<float*>(out);
      const auto* bias_f = static_cast<const float*>(bias);
      for (uint64_t n = chunk; n < chunk_end; ++n) {
        const float bias_n = has_bias ? bias_f[p.bias_offset + n * p.bias_stride] : 0.0f;
        for (uint32_t m = 0; m < mc; ++m) {
          float& value = o[o_base + m * o_rs + n * o_cs];
          value = alpha * sums[n - chunk][m] + (has_beta ? beta * value : 0.0f) + bias_n;
        }
      }
      continue;
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
