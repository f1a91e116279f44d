// porta_matmul_t{TM}x{TN}x0_w{WM}x{WN}_s8: the subgroup variant of the direct matmul (TK = 0, no
// shared memory, no barrier), for devices emulated on a CPU whose subgroup is 8 lanes of one SIMD
// register (Mesa's lavapipe with 256-bit vectors). The work-group is one subgroup of 8 invocations
// (TM = WM rows, TN = 8 WN columns: a block of 8 x 1); every invocation computes the WM rows of its
// WN columns.
//
// Why: lavapipe executes a storage-buffer load as a loop over the 8 lanes with a bounds check per
// component, so one 32-bit component costs as much as some thirty multiply-adds; the kernel has
// to be built around loading as few components as possible. Here the 8 lanes load a row of a's
// k-run together (lane l the 64-bit word holding k + 2l and k + 2l + 1) and pass each value to
// all lanes with subgroupShuffle at a constant lane (one vector shuffle in lavapipe, where
// subgroupBroadcast searches the active lanes in a loop on every call: the f16-weight product ran
// 1.3 times faster for the change), and b comes in 64-bit words: eight f16 values in two
// components. The tuning table uses it where the device's only subgroup size is 8.
//
// Four paths, chosen per launch from the strides (uniform branches):
// - k-contiguous f32 A and k-contiguous B (as the next path) read through texel views
//   (porta_texel_views: where the backend could make them), 16-byte-aligned rows of A and
//   columns of B, K a multiple of 32: lane l holds A's k + 4l .. k + 4l + 3 of each row, one
//   texel, and reads B in 16-byte texels. lavapipe gathers a texel fetch in vector code: 12.5
//   GFLOP/s for f16 weights at 512x4096x14336, against 7.35 through the storage buffers;
// - k-contiguous f32 A and k-contiguous f32, f16 or bf16 B (B transposed, as model weights are
//   stored), K a multiple of 16: lane l owns columns n0 + 8j + l;
// - k-contiguous f32 A and n-contiguous f32 B, K a multiple of 16, N even: lane l owns the column
//   pairs n0 + 16c + 2l, + 1, read as one 64-bit word per k;
// - anything else (other strides or dtypes, block-quantized B): one element at a time, lane l
//   owning columns n0 + 8j + l.
#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
#extension GL_KHR_shader_subgroup_shuffle : require
#extension GL_ARB_gpu_shader_int64 : require
#extension GL_EXT_samplerless_texture_functions : require
#include "common.glsl"

#if !defined(PORTA_MM_TM) || !defined(PORTA_MM_TN) || !defined(PORTA_MM_TK) || \
    !defined(PORTA_MM_WM) || !defined(PORTA_MM_WN) || !defined(PORTA_MM_SG)
#error "compile with -DPORTA_MM_TM, _TN, _TK, _WM, _WN and _SG (the tile variant)"
#endif
#if PORTA_MM_TK != 0 || PORTA_MM_SG != 8 || PORTA_MM_TM != PORTA_MM_WM || \
    PORTA_MM_TN != 8 * PORTA_MM_WN || (PORTA_MM_WN % 2) != 0
#error "the subgroup variant has TK = 0, SG = 8, TM = WM, TN = 8 WN and an even WN"
#endif

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
// 64-bit views for the fast paths: two floats of a; eight 16-bit or four 32-bit values of b
// (two or four words); two floats of b.
layout(std430, set = 0, binding = 0) readonly buffer a_U64 { uint64_t a_u64[]; };
layout(std430, set = 0, binding = 1) readonly buffer b_U64x2 { u64vec2 b_u64x2[]; };
layout(std430, set = 0, binding = 1) readonly buffer b_U64x4 { u64vec4 b_u64x4[]; };
layout(std430, set = 0, binding = 1) readonly buffer b_U64 { uint64_t b_u64[]; };

// Texel views of a and b (16-byte texels: four floats of a; eight 16-bit or four 32-bit values of
// b) where the backend could make them (porta_texel_views).
PORTA_TEXEL_VIEW(0, a)
PORTA_TEXEL_VIEW(1, b)
PORTA_TEXEL_VIEWS

#include "matmul_epilogue.glsl"

vec2 float2(uint64_t w) { return uintBitsToFloat(unpackUint2x32(w)); }

