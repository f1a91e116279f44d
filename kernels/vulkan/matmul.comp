// porta_matmul_t{TM}x{TN}x{TK}_w{WM}x{WN} (kernels/common/params.h): batched, strided GEMM with
// alpha, beta, bias and an activation. Compiled once per tile variant (-DPORTA_MM_TM, _TN, _TK,
// _WM, _WN). A work-group of (TN/WN, TM/WM) invocations computes a TM x TN output tile: per k-step
// it loads a TM x TK tile of A and a TK x TN tile of B into shared memory as f32 (converting the
// dtype on the way), then every invocation accumulates its WM x WN register block. Invocation
// (tx, ty) owns the WM consecutive rows from ty * WM and the WN consecutive columns from tx * WN,
// so that the tiles can be stored as vectors of WM (WN) floats and each k step reads one vector
// of A and one of B: one shared-memory access each instead of WM + WN (wide LDS loads on a GPU;
// on lavapipe, where the shared loads dominate, 3x faster than reading single floats).
#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
#include "common.glsl"

#if !defined(PORTA_MM_TM) || !defined(PORTA_MM_TN) || !defined(PORTA_MM_TK) || \
    !defined(PORTA_MM_WM) || !defined(PORTA_MM_WN)
#error "compile with -DPORTA_MM_TM, _TN, _TK, _WM and _WN (the tile variant)"
#endif
#if (PORTA_MM_TM % PORTA_MM_WM) != 0 || (PORTA_MM_TN % PORTA_MM_WN) != 0
#error "the register block must divide the tile"
#endif
#if (PORTA_MM_WM != 1 && PORTA_MM_WM != 2 && PORTA_MM_WM != 4) || \
    (PORTA_MM_WN != 1 && PORTA_MM_WN != 2 && PORTA_MM_WN != 4)
#error "WM and WN must be 1, 2 or 4 (a float, vec2 or vec4 of the tile)"
#endif

#define TM PORTA_MM_TM
#define TN PORTA_MM_TN
#define TK PORTA_MM_TK
#define WM PORTA_MM_WM
#define WN PORTA_MM_WN
// The work-group: BX invocations along n, BY along m.
#define BX (TN / WN)
#define BY (TM / WM)
#define THREADS (BX * BY)
// One invocation's share of a tile row: AV holds WM rows of A, BV WN columns of B. A_AT(v, i) and
// B_AT(v, j) are their components, A_PUT / B_PUT store one element into the tiles.
#if WM == 1
#define AV float
#define A_AT(v, i) (v)
#define A_PUT(kk, r, x) a_tile[kk][r] = (x)
#else
#if WM == 2
#define AV vec2
#else
#define AV vec4
#endif
#define A_AT(v, i) (v)[i]
#define A_PUT(kk, r, x) a_tile[kk][(r) / WM][(r) % WM] = (x)
#endif
#if WN == 1
#define BV float
#define B_AT(v, j) (v)
#define B_PUT(kk, c, x) b_tile[kk][c] = (x)
#else
#if WN == 2
#define BV vec2
#else
#define BV vec4
#endif
#define B_AT(v, j) (v)[j]
#define B_PUT(kk, c, x) b_tile[kk][(c) / WN][(c) % WN] = (x)
#endif
// Tile elements each invocation loads per k-step, rounded up.
#define A_LOADS ((TM * TK + THREADS - 1) / THREADS)
#define B_LOADS ((TK * TN + THREADS - 1) / THREADS)

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

// A is stored k-major so that the inner loop reads a column of it; the padding spreads the tile
// load's stores, which walk down k, over the banks.
shared AV a_tile[TK][TM / WM + 1];
shared BV b_tile[TK][TN / WN];

#include "matmul_epilogue.glsl"

uint m0, n0, a_base, b_base;

// Element l of this invocation's share of the A tile at k-step k0: its place in the tile, and
// whether it lies inside A (else it is zero). Consecutive invocations take consecutive k
// (contiguous in a row-major A).
bool a_element(uint l, uint k0, out uint r, out uint kk, out uint index) {
  const uint e = l * THREADS + gl_LocalInvocationIndex;
  r = e / TK;
  kk = e % TK;
  index = a_base + (m0 + r) * p.a_rs + (k0 + kk) * p.a_cs;
  return m0 + r < p.M && k0 + kk < p.K;
}

