// porta_attention_direct, OpenCL C only: the direct attention variant for OpenCL devices that run
// on a CPU (PoCL). Same contract and parameters as kernels/opencl/attention.cl
// (PORTA_ATTENTION_PARAMS), but a linear grid of one work-item per query row (row g * WG + lid,
// rows ordered b, h, i with i fastest, so that a work-group's rows share their keys and values),
// no local memory and no barrier. The fused kernel spreads a row's keys over a work-group and
// meets at barriers twice per block of keys; on PoCL (2-core AMD EPYC) that kernel took 110-150 ms
// for causal 12 x 512 x 512 heads of 64, this one 12 ms.
//
// A work-item keeps its query row and its output accumulators as float8 vectors (head sizes D,
// Dv <= 256: 32 of them), and walks the keys in blocks of 8 with an online softmax: the 8 scores
// come from 8 dot products that share each load of the query, the block's maximum rescales the
// accumulators once, and each accumulator vector then takes the block's 8 value rows.

#define PK_AD_CHUNKS 32  // float8 vectors of the longest head (256)

// Elements i .. i + n - 1 (n <= 8) of a tensor of dtype dt, zeros after them.
PK_FN __attribute__((always_inline)) float8 pk_ad_load8(PK_GLOBAL const uchar* p, uint dt, uint i,
                                                        uint n) {
  if (n == 8u) {
    if (dt == PORTA_DT_F32) return pk_f32x8(p, i);
    if (dt == PORTA_DT_F16) return pk_f16x8(p, i);
    if (dt == PORTA_DT_BF16) return pk_bf16x8(p, i);
  }
  float e[8];
  PK_UNROLL
  for (uint t = 0; t < 8u; ++t) e[t] = t < n ? pk_load(p, dt, i + t) : 0.0f;
  return vload8(0, e);
}

// The scan over the keys for k and v of dtypes DTK and DTV; WHOLE: D and Dv are multiples of 8.
// Updates m (the running max of the scores), l (the running sum of exp(score - m)) and acc.
#define PK_AD_SCAN(DTK, DTV, WHOLE)                                                             \
  for (uint j0 = 0; j0 < keys; j0 += 8u) {                                                      \
    const uint nk = pk_minu(8u, keys - j0);                                                     \
    /* Rows past the last key repeat it; their scores are -inf, so they weigh nothing. */       \
    uint kr[8];                                                                                 \
    uint vr[8];                                                                                 \
    PK_UNROLL                                                                                   \
    for (uint t = 0; t < 8u; ++t) {                                                             \
      const uint j = j0 + pk_minu(t, nk - 1u);                                                  \
      kr[t] = row.k + j * p.k_strides[2];                                                       \
      vr[t] = row.v + j * p.v_strides[2];                                                       \
    }                                                                                           \
    float8 dots[8];                                                                             \
    PK_UNROLL                                                                                   \
    for (uint t = 0; t < 8u; ++t) dots[t] = (float8)(0.0f);                                     \
    for (uint c = 0; c < nd; ++c) {                                                             \
      const uint n = WHOLE ? 8u : pk_minu(8u, p.D - 8u * c);                                    \
      const float8 qc = qv[c];                                                                  \
      PK_UNROLL                                                                                 \
      for (uint t = 0; t < 8u; ++t)                                                             \
        dots[t] = fma(qc, pk_ad_load8(k, DTK, kr[t] + 8u * c, n), dots[t]);                     \
    }                                                                                           \
    /* The 8 dot products' sums as one vector (a transposed tree of pairwise sums). */          \
    const float8 u0 = (float8)(dots[0].even + dots[0].odd, dots[1].even + dots[1].odd);         \
    const float8 u1 = (float8)(dots[2].even + dots[2].odd, dots[3].even + dots[3].odd);         \
    const float8 u2 = (float8)(dots[4].even + dots[4].odd, dots[5].even + dots[5].odd);         \
    const float8 u3 = (float8)(dots[6].even + dots[6].odd, dots[7].even + dots[7].odd);         \
    const float8 w0 = (float8)(u0.even + u0.odd, u1.even + u1.odd);                             \
    const float8 w1 = (float8)(u2.even + u2.odd, u3.even + u3.odd);                             \
    float8 s = p.scale * (float8)(w0.even + w0.odd, w1.even + w1.odd);                          \
    if (use_mask) {                                                                             \
      float mv[8];                                                                              \
      PK_UNROLL                                                                                 \
      for (uint t = 0; t < 8u; ++t) mv[t] = t < nk ? pk_load(mask, dtm, row.m + j0 + t) : 0.0f; \
      s += vload8(0, mv);                                                                       \
    }                                                                                           \
    /* Lanes past the last key score -inf. */                                                   \
    s = select(s, (float8)(-PK_INF), (int8)(0, 1, 2, 3, 4, 5, 6, 7) >= (int8)((int)nk));        \
    const float4 h4 = fmax(s.lo, s.hi);                                                         \
    const float2 h2 = fmax(h4.lo, h4.hi);                                                       \
    const float m_new = pk_max(m, fmax(h2.x, h2.y));                                            \
    /* Every score so far is -inf: nothing to add yet (exp(-inf + inf) would be NaN). */        \
    if (m_new == -PK_INF) continue;                                                             \
    const float corr = m == m_new ? 1.0f : PK_EXP(m - m_new);                                   \
    /* exp(-inf - m_new) is 0: masked keys weigh nothing. */                                    \
    float e[8];                                                                                 \
    vstore8(exp(s - m_new), 0, e);                                                              \
    const float block_sum = pk_sum8(vload8(0, e));                                              \
    l = l * corr + block_sum;                                                                   \
    m = m_new;                                                                                  \
    for (uint c = 0; c < ndv; ++c) {                                                            \
      const uint n = WHOLE ? 8u : pk_minu(8u, p.Dv - 8u * c);                                   \
      float8 a = acc[c] * corr;                                                                 \
      PK_UNROLL                                                                                 \
      for (uint t = 0; t < 8u; ++t)                                                             \
        a = fma((float8)(e[t]), pk_ad_load8(v, DTV, vr[t] + 8u * c, n), a);                     \
      acc[c] = a;                                                                               \
    }                                                                                           \
  }

