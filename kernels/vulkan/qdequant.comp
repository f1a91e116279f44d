// porta_qdequant (kernels/common/params.h): block-quantized rows to f32, f16 or bf16, for
// porta_ops_cast and the embedding of a quantized table. A linear kernel, one element per
// invocation.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(push_constant) uniform Params { PORTA_GLSL_PARAMS(PORTA_QDEQUANT_PARAMS) } p;

PORTA_QBUFFER(0, src)
PORTA_BUFFER(readonly, 1, idx)
PORTA_BUFFER(, 2, o)
PORTA_STORER(o)

void main() {
  uint item;
  if (!porta_linear_item(p.n, item)) return;
  const uint j = item / p.dim;
  const uint c = item - j * p.dim;
  const uvec3 jc = porta_coords3(j, PORTA_U3(p.row_shape));
  const uint io = p.out_offset + porta_dot3(jc, PORTA_U3(p.out_strides)) + c * p.out_strides[3];
  const uint dto = porta_byte(p.dtypes, 2u);
  uint row_block = porta_dot3(jc, PORTA_U3(p.src_strides));
  if ((p.flags & PORTA_QD_FLAG_GATHER) != 0u) {
    const int v = idx_i[p.idx_offset + porta_dot3(jc, PORTA_U3(p.idx_strides))];
    if (v < 0 || uint(v) >= p.vocab) {
      o_store(dto, io, 0.0);
      return;
    }
    row_block = uint(v) * p.src_strides[0];
  }
  const uint dts = porta_byte(p.dtypes, 0u);
  const uint block = p.src_offset + (row_block + (c >> 5)) * porta_q_block_bytes(dts);
  o_store(dto, io, src_qelement(dts, block, c & 31u));
}
