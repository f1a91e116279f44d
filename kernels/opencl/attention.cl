// porta_attention: fused scaled dot-product attention, one work-group per query row, streaming
// over the keys in blocks of WG with an online softmax (kernels/common/params.h,
// PORTA_ATTENTION_PARAMS). Work-item t scores key j0 + t of each block against the query row
// cached in local memory; the block's max and sum come from tree reductions; the running output
// (dims d = t, t + WG, ..., owned by work-item t) is rescaled whenever the running max grows. The
// accumulators live in local memory so that any WG handles any Dv <= 256 with one code path;
// each is read and written once per block against WG global loads, so that costs nothing.

PK_KERNEL porta_attention(PK_GLOBAL const uchar* q, PK_GLOBAL const uchar* k,
                          PK_GLOBAL const uchar* v, PK_GLOBAL const uchar* mask,
                          PK_GLOBAL uchar* out, PortaAttentionParams p) {
  PK_SHARED float q_row[256];
  PK_SHARED float acc[256];
  PK_SHARED float probs[PORTA_MAX_WG];
  PK_SHARED float scratch[PORTA_MAX_WG];
  const uint g = pk_group_linear();
  // A surplus group of the 2D grid has no query row (see prelude.h on barriers).
  const int active = g < p.B * p.Hq * p.Lq;
  const uint lid = PK_LID0;
  const uint wg = PK_LSIZE0;
  const PkAttentionRow row = pk_attention_row(&p, g);
  const uint dtq = pk_byte(p.dtypes, 0u);
  const uint dtk = pk_byte(p.dtypes, 1u);
  const uint dtv = pk_byte(p.dtypes, 2u);
  const uint dto = pk_byte(p.dtypes, 3u);
  const uint dtm = pk_byte(p.flags, 1u);
  const int use_mask = (p.flags & PORTA_ATTN_FLAG_MASK) != 0u;

  const uint dv = active ? p.Dv : 0u;
  for (uint d = lid; d < p.D && active; d += wg) q_row[d] = pk_load(q, dtq, row.q + d);
  for (uint d = lid; d < dv; d += wg) acc[d] = 0.0f;
  // Keys past i + (Lk - Lq) are causally masked: the scan stops before them.
  const uint keys = active ? row.keys : 0u;
  PK_BARRIER();

  float m = -PK_INF;  // running max of the scores
  float l = 0.0f;     // running sum of exp(score - m)
  for (uint j0 = 0; j0 < keys; j0 += wg) {
    const uint j = j0 + lid;
    float s = -PK_INF;
    if (j < keys) {
      const uint key_row = row.k + j * p.k_strides[2];
      float dot = 0.0f;
      for (uint d = 0; d < p.D; ++d) dot += q_row[d] * pk_load(k, dtk, key_row + d);
      s = p.scale * dot;
      if (use_mask) s += pk_load(mask, dtm, row.m + j);
    }
    const float m_new = pk_max(m, pk_group_max(scratch, lid, wg, s));
    // -inf scores weigh nothing, also when every score so far is -inf (exp(-inf + inf) is NaN).
    const float e = s == -PK_INF ? 0.0f : PK_EXP(s - m_new);
    probs[lid] = e;
    const float block_sum = pk_group_sum(scratch, lid, wg, e);
    const float corr = m == m_new ? 1.0f : PK_EXP(m - m_new);
    l = l * corr + block_sum;
    m = m_new;
    const uint n_keys = pk_minu(wg, keys - j0);
    for (uint d = lid; d < dv; d += wg) {
      float a = acc[d] * corr;
      uint vi = row.v + j0 * p.v_strides[2] + d;
      for (uint t = 0; t < n_keys; ++t) {
        a += probs[t] * pk_load(v, dtv, vi);
        vi += p.v_strides[2];
      }
      acc[d] = a;
    }
    // probs is rewritten by the next block.
    PK_BARRIER();
  }
  // l is 0 only when no key had a score above -inf.
  for (uint d = lid; d < dv; d += wg) pk_store(out, dto, row.o + d, l == 0.0f ? 0.0f : acc[d] / l);
}
