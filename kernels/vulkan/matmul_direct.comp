// porta_matmul_t{TM}x{TN}x0_w{WM}x{WN}: the direct matmul variant (TK = 0 in kernels/common/
// params.h's tile naming), with the same parameters and grid as matmul.comp. Every invocation
// computes its WM x WN block straight from memory, with no shared-memory staging and no barrier.
// That is what a device emulated on a CPU (Mesa's lavapipe) runs fastest: there each shared-memory
// access and each barrier costs far more than a cached load, and the CPU's caches already give the
// reuse the staging would.
//
// Three paths, chosen per launch from the strides (uniform branches):
// - k-contiguous A and B (B given transposed, as model weights are stored): vec4 loads along k of
//   an f32 A and an f32, f16 or bf16 B, four partial sums per output;
// - k-contiguous A and n-contiguous f32 B: vec4 loads of A along k and of B's rows along n;
// - anything else (other strides or dtypes, block-quantized B): one element at a time.
#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
#include "common.glsl"

#if !defined(PORTA_MM_TM) || !defined(PORTA_MM_TN) || !defined(PORTA_MM_TK) || \
    !defined(PORTA_MM_WM) || !defined(PORTA_MM_WN)
#error "compile with -DPORTA_MM_TM, _TN, _TK, _WM and _WN (the tile variant)"
#endif
#if PORTA_MM_TK != 0 || (PORTA_MM_TM % PORTA_MM_WM) != 0 || (PORTA_MM_TN % PORTA_MM_WN) != 0
#error "the direct variant has TK = 0 and a register block that divides the tile"
#endif

#define TM PORTA_MM_TM
#define TN PORTA_MM_TN
#define WM PORTA_MM_WM
#define WN PORTA_MM_WN

layout(push_constant) uniform Params { PORTA_GLSL_PARAMS(PORTA_MATMUL_PARAMS) } p;

PORTA_BUFFER(readonly, 0, a)
PORTA_BUFFER(readonly, 1, b)
PORTA_QBUFFER(1, b)
PORTA_BUFFER(readonly, 2, bias)
PORTA_BUFFER(, 3, o)
PORTA_LOADER(a)
PORTA_LOADER(b)
PORTA_LOADER(bias)
PORTA_LOADER(o)
PORTA_STORER(o)
// Vector views for the fast paths: four floats of a or b, or four 16-bit values of b.
layout(std430, set = 0, binding = 0) readonly buffer a_V4 { vec4 a_v4[]; };
layout(std430, set = 0, binding = 1) readonly buffer b_V4 { vec4 b_v4[]; };
layout(std430, set = 0, binding = 1) readonly buffer b_U2 { uvec2 b_u2[]; };

#include "matmul_epilogue.glsl"

// Four consecutive elements of b from element |i| (a multiple of 4) as f32, one function per
// dtype so that the dtype branch stays outside the k loop.
vec4 b_f32x4(uint i) { return b_v4[i >> 2]; }
vec4 b_f16x4(uint i) { return porta_f16x4_to_f32(b_u2[i >> 2]); }
vec4 b_bf16x4(uint i) { return porta_bf16x4_to_f32(b_u2[i >> 2]); }

// The k loop of the k-contiguous path with |LOAD4| reading b: acc[i][j] gathers four partial
// sums of output (i, j).
#define PORTA_DIRECT_K4_LOOP(LOAD4)                                            \
  for (uint k = 0u; k < p.K; k += 4u) {                                        \
    vec4 av[WM];                                                               \
    [[unroll]] for (uint i = 0u; i < WM; ++i) av[i] = a_v4[(a_row[i] + k) >> 2]; \
    [[unroll]] for (uint j = 0u; j < WN; ++j) {                                \
      const vec4 bv = LOAD4(b_col[j] + k);                                     \
      [[unroll]] for (uint i = 0u; i < WM; ++i) acc[i][j] += av[i] * bv;       \
    }                                                                          \
  }

bool aligned4(uint x) { return (x & 3u) == 0u; }

