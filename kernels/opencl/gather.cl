// porta_gather: embedding lookup, out[j][c] = table[indices[j]][c] with zero rows for indices
// outside [0, vocab) (kernels/common/params.h, PORTA_GATHER_PARAMS).

PK_KERNEL porta_gather(PK_GLOBAL const uchar* table, PK_GLOBAL const uchar* indices,
                       PK_GLOBAL uchar* out, PortaGatherParams p) {
  const uint i = pk_linear_item();
  if (i >= p.n_idx * p.dim) return;
  uint c;
  uint j[3];
  pk_unravel3(pk_divmod(i, p.dim, &c), p.idx_shape, j);
  const int v = pk_load_i32(indices, p.idx_offset + pk_dot3(j, p.idx_strides));
  const uint oi = p.out_offset + pk_dot3(j, p.out_strides) + c * p.out_strides[3];
  const uint dto = pk_byte(p.dtypes, 2u);
  if (v < 0 || (uint)v >= p.vocab) {
    pk_store(out, dto, oi, 0.0f);
  } else {
    pk_copy_convert(out, dto, oi, table, pk_byte(p.dtypes, 0u),
                    p.t_offset + (uint)v * p.t_strides[0] + c * p.t_strides[1]);
  }
}
