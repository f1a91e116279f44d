// porta_attention_direct: the direct attention variant (direct=1) for devices emulated on a CPU
// whose subgroup is 8 lanes of one SIMD register (Mesa's lavapipe with 256-bit vectors). Same
// contract and parameters as attention.comp (PORTA_ATTENTION_PARAMS), heads D, Dv <= 64; the
// library takes it for at least 8 query rows (ops/attention.cpp).
//
// A work-group is one subgroup of 8 invocations (wg=8) and owns 8 consecutive query rows of one
// (b, h), one per lane; there is no shared memory and no barrier. lavapipe runs a storage-buffer
// load as a loop over the lanes with a bounds check per component, so the lanes load each key's
// and each value's row once between them (lane l the elements l, l + 8, ...) and hand every
// element to all lanes with subgroupShuffle at a constant lane: one vector shuffle in lavapipe,
// whose subgroupBroadcast first searches the active lanes in a loop on every call (the kernel ran
// 2.4 times faster for the change). Each lane keeps its query row and its output accumulators in registers (constant indices once the loops are unrolled) and
// walks the keys in blocks of 8 with an online softmax: one rescale per block.
//
// Grid: B * Hq * ceil(Lq / 8) work-groups, group g covering rows 8 (g % ceil(Lq / 8)) .. of head
// (g / ceil(Lq / 8)) % Hq of batch g / (ceil(Lq / 8) Hq). Lanes past Lq compute the last row and
// store nothing.
#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
#extension GL_KHR_shader_subgroup_shuffle : require
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

// The longest head this variant takes, in chunks of 8 elements.
#define CHUNKS 8u

// sum += x[8c + u] * (lane u's |value|) for u = 0..7.
#define DOT8(sum, x, c, value)                     \
  sum += x[8u * (c) + 0u] * subgroupShuffle(value, 0u) + \
         x[8u * (c) + 1u] * subgroupShuffle(value, 1u) + \
         x[8u * (c) + 2u] * subgroupShuffle(value, 2u) + \
         x[8u * (c) + 3u] * subgroupShuffle(value, 3u) + \
         x[8u * (c) + 4u] * subgroupShuffle(value, 4u) + \
         x[8u * (c) + 5u] * subgroupShuffle(value, 5u) + \
         x[8u * (c) + 6u] * subgroupShuffle(value, 6u) + \
         x[8u * (c) + 7u] * subgroupShuffle(value, 7u)
// The invocation's state: its query row, its output accumulators, the running max of its scores
// and the running sum of exp(score - max); and what the scan needs of the parameters.
float x[8u * CHUNKS];
float acc[8u * CHUNKS];
float row_max;
float row_sum;
uint lane, k_head, v_head, m_row, keys, key_end, dtk, dtv, dtm;
bool masked;

// Element i of k or v: f32 (a constant at each call, so that the compiler drops the other path)
// or any dtype.
float k_at(uint i, bool f32) { return f32 ? k_f[i] : k_load(dtk, i); }
float v_at(uint i, bool f32) { return f32 ? v_f[i] : v_load(dtv, i); }

// Key j's dot product with this lane's query row (unscaled).
float key_dot(uint j, bool f32) {
  const uint k_row = k_head + j * p.k_strides[2];
  float dot = 0.0;
  [[unroll]] for (uint c = 0u; c < CHUNKS; ++c) {
    if (8u * c < p.D) {
      const uint d = 8u * c + lane;
      const float kv = d < p.D ? k_at(k_row + d, f32) : 0.0;
      DOT8(dot, x, c, kv);
    }
  }
  return dot;
}

// acc += weight * value row j.
void add_value(uint j, float weight, bool f32) {
  const uint v_row = v_head + j * p.v_strides[2];
  [[unroll]] for (uint c = 0u; c < CHUNKS; ++c) {
    if (8u * c < p.Dv) {
      const uint d = 8u * c + lane;
      const float vv = d < p.Dv ? v_at(v_row + d, f32) : 0.0;
      acc[8u * c + 0u] += weight * subgroupShuffle(vv, 0u);
      acc[8u * c + 1u] += weight * subgroupShuffle(vv, 1u);
      acc[8u * c + 2u] += weight * subgroupShuffle(vv, 2u);
      acc[8u * c + 3u] += weight * subgroupShuffle(vv, 3u);
      acc[8u * c + 4u] += weight * subgroupShuffle(vv, 4u);
      acc[8u * c + 5u] += weight * subgroupShuffle(vv, 5u);
      acc[8u * c + 6u] += weight * subgroupShuffle(vv, 6u);
      acc[8u * c + 7u] += weight * subgroupShuffle(vv, 7u);
    }
  }
}

