// porta_reduce (kernels/common/params.h): sum, mean, max, min and argmax over the inner items of
// one output, or one part of them (PARTIAL mode). A work-group per (output, part): each invocation
// folds a strided subset, then a shared-memory tree combines the WG partial results.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(push_constant) uniform Params { PORTA_GLSL_PARAMS(PORTA_REDUCE_PARAMS) } p;

PORTA_BUFFER(readonly, 0, x)
PORTA_BUFFER(, 1, o)
PORTA_LOADER(x)
PORTA_STORER(o)

shared float red_value[PORTA_MAX_WG];
shared uint red_index[PORTA_MAX_WG];

// Whether (v, i) comes before (w, j) as argmax: NaN is the largest value, and among equal values
// (or NaNs) the lower index wins.
bool argmax_before(float v, uint i, float w, uint j) {
  const bool v_nan = porta_isnan(v);
  const bool w_nan = porta_isnan(w);
  if (v_nan != w_nan) return v_nan;
  if (!v_nan && v != w) return v > w;
  return i < j;
}

float combine(uint op, float a, float b) {
  if (op == PORTA_RED_MAX) return porta_max(a, b);
  if (op == PORTA_RED_MIN) return porta_min(a, b);
  return a + b;
}

void main() {
  const uint groups = p.outer_n * p.parts;
  const uint g = porta_group_index();
  if (g >= groups) return;
  const uint lid = gl_LocalInvocationID.x;
  const uint wg = gl_WorkGroupSize.x;
  const uint out_index = g / p.parts;
  const uint part = g % p.parts;
  const uint begin = min(part * p.chunk, p.inner_n);
  const uint end = min(p.inner_n, begin + p.chunk);
  const uvec4 oc = porta_coords4(out_index, PORTA_U4(p.outer_shape));
  const uint base = p.x_offset + porta_dot4(oc, PORTA_U4(p.x_outer_strides));
  const uvec4 inner_shape = PORTA_U4(p.inner_shape);
  const uvec4 inner_strides = PORTA_U4(p.x_inner_strides);
  const uint dtx = porta_byte(p.dtypes, 0u);
  const uint op = p.op;

  // The identity of each reduction is also what an empty part reports.
  float acc = op == PORTA_RED_MAX ? -PORTA_INF : (op == PORTA_RED_MIN ? PORTA_INF : 0.0);
  uint acc_index = 0xffffffffu;
  if (op == PORTA_RED_ARGMAX) {
    acc = -PORTA_INF;
    for (uint r = begin + lid; r < end; r += wg) {
      const float v = x_load(dtx, base + porta_dot4(porta_coords4(r, inner_shape), inner_strides));
      // Items come in increasing index order, so a tie keeps the current one.
      if (acc_index == 0xffffffffu || (porta_isnan(v) ? !porta_isnan(acc) : v > acc)) {
        acc = v;
        acc_index = r;
      }
    }
  } else if (op == PORTA_RED_MAX || op == PORTA_RED_MIN) {
    for (uint r = begin + lid; r < end; r += wg) {
      const float v = x_load(dtx, base + porta_dot4(porta_coords4(r, inner_shape), inner_strides));
      acc = combine(op, acc, v);
    }
  } else {
    vec2 sum = vec2(0.0);
    for (uint r = begin + lid; r < end; r += wg) {
      const uint ix = base + porta_dot4(porta_coords4(r, inner_shape), inner_strides);
      porta_kahan_add(sum, x_load(dtx, ix));
    }
    acc = porta_kahan_total(sum);
  }

  red_value[lid] = acc;
  red_index[lid] = acc_index;
  barrier();
  for (uint stride = wg / 2u; stride > 0u; stride /= 2u) {
    if (lid < stride) {
      const float w = red_value[lid + stride];
      if (op == PORTA_RED_ARGMAX) {
        const uint j = red_index[lid + stride];
        if (argmax_before(w, j, red_value[lid], red_index[lid])) {
          red_value[lid] = w;
          red_index[lid] = j;
        }
      } else {
        red_value[lid] = combine(op, red_value[lid], w);
      }
    }
    barrier();
  }
  if (lid != 0u) return;

  const float result = red_value[0];
  if ((p.flags & PORTA_RED_FLAG_PARTIAL) != 0u) {
    o_f[p.out_offset + g] = result;
    return;
  }
  const uint io = p.out_offset + porta_dot4(oc, PORTA_U4(p.out_strides));
  if (op == PORTA_RED_ARGMAX) {
    // An empty row has no maximum; it reports index 0.
    o_i[io] = red_index[0] == 0xffffffffu ? 0 : int(red_index[0]);
  } else if (op == PORTA_RED_SUM || op == PORTA_RED_MEAN) {
    o_store(porta_byte(p.dtypes, 2u), io, result * p.scale);
  } else {
    o_store(porta_byte(p.dtypes, 2u), io, result);
  }
}
