// porta_attention (kernels/common/params.h): scaled dot-product attention with an optional additive
// mask, a bottom-right causal limit and grouped-query heads. A work-group per query row streams
// the keys in blocks of WG ("online softmax"): one score per invocation (the query row is cached
// in shared memory as f32), the block's max and sum by shared-memory trees, then the running
// output is rescaled to the new maximum and the block's weighted values are added. Invocation lid
// owns output dims lid, lid + WG, ...: their accumulators live in shared memory, touched by their
// owner only (a private array would need 256 entries at WG = 1). The inner loops go by fours
// (dims when an invocation owns several, else keys): besides the speed, lavapipe (Mesa 22)
// silently stops an invocation after 65535 loop iterations in total, which one invocation of a
// small WG would otherwise reach on long rows.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(push_constant) uniform Params { PORTA_GLSL_PARAMS(PORTA_ATTENTION_PARAMS) } p;

PORTA_BUFFER(readonly, 0, q)
PORTA_BUFFER(readonly, 1, k)
PORTA_BUFFER(readonly, 2, v)
PORTA_BUFFER(readonly, 3, mk)
PORTA_BUFFER(, 4, o)
PORTA_LOADER(q)
PORTA_LOADER(k)
PORTA_LOADER(v)
PORTA_LOADER(mk)
PORTA_STORER(o)

// D and Dv are at most 256.
#define MAX_HEAD_DIM 256u

shared float q_row[MAX_HEAD_DIM];
shared float acc[MAX_HEAD_DIM];
shared float weights[PORTA_MAX_WG];
shared float red[PORTA_MAX_WG];

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
  if (g >= p.B * p.Hq * p.Lq) return;
  const uint lid = gl_LocalInvocationID.x;
  const uint wg = gl_WorkGroupSize.x;
  const uint i = g % p.Lq;
  const uint h = (g / p.Lq) % p.Hq;
  const uint b = g / (p.Lq * p.Hq);
  const uint hk = h / (p.Hq / p.Hkv);
  const uint q_base = p.q_offset + b * p.q_strides[0] + h * p.q_strides[1] + i * p.q_strides[2];
  const uint k_head = p.k_offset + b * p.k_strides[0] + hk * p.k_strides[1];
  const uint v_head = p.v_offset + b * p.v_strides[0] + hk * p.v_strides[1];
  const uint m_row = p.m_offset + b * p.m_strides[0] + h * p.m_strides[1] + i * p.m_strides[2];
  const uint o_base = p.o_offset + b * p.o_strides[0] + h * p.o_strides[1] + i * p.o_strides[2];
  const uint dtq = porta_byte(p.dtypes, 0u);
  const uint dtk = porta_byte(p.dtypes, 1u);
  const uint dtv = porta_byte(p.dtypes, 2u);
  const uint dtm = (p.flags >> 8) & 0xffu;
  const bool masked = (p.flags & PORTA_ATTN_FLAG_MASK) != 0u;

  for (uint d = lid; d < p.D; d += wg) q_row[d] = q_load(dtq, q_base + d);
  for (uint d = lid; d < p.Dv; d += wg) acc[d] = 0.0;
  barrier();

  // Keys past the causal limit j <= i + (Lk - Lq) are -inf: never visit them.
  uint key_end = p.Lk;
  if ((p.flags & PORTA_ATTN_FLAG_CAUSAL) != 0u) {
    key_end = uint(clamp(int(i) + int(p.Lk) - int(p.Lq) + 1, 0, int(p.Lk)));
  }

  float row_max = -PORTA_INF;
  float row_sum = 0.0;
  for (uint j0 = 0u; j0 < key_end; j0 += wg) {
    const uint j = j0 + lid;
    float s = -PORTA_INF;
    if (j < key_end) {
      const uint k_row = k_head + j * p.k_strides[2];
      float dot = 0.0;
      uint d = 0u;
      for (; d + 4u <= p.D; d += 4u) {
        dot += q_row[d] * k_load(dtk, k_row + d) + q_row[d + 1u] * k_load(dtk, k_row + d + 1u) +
               q_row[d + 2u] * k_load(dtk, k_row + d + 2u) +
               q_row[d + 3u] * k_load(dtk, k_row + d + 3u);
      }
      for (; d < p.D; ++d) dot += q_row[d] * k_load(dtk, k_row + d);
      s = p.scale * dot;
      if (masked) s += mk_load(dtm, m_row + j);
    }
    const float new_max = porta_max(row_max, tree(s, true));
    if (new_max == -PORTA_INF) continue;  // every score so far is -inf: nothing to add yet
    const float weight = porta_exp_diff(s, new_max);
    weights[lid] = weight;
    const float block_sum = tree(weight, false);  // its barriers also publish weights[]
    const float rescale = porta_exp_diff(row_max, new_max);
    row_sum = row_sum * rescale + block_sum;
    row_max = new_max;
    const uint block = min(wg, key_end - j0);
    const uint v_block = v_head + j0 * p.v_strides[2];
    const uint vs = p.v_strides[2];
    uint d = lid;
    // Four owned dims at a time while there are (small WG): independent accumulators.
    for (; d + 3u * wg < p.Dv; d += 4u * wg) {
      vec4 a = vec4(acc[d], acc[d + wg], acc[d + 2u * wg], acc[d + 3u * wg]) * rescale;
      for (uint jj = 0u; jj < block; ++jj) {
        const uint row = v_block + jj * vs + d;
        a += weights[jj] * vec4(v_load(dtv, row), v_load(dtv, row + wg), v_load(dtv, row + 2u * wg),
                                v_load(dtv, row + 3u * wg));
      }
      acc[d] = a.x;
      acc[d + wg] = a.y;
      acc[d + 2u * wg] = a.z;
      acc[d + 3u * wg] = a.w;
    }
    // The rest one dim at a time, four keys per step.
    for (; d < p.Dv; d += wg) {
      float a = acc[d] * rescale;
      uint jj = 0u;
      for (; jj + 4u <= block; jj += 4u) {
        const uint row = v_block + jj * vs + d;
        a += weights[jj] * v_load(dtv, row) + weights[jj + 1u] * v_load(dtv, row + vs) +
             weights[jj + 2u] * v_load(dtv, row + 2u * vs) +
             weights[jj + 3u] * v_load(dtv, row + 3u * vs);
      }
      for (; jj < block; ++jj) a += weights[jj] * v_load(dtv, v_block + jj * vs + d);
      acc[d] = a;
    }
    // weights[] is next written after the next block's max tree, whose barriers order it after
    // these reads.
  }

  const uint dto = porta_byte(p.dtypes, 3u);
  for (uint d = lid; d < p.Dv; d += wg) {
    o_store(dto, o_base + d, row_sum == 0.0 ? 0.0 : acc[d] / row_sum);
  }
}