void main() {
  const uint m_first = gl_WorkGroupID.y * TM + gl_LocalInvocationID.y * WM;
  const uint n_first = gl_WorkGroupID.x * TN + gl_LocalInvocationID.x * WN;
  // No barrier follows, so an invocation wholly outside the output may leave at once.
  if (m_first >= p.M || n_first >= p.N) return;
  const uint z0 = gl_WorkGroupID.z / p.batch1;
  const uint z1 = gl_WorkGroupID.z % p.batch1;
  const uint a_base = p.a_offset + z0 * p.a_bs[0] + z1 * p.a_bs[1];
  const uint b_base = p.b_offset + z0 * p.b_bs[0] + z1 * p.b_bs[1];
  const uint o_base = p.o_offset + z0 * p.o_bs[0] + z1 * p.o_bs[1];
  const uint dta = porta_byte(p.dtypes, 0u);
  const uint dtb = porta_byte(p.dtypes, 1u);

  // Rows and columns past the edge read the last row or column (and are not stored), so every
  // load stays inside the tensors.
  uint a_row[WM];
  [[unroll]] for (uint i = 0u; i < WM; ++i) a_row[i] = a_base + min(m_first + i, p.M - 1u) * p.a_rs;

  float result[WM * WN];
  const bool a_k4 = dta == PORTA_DT_F32 && p.a_cs == 1u && aligned4(p.K) && aligned4(a_base) &&
                    aligned4(p.a_rs);
  const bool b_k4 = (dtb == PORTA_DT_F32 || dtb == PORTA_DT_F16 || dtb == PORTA_DT_BF16) &&
                    p.b_rs == 1u && aligned4(b_base) && aligned4(p.b_cs);
  const bool b_n4 = dtb == PORTA_DT_F32 && p.b_cs == 1u && (WN % 4) == 0 && aligned4(p.N) &&
                    aligned4(b_base) && aligned4(p.b_rs);
  if (a_k4 && b_k4) {
    uint b_col[WN];
    [[unroll]] for (uint j = 0u; j < WN; ++j) {
      b_col[j] = b_base + min(n_first + j, p.N - 1u) * p.b_cs;
    }
    vec4 acc[WM][WN];
    [[unroll]] for (uint i = 0u; i < WM; ++i) {
      [[unroll]] for (uint j = 0u; j < WN; ++j) acc[i][j] = vec4(0.0);
    }
    if (dtb == PORTA_DT_F32) {
      PORTA_DIRECT_K4_LOOP(b_f32x4)
    } else if (dtb == PORTA_DT_F16) {
      PORTA_DIRECT_K4_LOOP(b_f16x4)
    } else {
      PORTA_DIRECT_K4_LOOP(b_bf16x4)
    }
    [[unroll]] for (uint i = 0u; i < WM; ++i) {
      [[unroll]] for (uint j = 0u; j < WN; ++j) {
        const vec4 s = acc[i][j];
        result[i * WN + j] = (s.x + s.y) + (s.z + s.w);
      }
    }
  } else if (a_k4 && b_n4) {
#define WN4 ((WN + 3) / 4)
    uint b_chunk[WN4];
    [[unroll]] for (uint c = 0u; c < WN4; ++c) {
      b_chunk[c] = (b_base >> 2) + min((n_first >> 2) + c, (p.N >> 2) - 1u);
    }
    const uint b_row4 = p.b_rs >> 2;
    vec4 acc[WM][WN4];
    [[unroll]] for (uint i = 0u; i < WM; ++i) {
      [[unroll]] for (uint c = 0u; c < WN4; ++c) acc[i][c] = vec4(0.0);
    }
    for (uint k = 0u; k < p.K; k += 4u) {
      vec4 av[WM];
      [[unroll]] for (uint i = 0u; i < WM; ++i) av[i] = a_v4[(a_row[i] + k) >> 2];
      [[unroll]] for (uint kk = 0u; kk < 4u; ++kk) {
        [[unroll]] for (uint c = 0u; c < WN4; ++c) {
          const vec4 bv = b_v4[b_chunk[c] + (k + kk) * b_row4];
          [[unroll]] for (uint i = 0u; i < WM; ++i) acc[i][c] += av[i][kk] * bv;
        }
      }
    }
    [[unroll]] for (uint i = 0u; i < WM; ++i) {
      [[unroll]] for (uint j = 0u; j < WN; ++j) result[i * WN + j] = acc[i][j / 4u][j % 4u];
    }
  } else {
    uint b_col[WN];
    [[unroll]] for (uint j = 0u; j < WN; ++j) {
      b_col[j] = b_base + min(n_first + j, p.N - 1u) * p.b_cs;
    }
    const bool quantized = dtb >= PORTA_DT_Q4_0;
    const uint block_bytes = quantized ? porta_q_block_bytes(dtb) : 0u;
    float acc[WM][WN];
    [[unroll]] for (uint i = 0u; i < WM; ++i) {
      [[unroll]] for (uint j = 0u; j < WN; ++j) acc[i][j] = 0.0;
    }
    [[dont_unroll]] for (uint k = 0u; k < p.K; ++k) {
      float av[WM];
      [[unroll]] for (uint i = 0u; i < WM; ++i) av[i] = a_load(dta, a_row[i] + k * p.a_cs);
      [[unroll]] for (uint j = 0u; j < WN; ++j) {
        const uint index = b_col[j] + k * p.b_rs;
        const float bv =
            quantized ? b_qelement(dtb, p.b_byte + (index >> 5) * block_bytes, index & 31u)
                      : b_load(dtb, index);
        [[unroll]] for (uint i = 0u; i < WM; ++i) acc[i][j] += av[i] * bv;
      }
    }
    [[unroll]] for (uint i = 0u; i < WM; ++i) {
      [[unroll]] for (uint j = 0u; j < WN; ++j) result[i * WN + j] = acc[i][j];
    }
  }
  store_block(o_base, m_first, n_first, result);
}
