// porta_softmax (kernels/common/params.h): softmax or log-softmax of each row, with an optional
// additive mask, a scale and a bottom-right causal limit. A work-group per row and three passes
// over it: the maximum, the sum of e^(v - max) (each folded by a shared-memory tree), then the
// write. Keeping the maximum fixed before summing means the sum is plain additions: an online
// (rescaled) sum would add an exp rounding at every rescale and every tree level.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(push_constant) uniform Params { PORTA_GLSL_PARAMS(PORTA_SOFTMAX_PARAMS) } p;

PORTA_BUFFER(readonly, 0, x)
PORTA_BUFFER(readonly, 1, m)
PORTA_BUFFER(, 2, o)
PORTA_LOADER(x)
PORTA_LOADER(m)
PORTA_STORER(o)

shared float red[PORTA_MAX_WG];

uint x_base, m_base, o_base;
int causal_limit;

// v_c: the scaled, masked value of column c.
float value(uint c) {
  if ((p.flags & PORTA_SM_FLAG_CAUSAL) != 0u && int(c) > causal_limit) return -PORTA_INF;
  float v = x_load(porta_byte(p.dtypes, 0u), x_base + c * p.x_strides[3]) * p.scale;
  if ((p.flags & PORTA_SM_FLAG_MASK) != 0u) {
    v += m_load(porta_byte(p.dtypes, 1u), m_base + c * p.m_strides[3]);
  }
  return v;
}

// Folds every invocation's |mine| (a NaN-propagating max when is_max, else a sum) and returns the
// result to all of them.
float tree(float mine, bool is_max) {
  const uint lid = gl_LocalInvocationID.x;
  red[lid] = mine;
  barrier();
  for (uint stride = gl_WorkGroupSize.x / 2u; stride > 0u; stride /= 2u) {
    if (lid < stride) {
      const float other = red[lid + stride];
      red[lid] = is_max ? porta_max(red[lid], other) : red[lid] + other;
    }
    barrier();
  }
  const float result = red[0];
  barrier();  // red is reused by the next tree
  return result;
}

void main() {
  const uint g = porta_group_index();
  if (g >= p.rows) return;
  const uint lid = gl_LocalInvocationID.x;
  const uint wg = gl_WorkGroupSize.x;
  const uvec3 r = porta_coords3(g, PORTA_U3(p.row_shape));
  x_base = p.x_offset + r.x * p.x_strides[0] + r.y * p.x_strides[1] + r.z * p.x_strides[2];
  m_base = p.m_offset + r.x * p.m_strides[0] + r.y * p.m_strides[1] + r.z * p.m_strides[2];
  o_base = p.out_offset + r.x * p.out_strides[0] + r.y * p.out_strides[1] + r.z * p.out_strides[2];
  causal_limit = int(r.z) + p.causal_shift;

  float mx = -PORTA_INF;
  for (uint c = lid; c < p.cols; c += wg) mx = porta_max(mx, value(c));
  mx = tree(mx, true);
  // With a NaN, every output is NaN; with max = +inf, e^(v - max) has an inf - inf.
  const bool nan_row = porta_isnan(mx) || mx == PORTA_INF;
  const bool empty_row = mx == -PORTA_INF;  // every value is -inf
  vec2 acc = vec2(0.0);
  if (!nan_row && !empty_row) {
    for (uint c = lid; c < p.cols; c += wg) porta_kahan_add(acc, porta_exp_diff(value(c), mx));
  }
  const float s = tree(porta_kahan_total(acc), false);

  const bool log_mode = (p.flags & PORTA_SM_FLAG_LOG) != 0u;
  const uint dto = porta_byte(p.dtypes, 2u);
  const float log_sum = porta_log(s);
  for (uint c = lid; c < p.cols; c += wg) {
    float y;
    if (nan_row) {
      y = PORTA_NAN;
    } else if (empty_row) {
      y = log_mode ? -PORTA_INF : 0.0;
    } else {
      const vec2 d = porta_diff2(value(c), mx);
      y = log_mode ? (d.x - log_sum) + d.y : porta_exp_ext(d.x, d.y) / s;
    }
    o_store(dto, o_base + c * p.out_strides[3], y);
  }
}
