// porta_qmatvec (kernels/common/params.h): out = act(alpha A W^T + beta out + bias) for a
// block-quantized W of N rows by K and a few rows of A, in two variants that PORTA_QMV_FLAG_ROWS
// (the tuning's mv) chooses for the whole dispatch:
// - teams (mv=1, for GPUs): the work-group's invocations form |rows| teams, one per output row; a
//   team's invocations take the row's 8-element units in turn (so neighbours read neighbouring
//   words and every weight byte is read once) and their partial sums meet in shared memory. The
//   weights are read as 32-bit words holding 16-bit halves, since a Q4_0 block is only 2-byte
//   aligned. A surplus work-group runs with no units so that every invocation reaches every
//   barrier.
// - rows (mv=2, for CPU implementations that run invocations as SIMD lanes): each invocation owns
//   rows / WG rows, with no shared memory and no barrier; every invocation runs the same block
//   loop (surplus ones recompute the last row and store nothing). A load in a loop costs such an
//   implementation one access per lane even when all lanes share the address, so an invocation's
//   rows share each block's A values.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(push_constant) uniform Params { PORTA_GLSL_PARAMS(PORTA_QMATVEC_PARAMS) } p;

PORTA_BUFFER(readonly, 0, a)
PORTA_QBUFFER(1, b)
PORTA_BUFFER(readonly, 2, bias)
PORTA_BUFFER(, 3, o)
PORTA_LOADER(a)
PORTA_LOADER(bias)
PORTA_LOADER(o)
PORTA_STORER(o)

shared float red[PORTA_MAX_WG];

float activation(uint code, float x) {
  switch (code) {
    case PORTA_EW_RELU: return porta_relu(x);
    case PORTA_EW_GELU_ERF: return porta_gelu_erf(x);
    case PORTA_EW_GELU_TANH: return porta_gelu_tanh(x);
    case PORTA_EW_SILU: return porta_silu(x);
    default: return x;
  }
}

// The sums over unit u (elements 8u..8u+7 of the row at byte |row|) of W[k] A[k], one function
// per block type so that the unit loops below test the type once.
float unit_q8(uint dta, uint a_base, uint row, uint u) {
  const uint block = row + (u >> 2) * PORTA_Q8_0_BYTES;
  const uint qs = block + 2u + (u & 3u) * 8u;
  const uint kp = a_base + (u * 8u) * p.a_cs;
  float s = 0.0;
  for (uint t = 0u; t < 4u; ++t) {
    const uint word = b_u16(qs + 2u * t);
    s += porta_q_i8(word & 255u) * a_load(dta, kp + (2u * t) * p.a_cs) +
         porta_q_i8(word >> 8) * a_load(dta, kp + (2u * t + 1u) * p.a_cs);
  }
  return b_half(block) * s;
}

// Q4: bytes part*4 .. part*4+3 of qs hold elements j (low nibble) and j + 16 (high nibble).
// |header| is 2 (Q4_0: d) or 4 (Q4_1: d, m).
float unit_q4(uint dta, uint a_base, uint row, uint u, uint block_bytes, uint header) {
  const uint blk = u >> 2;
  const uint part = u & 3u;
  const uint block = row + blk * block_bytes;
  const uint qs = block + header + part * 4u;
  const uint kp = a_base + (blk * 32u + part * 4u) * p.a_cs;
  const uint kh = kp + 16u * p.a_cs;
  float s = 0.0;
  float a_sum = 0.0;
  for (uint t = 0u; t < 2u; ++t) {
    const uint word = b_u16(qs + 2u * t);
    const float a0 = a_load(dta, kp + (2u * t) * p.a_cs);
    const float a1 = a_load(dta, kp + (2u * t + 1u) * p.a_cs);
    const float a2 = a_load(dta, kh + (2u * t) * p.a_cs);
    const float a3 = a_load(dta, kh + (2u * t + 1u) * p.a_cs);
    s += float(word & 15u) * a0 + float((word >> 8) & 15u) * a1 +
         float((word >> 4) & 15u) * a2 + float(word >> 12) * a3;
    a_sum += (a0 + a1) + (a2 + a3);
  }
  // Q4_1: d * sum(q a) + m * sum(a); Q4_0: d * sum((q - 8) a).
  const float d = b_half(block);
  return header == 4u ? d * s + b_half(block + 2u) * a_sum : d * (s - 8.0 * a_sum);
}

