// porta_norm (kernels/common/params.h): LayerNorm or RMSNorm of each row, with optional weight and
// bias. A work-group per row; LayerNorm takes the mean first and then the mean of squared
// deviations (two passes, which do not cancel the way E[x^2] - E[x]^2 does), RMSNorm the mean
// square; each pass folds compensated per-invocation sums with a shared-memory tree.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(push_constant) uniform Params { PORTA_GLSL_PARAMS(PORTA_NORM_PARAMS) } p;

PORTA_BUFFER(readonly, 0, x)
PORTA_BUFFER(readonly, 1, w)
PORTA_BUFFER(readonly, 2, bi)
PORTA_BUFFER(, 3, o)
PORTA_LOADER(x)
PORTA_LOADER(w)
PORTA_LOADER(bi)
PORTA_STORER(o)

shared float red[PORTA_MAX_WG];

// The sum of every invocation's |mine|, returned to all of them.
float tree_sum(float mine) {
  const uint lid = gl_LocalInvocationID.x;
  red[lid] = mine;
  barrier();
  for (uint stride = gl_WorkGroupSize.x / 2u; stride > 0u; stride /= 2u) {
    if (lid < stride) red[lid] += red[lid + stride];
    barrier();
  }
  const float result = red[0];
  barrier();  // red is reused by the next sum
  return result;
}

void main() {
  const uint g = porta_group_index();
  if (g >= p.rows) return;
  const uint lid = gl_LocalInvocationID.x;
  const uint wg = gl_WorkGroupSize.x;
  const uvec3 r = porta_coords3(g, PORTA_U3(p.row_shape));
  const uint x_base =
      p.x_offset + r.x * p.x_strides[0] + r.y * p.x_strides[1] + r.z * p.x_strides[2];
  const uint o_base =
      p.out_offset + r.x * p.out_strides[0] + r.y * p.out_strides[1] + r.z * p.out_strides[2];
  const uint xs = p.x_strides[3];
  const uint dtx = porta_byte(p.dtypes, 0u);
  const float n = float(p.cols);

  float mean = 0.0;
  vec2 acc = vec2(0.0);
  if ((p.flags & PORTA_NORM_FLAG_RMS) != 0u) {
    for (uint c = lid; c < p.cols; c += wg) {
      const float v = x_load(dtx, x_base + c * xs);
      porta_kahan_add(acc, v * v);
    }
  } else {
    for (uint c = lid; c < p.cols; c += wg) porta_kahan_add(acc, x_load(dtx, x_base + c * xs));
    mean = tree_sum(porta_kahan_total(acc)) / n;
    acc = vec2(0.0);
    for (uint c = lid; c < p.cols; c += wg) {
      const float d = x_load(dtx, x_base + c * xs) - mean;
      porta_kahan_add(acc, d * d);
    }
  }
  const float sd = porta_sqrt(tree_sum(porta_kahan_total(acc)) / n + p.eps);

  const bool has_weight = (p.flags & PORTA_NORM_FLAG_WEIGHT) != 0u;
  const bool has_bias = (p.flags & PORTA_NORM_FLAG_BIAS) != 0u;
  const uint dtw = porta_byte(p.dtypes, 1u);
  const uint dtb = porta_byte(p.dtypes, 2u);
  const uint dto = porta_byte(p.dtypes, 3u);
  for (uint c = lid; c < p.cols; c += wg) {
    float y = porta_div(x_load(dtx, x_base + c * xs) - mean, sd);
    if (has_weight) y *= w_load(dtw, p.w_offset + c * p.w_stride);
    if (has_bias) y += bi_load(dtb, p.b_offset + c * p.b_stride);
    o_store(dto, o_base + c * p.out_strides[3], y);
  }
}