// The same for B, consecutive invocations taking consecutive n.
bool b_element(uint l, uint k0, out uint kk, out uint c, out uint index) {
  const uint e = l * THREADS + gl_LocalInvocationIndex;
  kk = e / TN;
  c = e % TN;
  index = b_base + (k0 + kk) * p.b_rs + (n0 + c) * p.b_cs;
  return n0 + c < p.N && k0 + kk < p.K;
}

// Whether share element l of a tile of |size| elements exists: the last round is partial when
// the tile size is not a multiple of the work-group size.
bool in_tile(uint l, uint size) { return l * THREADS + gl_LocalInvocationIndex < size; }

// Loads the tiles of k-step k0 as f32. The f32 case is unrolled; other dtypes take a loop so that
// the conversion code appears once.
void load_tiles(uint k0, uint dta, uint dtb) {
  uint r, kk, c, index;
  if (dta == PORTA_DT_F32) {
    [[unroll]] for (uint l = 0u; l < A_LOADS; ++l) {
      if (in_tile(l, TM * TK)) {
        const float v = a_element(l, k0, r, kk, index) ? a_f[index] : 0.0;
        A_PUT(kk, r, v);
      }
    }
  } else {
    [[dont_unroll]] for (uint l = 0u; l < A_LOADS; ++l) {
      if (in_tile(l, TM * TK)) {
        const float v = a_element(l, k0, r, kk, index) ? a_load(dta, index) : 0.0;
        A_PUT(kk, r, v);
      }
    }
  }
  if (dtb == PORTA_DT_F32) {
    [[unroll]] for (uint l = 0u; l < B_LOADS; ++l) {
      if (in_tile(l, TK * TN)) {
        const float v = b_element(l, k0, kk, c, index) ? b_f[index] : 0.0;
        B_PUT(kk, c, v);
      }
    }
  } else if (dtb >= PORTA_DT_Q4_0) {
    // Block-quantized b: each element dequantized from its block as the tile is staged.
    const uint block_bytes = porta_q_block_bytes(dtb);
    [[dont_unroll]] for (uint l = 0u; l < B_LOADS; ++l) {
      if (in_tile(l, TK * TN)) {
        const float v = b_element(l, k0, kk, c, index)
                            ? b_qelement(dtb, p.b_byte + (index >> 5) * block_bytes, index & 31u)
                            : 0.0;
        B_PUT(kk, c, v);
      }
    }
  } else {
    [[dont_unroll]] for (uint l = 0u; l < B_LOADS; ++l) {
      if (in_tile(l, TK * TN)) {
        const float v = b_element(l, k0, kk, c, index) ? b_load(dtb, index) : 0.0;
        B_PUT(kk, c, v);
      }
    }
  }
}

void main() {
  const uint tx = gl_LocalInvocationID.x;
  const uint ty = gl_LocalInvocationID.y;
  m0 = gl_WorkGroupID.y * TM;
  n0 = gl_WorkGroupID.x * TN;
  const uint z0 = gl_WorkGroupID.z / p.batch1;
  const uint z1 = gl_WorkGroupID.z % p.batch1;
  a_base = p.a_offset + z0 * p.a_bs[0] + z1 * p.a_bs[1];
  b_base = p.b_offset + z0 * p.b_bs[0] + z1 * p.b_bs[1];
  const uint o_base = p.o_offset + z0 * p.o_bs[0] + z1 * p.o_bs[1];
  const uint dta = porta_byte(p.dtypes, 0u);
  const uint dtb = porta_byte(p.dtypes, 1u);

  float acc[WM][WN];
  [[unroll]] for (uint i = 0u; i < WM; ++i) {
    [[unroll]] for (uint j = 0u; j < WN; ++j) acc[i][j] = 0.0;
  }

  for (uint k0 = 0u; k0 < p.K; k0 += TK) {
    load_tiles(k0, dta, dtb);
    barrier();
    [[unroll]] for (uint kk = 0u; kk < TK; ++kk) {
      const AV av = a_tile[kk][ty];
      const BV bv = b_tile[kk][tx];
      [[unroll]] for (uint i = 0u; i < WM; ++i) {
        [[unroll]] for (uint j = 0u; j < WN; ++j) acc[i][j] += A_AT(av, i) * B_AT(bv, j);
      }
    }
    barrier();
  }

  float result[WM * WN];
  [[unroll]] for (uint i = 0u; i < WM; ++i) {
    [[unroll]] for (uint j = 0u; j < WN; ++j) result[i * WN + j] = acc[i][j];
  }
  store_block(o_base, m0 + ty * WM, n0 + tx * WN, result);
}