// The per-row variant's block sums for f32 A read contiguously, from the block's 32 A values
// |x|, loaded once for all of an invocation's rows. A block's quants are read as whole 32-bit
// words: |qs| is 2-byte aligned, so an odd half-word start joins neighbouring words (one extra
// load per block).
uint qs_word(uint base, bool odd, uint i, uint last, inout uint w) {
  const uint next = (i < last || odd) ? b_w[base + i + 1u] : 0u;
  const uint v = odd ? (w >> 16) | (next << 16) : w;
  w = next;
  return v;
}

float block_q8(uint qs, vec4 x[8]) {
  const uint base = qs >> 2;
  const bool odd = (qs & 2u) != 0u;
  uint w = b_w[base];
  float s = 0.0;
  for (uint i = 0u; i < 8u; ++i) {
    const int v = int(qs_word(base, odd, i, 7u, w));
    s += dot(vec4(bitfieldExtract(v, 0, 8), bitfieldExtract(v, 8, 8), bitfieldExtract(v, 16, 8),
                  bitfieldExtract(v, 24, 8)),
             x[i]);
  }
  return s;
}

// Q4: element j sits in the low nibble of qs byte j, element j + 16 in its high nibble.
float block_q4(uint qs, vec4 x[8]) {
  const uint base = qs >> 2;
  const bool odd = (qs & 2u) != 0u;
  uint w = b_w[base];
  float s = 0.0;
  for (uint i = 0u; i < 4u; ++i) {
    const uint v = qs_word(base, odd, i, 3u, w);
    s += dot(vec4(v & 15u, (v >> 8) & 15u, (v >> 16) & 15u, (v >> 24) & 15u), x[i]) +
         dot(vec4((v >> 4) & 15u, (v >> 12) & 15u, (v >> 20) & 15u, v >> 28), x[4u + i]);
  }
  return s;
}

// sum(W[row] x) over the block at byte |block| of type |dtb|, given sum(x) for Q4 types.
float block_sum(uint dtb, uint block, vec4 x[8], float x_sum) {
  if (dtb == PORTA_DT_Q8_0) return b_half(block) * block_q8(block + 2u, x);
  if (dtb == PORTA_DT_Q4_1) {
    return b_half(block) * block_q4(block + 4u, x) + b_half(block + 2u) * x_sum;
  }
  return b_half(block) * (block_q4(block + 2u, x) - 8.0 * x_sum);
}

void store_row(uint z0, uint z1, uint m, uint n, float sum) {
  const uint io = p.o_offset + z0 * p.o_bs[0] + z1 * p.o_bs[1] + m * p.o_rs + n * p.o_cs;
  const uint dto = porta_byte(p.dtypes, 2u);
  float r = p.alpha * sum;
  if ((p.flags & PORTA_MM_FLAG_BETA) != 0u) r += p.beta * o_load(dto, io);
  if ((p.flags & PORTA_MM_FLAG_BIAS) != 0u) {
    r += bias_load(porta_byte(p.dtypes, 3u), p.bias_offset + n * p.bias_stride);
  }
  o_store(dto, io, activation((p.flags >> 8) & 0xffu, r));
}

