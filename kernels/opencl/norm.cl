// porta_norm: LayerNorm (mean and biased variance) or RMSNorm over each row, then optional
// per-column weight and bias; one work-group per row (kernels/common/params.h,
// PORTA_NORM_PARAMS). The variance is taken around the mean in a second pass rather than as
// E[x^2] - mean^2, which cancels catastrophically when the mean dominates.

PK_KERNEL porta_norm(PK_GLOBAL const uchar* x, PK_GLOBAL const uchar* weight,
                     PK_GLOBAL const uchar* bias, PK_GLOBAL uchar* out, PortaNormParams p) {
  PK_SHARED float scratch[PORTA_MAX_WG];
  const uint g = pk_group_linear();
  // A surplus group of the 2D grid sees an empty row (see prelude.h on barriers).
  const uint cols = g < p.rows ? p.cols : 0u;
  const uint lid = PK_LID0;
  const uint wg = PK_LSIZE0;
  uint r[3];
  pk_unravel3(g, p.row_shape, r);
  const uint xb = p.x_offset + pk_dot3(r, p.x_strides);
  const uint ob = p.out_offset + pk_dot3(r, p.out_strides);
  const uint xs = p.x_strides[3];
  const uint dtx = pk_byte(p.dtypes, 0u);
  const float inv_n = 1.0f / (float)p.cols;
  const int rms = (p.flags & PORTA_NORM_FLAG_RMS) != 0u;

  float mean = 0.0f;
  if (!rms) {
    // Summing x - x[0] instead of x keeps the rounding error relative to the spread of the row,
    // not to its mean: a constant row gets its exact mean, and so exact zeros.
    const float shift = cols > 0u ? pk_load(x, dtx, xb) : 0.0f;
    float sum = 0.0f;
    for (uint c = lid; c < cols; c += wg) sum += pk_load(x, dtx, xb + c * xs) - shift;
    mean = shift + pk_group_sum(scratch, lid, wg, sum) * inv_n;
  }
  float sq = 0.0f;
  for (uint c = lid; c < cols; c += wg) {
    const float d = pk_load(x, dtx, xb + c * xs) - mean;
    sq += d * d;
  }
  const float var = pk_group_sum(scratch, lid, wg, sq) * inv_n;
  const float rstd = 1.0f / PK_SQRT(var + p.eps);

  const int use_w = (p.flags & PORTA_NORM_FLAG_WEIGHT) != 0u;
  const int use_b = (p.flags & PORTA_NORM_FLAG_BIAS) != 0u;
  const uint dtw = pk_byte(p.dtypes, 1u);
  const uint dtb = pk_byte(p.dtypes, 2u);
  const uint dto = pk_byte(p.dtypes, 3u);
  for (uint c = lid; c < cols; c += wg) {
    float y = (pk_load(x, dtx, xb + c * xs) - mean) * rstd;
    if (use_w) y *= pk_load(weight, dtw, p.w_offset + c * p.w_stride);
    if (use_b) y += pk_load(bias, dtb, p.b_offset + c * p.b_stride);
    pk_store(out, dto, ob + c * p.out_strides[3], y);
  }
}