PK_KERNEL porta_attention_direct(PK_GLOBAL const uchar* q, PK_GLOBAL const uchar* k,
                                 PK_GLOBAL const uchar* v, PK_GLOBAL const uchar* mask,
                                 PK_GLOBAL uchar* out, PortaAttentionParams p) {
  const uint g = pk_linear_item();
  if (g >= p.B * p.Hq * p.Lq) return;
  const PkAttentionRow row = pk_attention_row(&p, g);
  const uint dtq = pk_byte(p.dtypes, 0u);
  const uint dtk = pk_byte(p.dtypes, 1u);
  const uint dtv = pk_byte(p.dtypes, 2u);
  const uint dto = pk_byte(p.dtypes, 3u);
  const uint dtm = pk_byte(p.flags, 1u);
  const int use_mask = (p.flags & PORTA_ATTN_FLAG_MASK) != 0u;
  // Chunks of 8 along D and Dv; the last may be partial (loaded with zeros after the head).
  const uint nd = (p.D + 7u) / 8u;
  const uint ndv = (p.Dv + 7u) / 8u;

  float8 qv[PK_AD_CHUNKS];
  float8 acc[PK_AD_CHUNKS];
  for (uint c = 0; c < nd; ++c)
    qv[c] = pk_ad_load8(q, dtq, row.q + 8u * c, pk_minu(8u, p.D - 8u * c));
  for (uint c = 0; c < ndv; ++c) acc[c] = (float8)(0.0f);
  // Keys past i + (Lk - Lq) are causally masked: the scan stops before them.
  const uint keys = row.keys;
  float m = -PK_INF;
  float l = 0.0f;
  // The common cases with their dtypes and whole chunks known to the compiler.
  const int whole = p.D % 8u == 0u && p.Dv % 8u == 0u;
  if (whole && dtk == PORTA_DT_F32 && dtv == PORTA_DT_F32) {
    PK_AD_SCAN(PORTA_DT_F32, PORTA_DT_F32, 1)
  } else if (whole && dtk == PORTA_DT_F16 && dtv == PORTA_DT_F16) {
    PK_AD_SCAN(PORTA_DT_F16, PORTA_DT_F16, 1)
  } else {
    PK_AD_SCAN(dtk, dtv, 0)
  }
  // l is 0 only when no key had a score above -inf.
  for (uint c = 0; c < ndv; ++c) {
    float r[8];
    vstore8(l == 0.0f ? (float8)(0.0f) : acc[c] / l, 0, r);
    const uint n = pk_minu(8u, p.Dv - 8u * c);
    for (uint t = 0; t < n; ++t) pk_store(out, dto, row.o + 8u * c + t, r[t]);
  }
}
