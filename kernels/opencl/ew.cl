// porta_ew: element-wise unary, binary (tensor or scalar operand), cast and bit-copy over a
// 4-entry shape with arbitrary strides (kernels/common/params.h, PORTA_EW_PARAMS).

PK_KERNEL porta_ew(PK_GLOBAL const uchar* a, PK_GLOBAL const uchar* b, PK_GLOBAL uchar* out,
                   PortaEwParams p) {
  const uint i = pk_linear_item();
  if (i >= p.n) return;
  uint idx[4];
  pk_unravel4(i, p.shape, idx);
  const uint ai = p.a_offset + pk_dot4(idx, p.a_strides);
  const uint oi = p.out_offset + pk_dot4(idx, p.out_strides);
  const uint dta = pk_byte(p.dtypes, 0u);
  const uint dto = pk_byte(p.dtypes, 2u);
  // A cast to the same type is the identity, so it moves bits too (exact for i32 and NaNs).
  if (p.op == PORTA_EW_COPY || (p.op == PORTA_EW_IDENTITY && dta == dto)) {
    pk_copy_bits(out, oi, a, ai, dta);
    return;
  }
  const float x = pk_load(a, dta, ai);
  float y;
  if (p.op < PORTA_EW_BINARY) {
    y = pk_unary(p.op, x);
  } else if ((p.flags & PORTA_EW_FLAG_SCALAR) == 0u) {
    const uint bi = p.b_offset + pk_dot4(idx, p.b_strides);
    y = pk_binary(p.op, x, pk_load(b, pk_byte(p.dtypes, 1u), bi));
  } else if ((p.flags & PORTA_EW_FLAG_SCALAR_LEFT) != 0u) {
    y = pk_binary(p.op, p.alpha, x);
  } else {
    y = pk_binary(p.op, x, p.alpha);
  }
  pk_store(out, dto, oi, y);
}
