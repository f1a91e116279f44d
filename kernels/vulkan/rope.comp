// porta_rope (kernels/common/params.h): rotary position embedding, NeoX or interleaved pairs, with
// the dimensions past rot_dims copied. A linear kernel: one invocation per pair of a row.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(push_constant) uniform Params { PORTA_GLSL_PARAMS(PORTA_ROPE_PARAMS) } p;

PORTA_BUFFER(readonly, 0, x)
PORTA_BUFFER(readonly, 1, pos)
PORTA_BUFFER(, 2, o)
PORTA_LOADER(x)
PORTA_STORER(o)

void main() {
  uint item;
  if (!porta_linear_item(p.n, item)) return;
  const uint half_dim = p.head_dim / 2u;
  const uint row = item / half_dim;
  const uint k = item % half_dim;
  const uvec3 rc = porta_coords3(row, uvec3(p.shape[0], p.shape[1], p.shape[2]));
  const uint x_base =
      p.x_offset + rc.x * p.x_strides[0] + rc.y * p.x_strides[1] + rc.z * p.x_strides[2];
  const uint o_base =
      p.out_offset + rc.x * p.out_strides[0] + rc.y * p.out_strides[1] + rc.z * p.out_strides[2];
  const uint dtx = porta_byte(p.dtypes, 0u);
  const uint dto = porta_byte(p.dtypes, 2u);
  const uint rot_half = p.rot_dims / 2u;

  uint e0 = 2u * k;
  uint e1 = e0 + 1u;
  if (k < rot_half && p.mode == PORTA_ROPE_NEOX) {
    e0 = k;
    e1 = k + rot_half;
  }
  const float x0 = x_load(dtx, x_base + e0 * p.x_strides[3]);
  const float x1 = x_load(dtx, x_base + e1 * p.x_strides[3]);
  float y0 = x0;
  float y1 = x1;
  if (k < rot_half) {
    const uint i_seq = p.seq_axis == 0u ? rc.x : (p.seq_axis == 1u ? rc.y : rc.z);
    const float position = float(pos_i[p.pos_offset + i_seq * p.pos_stride]);
    const float theta = position * p.freq_scale * porta_exp2(float(k) * p.inv_freq_log2);
    const vec2 sc = porta_sincos(theta);
    y0 = x0 * sc.y - x1 * sc.x;
    y1 = x0 * sc.x + x1 * sc.y;
  }
  o_store(dto, o_base + e0 * p.out_strides[3], y0);
  o_store(dto, o_base + e1 * p.out_strides[3], y1);
}