// The scan over the keys, with k and v both f32 (f32 = true) or of any dtypes. The f32 scan
// unrolls the 8 keys of a block; the other keeps them in a loop (and moves s and w in and out
// of it by constant index), which keeps its dtype dispatch to one copy per chunk: unrolled, it
// made lavapipe's first compile of this kernel take 16 s instead of 4.
void scan(bool f32) {
  row_max = -PORTA_INF;
  row_sum = 0.0;
  for (uint j0 = 0u; j0 < key_end; j0 += 8u) {
    // The block's scores for this lane's row; keys past the scan repeat its last key.
    float s[8];
    if (f32) {
      [[unroll]] for (uint t = 0u; t < 8u; ++t) s[t] = key_dot(min(j0 + t, key_end - 1u), true);
    } else {
      [[dont_unroll]] for (uint t = 0u; t < 8u; ++t) {
        const float dot = key_dot(min(j0 + t, key_end - 1u), false);
        [[unroll]] for (uint u = 0u; u < 8u; ++u) {
          if (u == t) s[u] = dot;
        }
      }
    }
    [[unroll]] for (uint t = 0u; t < 8u; ++t) {
      const float dot = s[t];
      s[t] = -PORTA_INF;
      if (j0 + t < keys) {
        s[t] = p.scale * dot;
        if (masked) s[t] += mk_load(dtm, m_row + j0 + t);
      }
    }
    float block_max = s[0];
    [[unroll]] for (uint t = 1u; t < 8u; ++t) block_max = porta_max(block_max, s[t]);
    const float new_max = porta_max(row_max, block_max);
    // Every score so far is -inf: nothing to add yet. The lanes stay together for the
    // shuffles below, so a lane with nothing to add adds zeros.
    const bool adds = new_max != -PORTA_INF;
    const float rescale = adds ? porta_exp_diff(row_max, new_max) : 1.0;
    float w[8];
    float block_sum = 0.0;
    [[unroll]] for (uint t = 0u; t < 8u; ++t) {
      w[t] = adds ? porta_exp_diff(s[t], new_max) : 0.0;
      block_sum += w[t];
    }
    if (adds) {
      row_sum = row_sum * rescale + block_sum;
      row_max = new_max;
    }
    [[unroll]] for (uint d = 0u; d < 8u * CHUNKS; ++d) acc[d] *= rescale;
    if (f32) {
      [[unroll]] for (uint t = 0u; t < 8u; ++t) add_value(min(j0 + t, key_end - 1u), w[t], true);
    } else {
      [[dont_unroll]] for (uint t = 0u; t < 8u; ++t) {
        float weight = w[0];
        [[unroll]] for (uint u = 1u; u < 8u; ++u) {
          if (u == t) weight = w[u];
        }
        add_value(min(j0 + t, key_end - 1u), weight, false);
      }
    }
  }
}

void main() {
  lane = gl_SubgroupInvocationID;
  const uint blocks = (p.Lq + 7u) / 8u;
  const uint g = porta_group_index();
  if (g >= p.B * p.Hq * blocks) return;
  const uint blk = g % blocks;
  const uint h = (g / blocks) % p.Hq;
  const uint b = g / (blocks * p.Hq);
  const uint hk = h / (p.Hq / p.Hkv);
  const uint i = blk * 8u + lane;
  const bool stores = i < p.Lq;
  const uint row = min(i, p.Lq - 1u);
  const uint q_base = p.q_offset + b * p.q_strides[0] + h * p.q_strides[1] + row * p.q_strides[2];
  k_head = p.k_offset + b * p.k_strides[0] + hk * p.k_strides[1];
  v_head = p.v_offset + b * p.v_strides[0] + hk * p.v_strides[1];
  m_row = p.m_offset + b * p.m_strides[0] + h * p.m_strides[1] + row * p.m_strides[2];
  const uint o_base = p.o_offset + b * p.o_strides[0] + h * p.o_strides[1] + row * p.o_strides[2];
  const uint dtq = porta_byte(p.dtypes, 0u);
  dtk = porta_byte(p.dtypes, 1u);
  dtv = porta_byte(p.dtypes, 2u);
  dtm = (p.flags >> 8) & 0xffu;
  masked = (p.flags & PORTA_ATTN_FLAG_MASK) != 0u;
  const bool causal = (p.flags & PORTA_ATTN_FLAG_CAUSAL) != 0u;

  // Keys past the causal limit j <= i + (Lk - Lq) are -inf. The scan runs to the limit of the
  // group's last row, which is the furthest.
  const uint last = min(blk * 8u + 7u, p.Lq - 1u);
  keys = p.Lk;
  key_end = p.Lk;
  if (causal) {
    keys = uint(clamp(int(row) + int(p.Lk) - int(p.Lq) + 1, 0, int(p.Lk)));
    key_end = uint(clamp(int(last) + int(p.Lk) - int(p.Lq) + 1, 0, int(p.Lk)));
  }

  [[unroll]] for (uint d = 0u; d < 8u * CHUNKS; ++d) {
    x[d] = d < p.D ? q_load(dtq, q_base + d) : 0.0;
    acc[d] = 0.0;
  }

  if (dtk == PORTA_DT_F32 && dtv == PORTA_DT_F32) {
    scan(true);
  } else {
    scan(false);
  }

  if (!stores) return;
  const uint dto = porta_byte(p.dtypes, 3u);
  [[unroll]] for (uint d = 0u; d < 8u * CHUNKS; ++d) {
    if (d < p.Dv) o_store(dto, o_base + d, row_sum == 0.0 ? 0.0 : acc[d] / row_sum);
  }
}
