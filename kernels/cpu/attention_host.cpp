// Host kernel porta_attention: one call computes one query row: the scores, their softmax and the
// weighted sum of the value rows. f32 key and value rows (contiguous by the contract) go through
// the vectorized row loops of vector_math.h in one call each; other dtypes are converted row by
// row.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "kernels/cpu/host_common.h"
#include "kernels/cpu/host_kernels.h"
#include "kernels/cpu/vector_math.h"

namespace porta::ops::host {
namespace {

// The |count| contiguous elements at |base| of a buffer of |dtype| as f32: the buffer itself when
// it holds f32, else converted into |scratch|.
const float* RowF32(const void* buffer, uint32_t dtype, uint64_t base, uint64_t count,
                    std::vector<float>* scratch) {
  if (dtype == PORTA_DT_F32) return static_cast<const float*>(buffer) + base;
  scratch->resize(count);
  for (uint64_t i = 0; i < count; ++i) (*scratch)[i] = Load(buffer, dtype, base + i);
  return scratch->data();
}

#if defined(PORTA_HOST_AVX512)
// AVX-512 forms of the two row loops for head sizes that are multiples of 16 (the models' 32 and
// 64). The scores take sixteen keys at a time and sum each key's products with one transposing
// add tree instead of a horizontal sum per key; the weighted value sum keeps the output row in
// registers. Per query row of 128 keys at D = 32 this is about a fifth of the generic loops.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#if !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

// Lane r of the result: the sum of the lanes of s[r], for r < 16.
[[gnu::always_inline]] PORTA_HOST_AVX512_TARGET inline __m512 SumEach16(const __m512* s) {
  __m512 x[8], y[4], z[2];
  for (int i = 0; i < 8; ++i) {
    // Per 128-bit chunk: even lanes hold partial sums of s[2i], odd lanes of s[2i + 1].
    x[i] = _mm512_add_ps(_mm512_unpacklo_ps(s[2 * i], s[2 * i + 1]),
                         _mm512_unpackhi_ps(s[2 * i], s[2 * i + 1]));
  }
  for (int i = 0; i < 4; ++i) {
    // Per chunk: lanes 0..3 hold partial sums of s[4i..4i+3].
    const __m512d a = _mm512_castps_pd(x[2 * i]), b = _mm512_castps_pd(x[2 * i + 1]);
    y[i] = _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(a, b)),
                         _mm512_castpd_ps(_mm512_unpackhi_pd(a, b)));
  }
  for (int i = 0; i < 2; ++i) {
    z[i] = _mm512_add_ps(_mm512_shuffle_f32x4(y[2 * i], y[2 * i + 1], 0x88),
                         _mm512_shuffle_f32x4(y[2 * i], y[2 * i + 1], 0xdd));
  }
  return _mm512_add_ps(_mm512_shuffle_f32x4(z[0], z[1], 0x88),
                       _mm512_shuffle_f32x4(z[0], z[1], 0xdd));
}

PORTA_HOST_AVX512_TARGET void DotRowsAvx512(const float* q, const float* rows, uint64_t stride,
                                            uint64_t count, uint64_t n, float scale, float* out) {
  const __m512 scale_v = _mm512_set1_ps(scale);
  for (uint64_t j0 = 0; j0 < count; j0 += 16) {
    const uint32_t live = static_cast<uint32_t>(std::min<uint64_t>(16, count - j0));
    __m512 s[16];
    for (int r = 0; r < 16; ++r) s[r] = _mm512_setzero_ps();
    for (uint64_t d = 0; d < n; d += 16) {
      const __m512 qd = _mm512_loadu_ps(q + d);
      for (uint32_t r = 0; r < live; ++r)
        s[r] = _mm512_fmadd_ps(qd, _mm512_loadu_ps(rows + (j0 + r) * stride + d), s[r]);
    }
    const __mmask16 keep = static_cast<__mmask16>((1u << live) - 1u);
    _mm512_mask_storeu_ps(out + j0, keep, _mm512_mul_ps(SumEach16(s), scale_v));
  }
}

