// porta_qdequant: block-quantized rows to f32, f16 or bf16, for porta_ops_cast and the embedding
// of a quantized table (kernels/common/params.h, PORTA_QDEQUANT_PARAMS). One element per
// work-item.

PK_KERNEL porta_qdequant(PK_GLOBAL const uchar* src, PK_GLOBAL const uchar* indices,
                         PK_GLOBAL uchar* out, PortaQdequantParams p) {
  const uint i = pk_linear_item();
  if (i >= p.n) return;
  uint c;
  uint j[3];
  pk_unravel3(pk_divmod(i, p.dim, &c), p.row_shape, j);
  const uint oi = p.out_offset + pk_dot3(j, p.out_strides) + c * p.out_strides[3];
  const uint dto = pk_byte(p.dtypes, 2u);
  uint row_block = pk_dot3(j, p.src_strides);
  if ((p.flags & PORTA_QD_FLAG_GATHER) != 0u) {
    const int v = pk_load_i32(indices, p.idx_offset + pk_dot3(j, p.idx_strides));
    if (v < 0 || (uint)v >= p.vocab) {
      pk_store(out, dto, oi, 0.0f);
      return;
    }
    row_block = (uint)v * p.src_strides[0];
  }
  const uint dts = pk_byte(p.dtypes, 0u);
  const uint block = p.src_offset + (row_block + (c >> 5)) * pk_q_block_bytes(dts);
  pk_store(out, dto, oi, pk_q_element(src, dts, block, c & 31u));
}
