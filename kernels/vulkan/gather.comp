// porta_gather (kernels/common/params.h): embedding lookup. A linear kernel over n_idx * dim items:
// item (j, c) copies column c of the table row named by index j, or writes 0 for an index outside
// [0, vocab).
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(push_constant) uniform Params { PORTA_GLSL_PARAMS(PORTA_GATHER_PARAMS) } p;

PORTA_BUFFER(readonly, 0, t)
PORTA_BUFFER(readonly, 1, idx)
PORTA_BUFFER(, 2, o)
PORTA_LOADER(t)
PORTA_STORER(o)

void main() {
  uint item;
  if (!porta_linear_item(p.n_idx * p.dim, item)) return;
  const uint j = item / p.dim;
  const uint c = item % p.dim;
  const uvec3 jc = porta_coords3(j, PORTA_U3(p.idx_shape));
  const int v = idx_i[p.idx_offset + porta_dot3(jc, PORTA_U3(p.idx_strides))];
  const uint io = p.out_offset + jc.x * p.out_strides[0] + jc.y * p.out_strides[1] +
                  jc.z * p.out_strides[2] + c * p.out_strides[3];
  float value = 0.0;
  if (v >= 0 && uint(v) < p.vocab) {
    const uint it = p.t_offset + uint(v) * p.t_strides[0] + c * p.t_strides[1];
    value = t_load(porta_byte(p.dtypes, 0u), it);
  }
  o_store(porta_byte(p.dtypes, 2u), io, value);
}