// Eight consecutive elements of b from element |i| (a multiple of 8) as f32, into bq[j][0..1].
#define B8_F16(j, i)                                          \
  {                                                           \
    const u64vec2 w = b_u64x2[(i) >> 3];                      \
    bq[j][0] = porta_f16x4_to_f32(unpackUint2x32(w.x));       \
    bq[j][1] = porta_f16x4_to_f32(unpackUint2x32(w.y));       \
  }
#define B8_BF16(j, i)                                         \
  {                                                           \
    const u64vec2 w = b_u64x2[(i) >> 3];                      \
    bq[j][0] = porta_bf16x4_to_f32(unpackUint2x32(w.x));      \
    bq[j][1] = porta_bf16x4_to_f32(unpackUint2x32(w.y));      \
  }
#define B8_F32(j, i)                                          \
  {                                                           \
    const u64vec4 w = b_u64x4[(i) >> 3];                      \
    bq[j][0] = vec4(float2(w.x), float2(w.y));                \
    bq[j][1] = vec4(float2(w.z), float2(w.w));                \
  }

// a's value at k + KL (KL a constant below 16) for every lane: lane KL / 2 holds it.
#define A_AT(i, KL) subgroupShuffle(av[i][(KL) & 1u], (KL) >> 1)

// One k of the k-contiguous path: bq holds b at k + 8h .. k + 8h + 7.
#define K_STEP(KL, Q, C)                                               \
  [[unroll]] for (uint i = 0u; i < WM; ++i) {                          \
    const float x = A_AT(i, KL);                                       \
    [[unroll]] for (uint j = 0u; j < WN; ++j) acc[i][j] += x * bq[j][Q][C]; \
  }
// Eight k of the k-contiguous path from k + 8h, with |B8| reading b.
#define K_HALF(H, B8)                                                      \
  {                                                                        \
    vec4 bq[WN][2];                                                        \
    [[unroll]] for (uint j = 0u; j < WN; ++j) B8(j, b_col[j] + k + 8u * H) \
    K_STEP(8u * H + 0u, 0, 0)                                              \
    K_STEP(8u * H + 1u, 0, 1)                                              \
    K_STEP(8u * H + 2u, 0, 2)                                              \
    K_STEP(8u * H + 3u, 0, 3)                                              \
    K_STEP(8u * H + 4u, 1, 0)                                              \
    K_STEP(8u * H + 5u, 1, 1)                                              \
    K_STEP(8u * H + 6u, 1, 2)                                              \
    K_STEP(8u * H + 7u, 1, 3)                                              \
  }
// Lane l loads the 64-bit word of a's row i holding k + 2l and k + 2l + 1.
#define LOAD_A                                                                             \
  vec2 av[WM];                                                                             \
  [[unroll]] for (uint i = 0u; i < WM; ++i) av[i] = float2(a_u64[a_word[i] + (k >> 1) + lane]);
// The k loop of the k-contiguous path, 16 k per step.
#define K_LOOP(B8)                         \
  for (uint k = 0u; k < p.K; k += 16u) {   \
    LOAD_A                                 \
    K_HALF(0u, B8)                         \
    K_HALF(1u, B8)                         \
  }

// The texel path: 32 k per step, lane l holding a's k + 4l .. k + 4l + 3 of each row.
#define A4_AT(i, KL) subgroupShuffle(av[i][(KL) & 3u], (KL) >> 2)
#define KT_STEP(KL, Q, C)                                              \
  [[unroll]] for (uint i = 0u; i < WM; ++i) {                          \
    const float x = A4_AT(i, KL);                                      \
    [[unroll]] for (uint j = 0u; j < WN; ++j) acc[i][j] += x * bq[j][Q][C]; \
  }
// Eight consecutive elements of b from element |i| (a multiple of 8) as f32, into bq[j][0..1],
// from the texel view.
#define T8_F16(j, i)                                          \
  {                                                           \
    const uvec4 w = texelFetch(b_tex, int((i) >> 3));         \
    bq[j][0] = porta_f16x4_to_f32(w.xy);                      \
    bq[j][1] = porta_f16x4_to_f32(w.zw);                      \
  }
