// porta_matmul_t{TM}x{TN}x{TK}_w{WM}x{WN}: batched GEMM out = act(alpha A B + beta out + bias)
// (kernels/common/params.h, PORTA_MATMUL_PARAMS). A work-group of (TN/WN, TM/WM) work-items
// computes a TM x TN tile: per k-step of depth TK it stages A and B as f32 tiles in local memory
// (converting the dtype once there, zero-filling past the edges), then every work-item
// accumulates a WM x WN register block: rows ty*WM.., columns tx*WN... Contiguous blocks make each
// k-step's reads of a tile row short unit-stride vectors, which CPU compilers (PoCL) vectorize
// within the work-item and GPUs read as wide shared-memory loads. Included once per variant by
// kernels/cuda/ops.cu, so it defines nothing at file scope but the kernel and #undefs its knobs.

#ifndef PORTA_MM_TM
#define PORTA_MM_TM 64
#endif
#ifndef PORTA_MM_TN
#define PORTA_MM_TN 64
#endif
#ifndef PORTA_MM_TK
#define PORTA_MM_TK 16
#endif
#ifndef PORTA_MM_WM
#define PORTA_MM_WM 4
#endif
#ifndef PORTA_MM_WN
#define PORTA_MM_WN 4
#endif
#ifndef PORTA_MM_NAME
#define PORTA_MM_NAME \
  PK_MATMUL_NAME(PORTA_MM_TM, PORTA_MM_TN, PORTA_MM_TK, PORTA_MM_WM, PORTA_MM_WN)
#endif