// acc (n <= 64) += w[j] * rows[j * stride ...], skipping zero weights.
PORTA_HOST_AVX512_TARGET void AxpyRowsAvx512(const float* w, const float* rows, uint64_t stride,
                                             uint64_t count, uint64_t n, float* acc) {
  const uint32_t vectors = static_cast<uint32_t>(n / 16);
  __m512 a[4];
  for (uint32_t i = 0; i < vectors; ++i) a[i] = _mm512_loadu_ps(acc + 16 * i);
  for (uint64_t j = 0; j < count; ++j) {
    if (w[j] == 0.0f) continue;
    const __m512 wj = _mm512_set1_ps(w[j]);
    const float* row = rows + j * stride;
    for (uint32_t i = 0; i < vectors; ++i)
      a[i] = _mm512_fmadd_ps(wj, _mm512_loadu_ps(row + 16 * i), a[i]);
  }
  for (uint32_t i = 0; i < vectors; ++i) _mm512_storeu_ps(acc + 16 * i, a[i]);
}
#pragma GCC diagnostic pop
#endif

#if defined(PORTA_HOST_AVX2)
// AVX2 forms of the two row loops for head sizes that are multiples of 8 (up to 64 for the value
// sum): the scores take eight keys at a time and sum each key's products with one transposing
// add tree; the weighted value sum keeps the output row in registers.

// Lane r of the result: the sum of the lanes of s[r], for r < 8.
[[gnu::always_inline]] PORTA_HOST_AVX2_TARGET inline __m256 SumEach8(const __m256* s) {
  // hadd pairs neighbouring lanes; two rounds leave, per 128-bit half, one partial sum of each of
  // four rows, and the halves are then added across.
  const __m256 t01 = _mm256_hadd_ps(s[0], s[1]), t23 = _mm256_hadd_ps(s[2], s[3]);
  const __m256 t45 = _mm256_hadd_ps(s[4], s[5]), t67 = _mm256_hadd_ps(s[6], s[7]);
  const __m256 u0 = _mm256_hadd_ps(t01, t23), u1 = _mm256_hadd_ps(t45, t67);
  return _mm256_add_ps(_mm256_permute2f128_ps(u0, u1, 0x20), _mm256_permute2f128_ps(u0, u1, 0x31));
}

PORTA_HOST_AVX2_TARGET void DotRowsAvx2(const float* q, const float* rows, uint64_t stride,
                                        uint64_t count, uint64_t n, float scale, float* out) {
  const __m256 scale_v = _mm256_set1_ps(scale);
  for (uint64_t j0 = 0; j0 < count; j0 += 8) {
    const uint32_t live = static_cast<uint32_t>(std::min<uint64_t>(8, count - j0));
    __m256 s[8];
    for (int r = 0; r < 8; ++r) s[r] = _mm256_setzero_ps();
    if (live == 8) {
      // Unrolled, so that the sums stay in registers.
      for (uint64_t d = 0; d < n; d += 8) {
        const __m256 qd = _mm256_loadu_ps(q + d);
#pragma GCC unroll 8
        for (uint32_t r = 0; r < 8; ++r)
          s[r] = _mm256_fmadd_ps(qd, _mm256_loadu_ps(rows + (j0 + r) * stride + d), s[r]);
      }
    } else {
      for (uint64_t d = 0; d < n; d += 8) {
        const __m256 qd = _mm256_loadu_ps(q + d);
        for (uint32_t r = 0; r < live; ++r)
          s[r] = _mm256_fmadd_ps(qd, _mm256_loadu_ps(rows + (j0 + r) * stride + d), s[r]);
      }
    }
    const __m256 sums = _mm256_mul_ps(SumEach8(s), scale_v);
    if (live == 8) {
      _mm256_storeu_ps(out + j0, sums);
    } else {
      alignas(32) float lanes[8];
      _mm256_store_ps(lanes, sums);
      for (uint32_t r = 0; r < live; ++r) out[j0 + r] = lanes[r];
    }
  }
}