#define T8_BF16(j, i)                                         \
  {                                                           \
    const uvec4 w = texelFetch(b_tex, int((i) >> 3));         \
    bq[j][0] = porta_bf16x4_to_f32(w.xy);                     \
    bq[j][1] = porta_bf16x4_to_f32(w.zw);                     \
  }
#define T8_F32(j, i)                                                  \
  {                                                                   \
    bq[j][0] = uintBitsToFloat(texelFetch(b_tex, int((i) >> 2)));     \
    bq[j][1] = uintBitsToFloat(texelFetch(b_tex, int((i) >> 2) + 1)); \
  }
// Eight k of the texel path from k + 8h.
#define KT_EIGHTH(H, T8)                                                   \
  {                                                                        \
    vec4 bq[WN][2];                                                        \
    [[unroll]] for (uint j = 0u; j < WN; ++j) T8(j, b_col[j] + k + 8u * H) \
    KT_STEP(8u * H + 0u, 0, 0)                                             \
    KT_STEP(8u * H + 1u, 0, 1)                                             \
    KT_STEP(8u * H + 2u, 0, 2)                                             \
    KT_STEP(8u * H + 3u, 0, 3)                                             \
    KT_STEP(8u * H + 4u, 1, 0)                                             \
    KT_STEP(8u * H + 5u, 1, 1)                                             \
    KT_STEP(8u * H + 6u, 1, 2)                                             \
    KT_STEP(8u * H + 7u, 1, 3)                                             \
  }
#define KT_LOOP(T8)                                                                      \
  for (uint k = 0u; k < p.K; k += 32u) {                                                 \
    vec4 av[WM];                                                                         \
    [[unroll]] for (uint i = 0u; i < WM; ++i) {                                          \
      av[i] = uintBitsToFloat(texelFetch(a_tex, int(a_texel[i] + (k >> 2) + lane)));     \
    }                                                                                    \
    KT_EIGHTH(0u, T8)                                                                    \
    KT_EIGHTH(1u, T8)                                                                    \
    KT_EIGHTH(2u, T8)                                                                    \
    KT_EIGHTH(3u, T8)                                                                    \
  }

// One k of the n-contiguous path: the lane's column pairs of b's row k + KL.
#define N_STEP(KL)                                                                           \
  {                                                                                          \
    vec2 bp[WN / 2];                                                                         \
    [[unroll]] for (uint c = 0u; c < WN / 2; ++c) {                                          \
      bp[c] = float2(b_u64[(b_pair[c] + (k + (KL)) * p.b_rs) >> 1]);                         \
    }                                                                                        \
    [[unroll]] for (uint i = 0u; i < WM; ++i) {                                              \
      const float x = A_AT(i, KL);                                                           \
      [[unroll]] for (uint c = 0u; c < WN / 2; ++c) {                                        \
        acc[i][2u * c] += x * bp[c].x;                                                       \
        acc[i][2u * c + 1u] += x * bp[c].y;                                                  \
      }                                                                                      \
    }                                                                                        \
  }

bool even(uint x) { return (x & 1u) == 0u; }
bool aligned4(uint x) { return (x & 3u) == 0u; }
bool aligned8(uint x) { return (x & 7u) == 0u; }