PK_KERNEL_WG(PORTA_MM_TN / PORTA_MM_WN, PORTA_MM_TM / PORTA_MM_WM)
PORTA_MM_NAME(PK_GLOBAL const uchar* a, PK_GLOBAL const uchar* b, PK_GLOBAL const uchar* bias,
              PK_GLOBAL uchar* out, PortaMatmulParams p) {
  // 16-byte aligned so that a work-item's WM or WN neighbouring values can be one wide load.
  PK_SHARED float a_tile[PORTA_MM_TK][PORTA_MM_TM] __attribute__((aligned(16)));
  PK_SHARED float b_tile[PORTA_MM_TK][PORTA_MM_TN] __attribute__((aligned(16)));
  const uint threads = (PORTA_MM_TN / PORTA_MM_WN) * (PORTA_MM_TM / PORTA_MM_WM);
  const uint a_size = PORTA_MM_TM * PORTA_MM_TK;
  const uint b_size = PORTA_MM_TK * PORTA_MM_TN;
  // Tile elements each work-item stages per k-step. These loops are left to the compiler's
  // judgement: forced unrolling of the 32 loads of t4x128x32 makes clang-15 build 32-wide index
  // vectors, which OpenCL SPIR-V cannot express.
  const uint a_loads = (a_size + threads - 1u) / threads;
  const uint b_loads = (b_size + threads - 1u) / threads;
  PK_LOCAL float* a_flat = &a_tile[0][0];
  PK_LOCAL float* b_flat = &b_tile[0][0];
  const uint tx = PK_LID0;
  const uint ty = PK_LID1;
  const uint tid = ty * (PORTA_MM_TN / PORTA_MM_WN) + tx;
  const uint m0 = PK_GROUP1 * PORTA_MM_TM;
  const uint n0 = PK_GROUP0 * PORTA_MM_TN;
  uint z1;
  const uint z0 = pk_divmod(PK_GROUP2, p.batch1, &z1);
  const uint a_base = p.a_offset + z0 * p.a_bs[0] + z1 * p.a_bs[1];
  const uint b_base = p.b_offset + z0 * p.b_bs[0] + z1 * p.b_bs[1];
  const uint dta = pk_byte(p.dtypes, 0u);
  const uint dtb = pk_byte(p.dtypes, 1u);

  float acc[PORTA_MM_WM][PORTA_MM_WN];
  PK_UNROLL
  for (uint i = 0; i < PORTA_MM_WM; ++i) {
    PK_UNROLL
    for (uint j = 0; j < PORTA_MM_WN; ++j) acc[i][j] = 0.0f;
  }

  for (uint k0 = 0; k0 < p.K; k0 += PORTA_MM_TK) {
    // The dtype is tested once, outside the loops: a test per element keeps PoCL from
    // vectorizing them. Surplus iterations (a tile size not a multiple of the work-group size)
    // store nothing.
    if (dta == PORTA_DT_F32) {
      for (uint l = 0; l < a_loads; ++l) {
        uint slot;
        const uint i = pk_tile_source(tid + l * threads, PORTA_MM_TM, PORTA_MM_TK, a_base, p.a_rs,
                                      p.a_cs, m0, p.M, k0, p.K, &slot);
        if (a_size % threads == 0u || tid + l * threads < a_size) {
          a_flat[slot] = i != 0xffffffffu ? ((PK_GLOBAL const float*)a)[i] : 0.0f;
        }
      }
    } else {
      for (uint l = 0; l < a_loads; ++l) {
        uint slot;
        const uint i = pk_tile_source(tid + l * threads, PORTA_MM_TM, PORTA_MM_TK, a_base, p.a_rs,
                                      p.a_cs, m0, p.M, k0, p.K, &slot);
        if (a_size % threads == 0u || tid + l * threads < a_size) {
          a_flat[slot] = i != 0xffffffffu ? pk_load(a, dta, i) : 0.0f;
        }
      }
    }
    if (dtb == PORTA_DT_F32) {
      for (uint l = 0; l < b_loads; ++l) {
        uint slot;
        const uint i = pk_tile_source(tid + l * threads, PORTA_MM_TN, PORTA_MM_TK, b_base, p.b_cs,
                                      p.b_rs, n0, p.N, k0, p.K, &slot);
        if (b_size % threads == 0u || tid + l * threads < b_size) {
          b_flat[slot] = i != 0xffffffffu ? ((PK_GLOBAL const float*)b)[i] : 0.0f;
        }
      }
    } else if (dtb >= PORTA_DT_Q4_0) {
      // Block-quantized b: each element dequantized from its block as the tile is staged.
      const uint block_bytes = pk_q_block_bytes(dtb);
      for (uint l = 0; l < b_loads; ++l) {
        uint slot;
        const uint i = pk_tile_source(tid + l * threads, PORTA_MM_TN, PORTA_MM_TK, b_base, p.b_cs,
                                      p.b_rs, n0, p.N, k0, p.K, &slot);
        if (b_size % threads == 0u || tid + l * threads < b_size) {
          b_flat[slot] = i != 0xffffffffu
                             ? pk_q_element(b, dtb, p.b_byte + (i >> 5) * block_bytes, i & 31u)
                             : 0.0f;
        }
      }
    } else {
      for (uint l = 0; l < b_loads; ++l) {
        uint slot;
        const uint i = pk_tile_source(tid + l * threads, PORTA_MM_TN, PORTA_MM_TK, b_base, p.b_cs,
                                      p.b_rs, n0, p.N, k0, p.K, &slot);
        if (b_size % threads == 0u || tid + l * threads < b_size) {
          b_flat[slot] = i != 0xffffffffu ? pk_load(b, dtb, i) : 0.0f;
        }
      }
    }
    PK_BARRIER();
    PK_UNROLL
    for (uint kk = 0; kk < PORTA_MM_TK; ++kk) {
      float a_reg[PORTA_MM_WM];
      float b_reg[PORTA_MM_WN];
      PK_UNROLL
      for (uint i = 0; i < PORTA_MM_WM; ++i) a_reg[i] = a_tile[kk][ty * PORTA_MM_WM + i];
      PK_UNROLL
      for (uint j = 0; j < PORTA_MM_WN; ++j) b_reg[j] = b_tile[kk][tx * PORTA_MM_WN + j];
      PK_UNROLL
      for (uint i = 0; i < PORTA_MM_WM; ++i) {
        PK_UNROLL
        for (uint j = 0; j < PORTA_MM_WN; ++j) acc[i][j] += a_reg[i] * b_reg[j];
      }
    }
    PK_BARRIER();
  }

  const uint o_base = p.o_offset + z0 * p.o_bs[0] + z1 * p.o_bs[1];
  PK_UNROLL
  for (uint j = 0; j < PORTA_MM_WN; ++j) {
    const uint n = n0 + tx * PORTA_MM_WN + j;
    if (n >= p.N) continue;
    PK_UNROLL
    for (uint i = 0; i < PORTA_MM_WM; ++i) {
      const uint m = m0 + ty * PORTA_MM_WM + i;
      if (m >= p.M) continue;
      pk_matmul_store(out, bias, &p, o_base + m * p.o_rs + n * p.o_cs, n, acc[i][j]);
    }
  }
}

#undef PORTA_MM_TM
#undef PORTA_MM_TN
#undef PORTA_MM_TK
#undef PORTA_MM_WM
#undef PORTA_MM_WN
#undef PORTA_MM_NAME