// acc (n = 8 kVectors) += w[j] * rows[j * stride ...], skipping zero weights.
template <int kVectors>
PORTA_HOST_AVX2_TARGET void AxpyRowsAvx2(const float* w, const float* rows, uint64_t stride,
                                         uint64_t count, float* acc) {
  __m256 a[kVectors];
#pragma GCC unroll 8
  for (int i = 0; i < kVectors; ++i) a[i] = _mm256_loadu_ps(acc + 8 * i);
  for (uint64_t j = 0; j < count; ++j) {
    if (w[j] == 0.0f) continue;
    const __m256 wj = _mm256_set1_ps(w[j]);
    const float* row = rows + j * stride;
#pragma GCC unroll 8
    for (int i = 0; i < kVectors; ++i)
      a[i] = _mm256_fmadd_ps(wj, _mm256_loadu_ps(row + 8 * i), a[i]);
  }
#pragma GCC unroll 8
  for (int i = 0; i < kVectors; ++i) _mm256_storeu_ps(acc + 8 * i, a[i]);
}

// AxpyRowsAvx2 for n a multiple of 8 up to 64.
void AxpyRowsAvx2For(const float* w, const float* rows, uint64_t stride, uint64_t count, uint64_t n,
                     float* acc) {
  using Fn = void (*)(const float*, const float*, uint64_t, uint64_t, float*);
  static constexpr Fn kByVectors[8] = {AxpyRowsAvx2<1>, AxpyRowsAvx2<2>, AxpyRowsAvx2<3>,
                                       AxpyRowsAvx2<4>, AxpyRowsAvx2<5>, AxpyRowsAvx2<6>,
                                       AxpyRowsAvx2<7>, AxpyRowsAvx2<8>};
  kByVectors[n / 8 - 1](w, rows, stride, count, acc);
}
#endif