void main() {
  const uint lane = gl_SubgroupInvocationID;
  const uint m_first = gl_WorkGroupID.y * WM;
  const uint n0 = gl_WorkGroupID.x * (8u * WN);
  const uint z0 = gl_WorkGroupID.z / p.batch1;
  const uint z1 = gl_WorkGroupID.z % p.batch1;
  const uint a_base = p.a_offset + z0 * p.a_bs[0] + z1 * p.a_bs[1];
  const uint b_base = p.b_offset + z0 * p.b_bs[0] + z1 * p.b_bs[1];
  const uint o_base = p.o_offset + z0 * p.o_bs[0] + z1 * p.o_bs[1];
  const uint dta = porta_byte(p.dtypes, 0u);
  const uint dtb = porta_byte(p.dtypes, 1u);

  // Rows and columns past the edge read the last row or column (and are not stored), so every
  // load stays inside the tensors. No invocation leaves early: the shuffles need all 8 lanes.
  const bool a_k16 = dta == PORTA_DT_F32 && p.a_cs == 1u && (p.K & 15u) == 0u && even(a_base) &&
                     even(p.a_rs);
  const bool b_k8 = (dtb == PORTA_DT_F32 || dtb == PORTA_DT_F16 || dtb == PORTA_DT_BF16) &&
                    p.b_rs == 1u && aligned8(b_base) && aligned8(p.b_cs);
  const bool b_n2 = dtb == PORTA_DT_F32 && p.b_cs == 1u && even(p.N) && even(b_base) &&
                    even(p.b_rs);
  uint cols[WN];
  float acc[WM][WN];
  [[unroll]] for (uint i = 0u; i < WM; ++i) {
    [[unroll]] for (uint j = 0u; j < WN; ++j) acc[i][j] = 0.0;
  }
  // The texel path: both views real, a's rows and b's columns whole texels, K a multiple of 32.
  const bool texels = (porta_texel_views & 3u) == 3u && a_k16 && (p.K & 31u) == 0u &&
                      aligned4(a_base) && aligned4(p.a_rs) && b_k8;
  if (texels) {
    uint a_texel[WM];
    [[unroll]] for (uint i = 0u; i < WM; ++i) {
      a_texel[i] = (a_base + min(m_first + i, p.M - 1u) * p.a_rs) >> 2;
    }
    uint b_col[WN];
    [[unroll]] for (uint j = 0u; j < WN; ++j) {
      cols[j] = n0 + 8u * j + lane;
      b_col[j] = b_base + min(cols[j], p.N - 1u) * p.b_cs;
    }
    if (dtb == PORTA_DT_F16) {
      KT_LOOP(T8_F16)
    } else if (dtb == PORTA_DT_BF16) {
      KT_LOOP(T8_BF16)
    } else {
      KT_LOOP(T8_F32)
    }
  } else if (a_k16 && (b_k8 || b_n2)) {
    uint a_word[WM];
    [[unroll]] for (uint i = 0u; i < WM; ++i) {
      a_word[i] = (a_base + min(m_first + i, p.M - 1u) * p.a_rs) >> 1;
    }
    if (b_k8) {
      uint b_col[WN];
      [[unroll]] for (uint j = 0u; j < WN; ++j) {
        cols[j] = n0 + 8u * j + lane;
        b_col[j] = b_base + min(cols[j], p.N - 1u) * p.b_cs;
      }
      if (dtb == PORTA_DT_F16) {
        K_LOOP(B8_F16)
      } else if (dtb == PORTA_DT_BF16) {
        K_LOOP(B8_BF16)
      } else {
        K_LOOP(B8_F32)
      }
    } else {
      uint b_pair[WN / 2];
      [[unroll]] for (uint c = 0u; c < WN / 2; ++c) {
        const uint n = n0 + 16u * c + 2u * lane;
        cols[2u * c] = n;
        cols[2u * c + 1u] = n + 1u;
        b_pair[c] = b_base + min(n, p.N - 2u);
      }
      for (uint k = 0u; k < p.K; k += 16u) {
        LOAD_A
        N_STEP(0u) N_STEP(1u) N_STEP(2u) N_STEP(3u) N_STEP(4u) N_STEP(5u) N_STEP(6u) N_STEP(7u)
        N_STEP(8u) N_STEP(9u) N_STEP(10u) N_STEP(11u) N_STEP(12u) N_STEP(13u) N_STEP(14u)
        N_STEP(15u)
      }
    }
  } else {
    uint a_row[WM];
    [[unroll]] for (uint i = 0u; i < WM; ++i) {
      a_row[i] = a_base + min(m_first + i, p.M - 1u) * p.a_rs;
    }
    uint b_col[WN];
    [[unroll]] for (uint j = 0u; j < WN; ++j) {
      cols[j] = n0 + 8u * j + lane;
      b_col[j] = b_base + min(cols[j], p.N - 1u) * p.b_cs;
    }
    const bool quantized = dtb >= PORTA_DT_Q4_0;
    const uint block_bytes = quantized ? porta_q_block_bytes(dtb) : 0u;
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
  }
  float result[WM * WN];
  [[unroll]] for (uint i = 0u; i < WM; ++i) {
    [[unroll]] for (uint j = 0u; j < WN; ++j) result[i * WN + j] = acc[i][j];
  }
  store_block_cols(o_base, m_first, cols, result);
}