// Each invocation computes rows / WG rows (1, 2 or 4), WG apart, sharing every A load.
void main_rows() {
  const uint row_groups = (p.N + p.rows - 1u) / p.rows;
  const uint g = porta_group_index();
  const uint rest = g / row_groups;
  const uint rg = g - rest * row_groups;
  const uint z = rest / p.M;
  const uint m = rest - z * p.M;
  if (z >= p.batch0 * p.batch1) return;
  const uint z0 = z / p.batch1;
  const uint z1 = z - z0 * p.batch1;
  const uint per_item = p.rows / gl_WorkGroupSize.x;
  // Rows r * WG apart, the offsets built from run-time values: a vector product of the
  // work-group size would be a specialization-constant operation that shaders may not use.
  const uint first = rg * p.rows + gl_LocalInvocationID.x;
  const uint wg = p.rows / per_item;
  const uvec4 n_item = uvec4(first, first + wg, first + 2u * wg, first + 3u * wg);
  const uvec4 n = min(n_item, uvec4(p.N - 1u));
  const uint dta = porta_byte(p.dtypes, 0u);
  const uint dtb = porta_byte(p.dtypes, 1u);
  const uint bb = porta_q_block_bytes(dtb);
  const uvec4 row = p.b_offset + (z0 * p.b_bs[0] + z1 * p.b_bs[1] + n * p.b_rs) * bb;
  const uint a_base = p.a_offset + z0 * p.a_bs[0] + z1 * p.a_bs[1] + m * p.a_rs;
  vec4 sum = vec4(0.0);
  if (dta == PORTA_DT_F32 && p.a_cs == 1u) {
    const uint blocks = p.K >> 5;
    for (uint k = 0u; k < blocks; ++k) {
      vec4 x[8];
      vec4 xs = vec4(0.0);
      for (uint i = 0u; i < 8u; ++i) {
        const uint e = a_base + 32u * k + 4u * i;
        x[i] = vec4(a_f[e], a_f[e + 1u], a_f[e + 2u], a_f[e + 3u]);
        xs += x[i];
      }
      const float x_sum = (xs.x + xs.y) + (xs.z + xs.w);
      sum.x += block_sum(dtb, row.x + k * bb, x, x_sum);
      if (per_item > 1u) {
        sum.y += block_sum(dtb, row.y + k * bb, x, x_sum);
        if (per_item > 2u) {
          sum.z += block_sum(dtb, row.z + k * bb, x, x_sum);
          sum.w += block_sum(dtb, row.w + k * bb, x, x_sum);
        }
      }
    }
  } else {
    const uint units = p.K >> 3;
    for (uint r = 0u; r < per_item; ++r) {
      float s = 0.0;
      for (uint u = 0u; u < units; ++u) {
        s += dtb == PORTA_DT_Q8_0   ? unit_q8(dta, a_base, row[r], u)
             : dtb == PORTA_DT_Q4_1 ? unit_q4(dta, a_base, row[r], u, PORTA_Q4_1_BYTES, 4u)
                                    : unit_q4(dta, a_base, row[r], u, PORTA_Q4_0_BYTES, 2u);
      }
      sum[r] = s;
    }
  }
  for (uint r = 0u; r < per_item; ++r) {
    if (n_item[r] < p.N) store_row(z0, z1, m, n_item[r], sum[r]);
  }
}

void main() {
  if ((p.flags & PORTA_QMV_FLAG_ROWS) != 0u) {
    main_rows();
    return;
  }
  const uint lid = gl_LocalInvocationID.x;
  const uint team = gl_WorkGroupSize.x / p.rows;
  const uint r_in = lid / team;
  const uint lane = lid - r_in * team;
  const uint row_groups = (p.N + p.rows - 1u) / p.rows;
  const uint g = porta_group_index();
  const uint rest = g / row_groups;
  const uint rg = g - rest * row_groups;
  const uint z = rest / p.M;
  const uint m = rest - z * p.M;
  const bool live = z < p.batch0 * p.batch1;
  const uint zl = live ? z : 0u;
  const uint z0 = zl / p.batch1;
  const uint z1 = zl - z0 * p.batch1;
  const uint n = rg * p.rows + r_in;
  const bool has_row = live && n < p.N;
  const uint dta = porta_byte(p.dtypes, 0u);
  const uint dtb = porta_byte(p.dtypes, 1u);
  const uint row =
      p.b_offset + (z0 * p.b_bs[0] + z1 * p.b_bs[1] + n * p.b_rs) * porta_q_block_bytes(dtb);
  const uint a_base = p.a_offset + z0 * p.a_bs[0] + z1 * p.a_bs[1] + m * p.a_rs;
  const uint units = has_row ? p.K >> 3 : 0u;
  float sum = 0.0;
  if (dtb == PORTA_DT_Q8_0) {
    for (uint u = lane; u < units; u += team) sum += unit_q8(dta, a_base, row, u);
  } else if (dtb == PORTA_DT_Q4_1) {
    for (uint u = lane; u < units; u += team) {
      sum += unit_q4(dta, a_base, row, u, PORTA_Q4_1_BYTES, 4u);
    }
  } else {
    for (uint u = lane; u < units; u += team) {
      sum += unit_q4(dta, a_base, row, u, PORTA_Q4_0_BYTES, 2u);
    }
  }
  red[lid] = sum;
  barrier();
  for (uint s = team >> 1; s > 0u; s >>= 1) {
    if (lane < s) red[lid] += red[lid + s];
    barrier();
  }
  if (has_row && lane == 0u) store_row(z0, z1, m, n, red[lid]);
}
