// porta_softmax: (log-)softmax over each row of a strided tensor with optional scale, additive
// mask and bottom-right causal masking; one work-group per row (kernels/common/params.h,
// PORTA_SOFTMAX_PARAMS). One pass finds the row's max and the sum of exp(v - max) together
// (online rescaling), a second writes the outputs.

// Folds value v into the running (max m, sum s of exp(. - m)). -inf contributes nothing; +inf
// makes the sum NaN as exp(inf - inf) would, and a NaN makes it NaN.
PK_FN void porta_softmax_fold(float v, float* m, float* s) {
  if (v > *m) {
    *s = *s * PK_EXP(*m - v) + (v == PK_INF ? PK_NAN : 1.0f);
    *m = v;
  } else if (v != -PK_INF) {
    *s += PK_EXP(v - *m);
  }
}

PK_KERNEL porta_softmax(PK_GLOBAL const uchar* x, PK_GLOBAL const uchar* mask, PK_GLOBAL uchar* out,
                        PortaSoftmaxParams p) {
  PK_SHARED float maxes[PORTA_MAX_WG];
  PK_SHARED float sums[PORTA_MAX_WG];
  const uint g = pk_group_linear();
  // A surplus group of the 2D grid sees an empty row (see prelude.h on barriers).
  const uint cols = g < p.rows ? p.cols : 0u;
  const uint lid = PK_LID0;
  const uint wg = PK_LSIZE0;
  uint r[3];
  pk_unravel3(g, p.row_shape, r);
  const uint xb = p.x_offset + pk_dot3(r, p.x_strides);
  const uint mb = p.m_offset + pk_dot3(r, p.m_strides);
  const uint ob = p.out_offset + pk_dot3(r, p.out_strides);
  const uint dtx = pk_byte(p.dtypes, 0u);
  const uint dtm = pk_byte(p.dtypes, 1u);
  const uint dto = pk_byte(p.dtypes, 2u);
  const int use_mask = (p.flags & PORTA_SM_FLAG_MASK) != 0u;
  // Columns from |visible| on are causally masked (c > r2 + causal_shift).
  uint visible = cols;
  if ((p.flags & PORTA_SM_FLAG_CAUSAL) != 0u) {
    const int limit = (int)r[2] + p.causal_shift + 1;
    visible = limit <= 0 ? 0u : pk_minu(cols, (uint)limit);
  }

  float m = -PK_INF;
  float s = 0.0f;
  for (uint c = lid; c < visible; c += wg) {
    float v = pk_load(x, dtx, xb + c * p.x_strides[3]) * p.scale;
    if (use_mask) v += pk_load(mask, dtm, mb + c * p.m_strides[3]);
    porta_softmax_fold(v, &m, &s);
  }
  maxes[lid] = m;
  sums[lid] = s;
  PK_BARRIER();
  for (uint half_wg = wg >> 1; half_wg > 0u; half_wg >>= 1) {
    if (lid < half_wg) {
      const float m1 = maxes[lid];
      const float m2 = maxes[lid + half_wg];
      const float mm = m1 > m2 ? m1 : m2;
      // Equal maxima (both -inf included) keep their sums unscaled instead of exp(-inf + inf).
      sums[lid] = sums[lid] * (m1 == mm ? 1.0f : PK_EXP(m1 - mm)) +
                  sums[lid + half_wg] * (m2 == mm ? 1.0f : PK_EXP(m2 - mm));
      maxes[lid] = mm;
    }
    PK_BARRIER();
  }
  m = maxes[0];
  s = sums[0];

  const int log_mode = (p.flags & PORTA_SM_FLAG_LOG) != 0u;
  // Only a row with no value above -inf has a zero sum.
  const int empty = s == 0.0f;
  const float log_s = PK_LOG(s);
  for (uint c = lid; c < cols; c += wg) {
    float v = -PK_INF;
    if (c < visible) {
      v = pk_load(x, dtx, xb + c * p.x_strides[3]) * p.scale;
      if (use_mask) v += pk_load(mask, dtm, mb + c * p.m_strides[3]);
    }
    float y;
    if (empty) {
      y = log_mode ? -PK_INF : 0.0f;
    } else {
      y = log_mode ? v - m - log_s : PK_EXP(v - m) / s;
    }
    pk_store(out, dto, ob + c * p.out_strides[3], y);
  }
}
