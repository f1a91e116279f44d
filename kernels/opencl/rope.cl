// porta_rope: rotary position embedding of pairs of a head's elements, NeoX (i, i + rot/2) or
// interleaved (2i, 2i + 1), with the pairs past rot_dims copied (kernels/common/params.h,
// PORTA_ROPE_PARAMS).

PK_KERNEL porta_rope(PK_GLOBAL const uchar* x, PK_GLOBAL const uchar* positions,
                     PK_GLOBAL uchar* out, PortaRopeParams p) {
  const uint i = pk_linear_item();
  if (i >= p.n) return;
  const uint half_dim = p.head_dim >> 1;
  uint k;
  uint r[3];
  pk_unravel3(pk_divmod(i, half_dim, &k), p.shape, r);
  const uint xb = p.x_offset + pk_dot3(r, p.x_strides);
  const uint ob = p.out_offset + pk_dot3(r, p.out_strides);
  const uint xs = p.x_strides[3];
  const uint os = p.out_strides[3];
  const uint dtx = pk_byte(p.dtypes, 0u);
  const uint dto = pk_byte(p.dtypes, 2u);
  const uint half_rot = p.rot_dims >> 1;
  if (k >= half_rot) {
    pk_copy_convert(out, dto, ob + 2u * k * os, x, dtx, xb + 2u * k * xs);
    pk_copy_convert(out, dto, ob + (2u * k + 1u) * os, x, dtx, xb + (2u * k + 1u) * xs);
    return;
  }
  const uint e0 = p.mode == PORTA_ROPE_NEOX ? k : 2u * k;
  const uint e1 = p.mode == PORTA_ROPE_NEOX ? k + half_rot : 2u * k + 1u;
  // Selected rather than indexed, which would put r in (slow) private memory on GPUs.
  const uint i_seq = p.seq_axis == 0u ? r[0] : p.seq_axis == 1u ? r[1] : r[2];
  const int pos = pk_load_i32(positions, p.pos_offset + i_seq * p.pos_stride);
  const float theta = (float)pos * p.freq_scale * PK_EXP2((float)k * p.inv_freq_log2);
  const float cs = PK_COS(theta);
  const float sn = PK_SIN(theta);
  const float x0 = pk_load(x, dtx, xb + e0 * xs);
  const float x1 = pk_load(x, dtx, xb + e1 * xs);
  pk_store(out, dto, ob + e0 * os, x0 * cs - x1 * sn);
  pk_store(out, dto, ob + e1 * os, x0 * sn + x1 * cs);
}