int32_t AttentionKernel(const porta_host_group_t* group) {
  const PortaAttentionParams& p = ParamsOf<PortaAttentionParams>(group);
  const uint64_t g = GroupIndex(group);
  if (g >= uint64_t{p.B} * p.Hq * p.Lq) return 0;
  const uint64_t i = g % p.Lq, h = g / p.Lq % p.Hq, b = g / (uint64_t{p.Lq} * p.Hq);
  const uint64_t hk = h / (p.Hq / p.Hkv);
  const void* q = Arg(group, 0);
  const void* k = Arg(group, 1);
  const void* v = Arg(group, 2);
  const void* mask = Arg(group, 3);
  void* out = Arg(group, 4);
  const uint32_t dq = Byte(p.dtypes, 0), dk = Byte(p.dtypes, 1), dv = Byte(p.dtypes, 2),
                 dout = Byte(p.dtypes, 3), dm = (p.flags >> 8) & 0xffu;
  const uint64_t qb = p.q_offset + b * p.q_strides[0] + h * p.q_strides[1] + i * p.q_strides[2];
  const uint64_t kb = p.k_offset + b * p.k_strides[0] + hk * p.k_strides[1];
  const uint64_t vb = p.v_offset + b * p.v_strides[0] + hk * p.v_strides[1];
  const uint64_t mb = p.m_offset + b * p.m_strides[0] + h * p.m_strides[1] + i * p.m_strides[2];
  const uint64_t ob = p.o_offset + b * p.o_strides[0] + h * p.o_strides[1] + i * p.o_strides[2];
  // Scratch per pool thread, sized once for the longest rows seen.
  thread_local std::vector<float> query_scratch, row_scratch, scores, acc;
  const float* query = RowF32(q, dq, qb, p.D, &query_scratch);
  // Keys visible to this query: all, or under the causal rule the first i + (Lk - Lq) + 1.
  const int64_t limit =
      static_cast<int64_t>(i) + static_cast<int64_t>(p.Lk) - static_cast<int64_t>(p.Lq) + 1;
  const uint64_t visible =
      (p.flags & PORTA_ATTN_FLAG_CAUSAL)
          ? static_cast<uint64_t>(std::max<int64_t>(0, std::min<int64_t>(limit, p.Lk)))
          : p.Lk;
  scores.resize(visible);
  acc.assign(p.Dv, 0.0f);
  // f32 keys and values (the usual case) go through the row loops whole; other dtypes a row at a
  // time through f32 copies.
#if defined(PORTA_HOST_AVX512)
  const bool wide = HasAvx512();
#else
  const bool wide = false;
#endif
#if defined(PORTA_HOST_AVX2)
  const bool avx2 = !wide && HasAvx2();
#else
  const bool avx2 = false;
#endif
  if (dk == PORTA_DT_F32 && wide && p.D % 16 == 0) {
#if defined(PORTA_HOST_AVX512)
    DotRowsAvx512(query, static_cast<const float*>(k) + kb, p.k_strides[2], visible, p.D, p.scale,
                  scores.data());
#endif
  } else if (dk == PORTA_DT_F32 && avx2 && p.D % 8 == 0) {
#if defined(PORTA_HOST_AVX2)
    DotRowsAvx2(query, static_cast<const float*>(k) + kb, p.k_strides[2], visible, p.D, p.scale,
                scores.data());
#endif
  } else if (dk == PORTA_DT_F32) {
    DotRows(query, static_cast<const float*>(k) + kb, p.k_strides[2], visible, p.D, p.scale,
            scores.data());
  } else {
    for (uint64_t j = 0; j < visible; ++j) {
      const float* key = RowF32(k, dk, kb + j * p.k_strides[2], p.D, &row_scratch);
      scores[j] = Dot(query, key, p.D) * p.scale;
    }
  }
  if ((p.flags & PORTA_ATTN_FLAG_MASK) && dm == PORTA_DT_F32) {
    Axpy(1.0f, static_cast<const float*>(mask) + mb, scores.data(), visible);
  } else if (p.flags & PORTA_ATTN_FLAG_MASK) {
    for (uint64_t j = 0; j < visible; ++j) scores[j] += Load(mask, dm, mb + j);
  }
  const float max = RowMax(scores.data(), visible);
  if (max != -std::numeric_limits<float>::infinity()) {
    const float sum = ExpShiftSum(scores.data(), visible, max);
    if (dv == PORTA_DT_F32 && wide && p.Dv % 16 == 0 && p.Dv <= 64) {
#if defined(PORTA_HOST_AVX512)
      AxpyRowsAvx512(scores.data(), static_cast<const float*>(v) + vb, p.v_strides[2], visible,
                     p.Dv, acc.data());
#endif
    } else if (dv == PORTA_DT_F32 && avx2 && p.Dv % 8 == 0 && p.Dv <= 64) {
#if defined(PORTA_HOST_AVX2)
      AxpyRowsAvx2For(scores.data(), static_cast<const float*>(v) + vb, p.v_strides[2], visible,
                      p.Dv, acc.data());
#endif
    } else if (dv == PORTA_DT_F32) {
      AxpyRows(scores.data(), static_cast<const float*>(v) + vb, p.v_strides[2], visible, p.Dv,
               acc.data());
    } else {
      for (uint64_t j = 0; j < visible; ++j) {
        if (scores[j] == 0.0f) continue;
        Axpy(scores[j], RowF32(v, dv, vb + j * p.v_strides[2], p.Dv, &row_scratch), acc.data(),
             p.Dv);
      }
    }
    ScaleRow(acc.data(), p.Dv, 1.0f / sum);
  }
  for (uint64_t d = 0; d < p.Dv; ++d) Store(out, dout, ob + d, acc[d]);
  return 0;
}

}  // namespace

porta_host_kernel_fn AttentionHostKernel() {
  return AttentionKernel;
}

}  // namespace porta::ops::host
