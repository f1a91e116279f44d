// porta_matmul_t{TM}x{TN}x{TK}_w{WM}x{WN}: batched GEMM out = act(alpha A B + beta out + bias)
// (kernels/common/params.h, PORTA_MATMUL_PARAMS). A work-group of (TN/WN, TM/WM) work-items
// computes a TM x TN tile: per k-step of depth TK it stages A and B as f32 tiles in local memory
// (converting the dtype once there, zero-filling past the edges), then every work-item
// accumulates a WM x WN register block. Work-item (tx, ty) owns rows ty + i*(TM/WM) and columns
// tx + j*(TN/WN): neighbouring work-items read neighbouring tile columns (no bank conflicts,
// vectorizable across work-items) and write neighbouring outputs. Included once per variant by
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
  PK_SHARED float a_tile[PORTA_MM_TK][PORTA_MM_TM];
  PK_SHARED float b_tile[PORTA_MM_TK][PORTA_MM_TN];
  const uint threads_n = PORTA_MM_TN / PORTA_MM_WN;
  const uint threads_m = PORTA_MM_TM / PORTA_MM_WM;
  const uint threads = threads_n * threads_m;
  const uint tx = PK_LID0;
  const uint ty = PK_LID1;
  const uint tid = ty * threads_n + tx;
  const uint m0 = PK_GROUP1 * PORTA_MM_TM;
  const uint n0 = PK_GROUP0 * PORTA_MM_TN;
  const uint z = PK_GROUP2;
  uint z1;
  const uint z0 = pk_divmod(z, p.batch1, &z1);
  const uint a_base = p.a_offset + z0 * p.a_bs[0] + z1 * p.a_bs[1];
  const uint b_base = p.b_offset + z0 * p.b_bs[0] + z1 * p.b_bs[1];
  const uint dta = pk_byte(p.dtypes, 0u);
  const uint dtb = pk_byte(p.dtypes, 1u);
  // Tile loads walk along whichever of a tensor's axes is contiguous, so that neighbouring
  // work-items read neighbouring addresses for row-major and transposed operands alike.
  const int a_k_fast = p.a_cs == 1u || p.a_rs != 1u;
  const int b_n_fast = p.b_cs == 1u || p.b_rs != 1u;

  float acc[PORTA_MM_WM][PORTA_MM_WN];
  PK_UNROLL
  for (uint i = 0; i < PORTA_MM_WM; ++i) {
    PK_UNROLL
    for (uint j = 0; j < PORTA_MM_WN; ++j) acc[i][j] = 0.0f;
  }

  for (uint k0 = 0; k0 < p.K; k0 += PORTA_MM_TK) {
    // Every work-item loads the same number of elements, a compile-time count, so the loops
    // unroll; only a tile size that is not a multiple of the work-group size needs the test.
    PK_UNROLL
    for (uint l = 0; l < (PORTA_MM_TM * PORTA_MM_TK + threads - 1u) / threads; ++l) {
      const uint e = tid + l * threads;
      if ((PORTA_MM_TM * PORTA_MM_TK) % threads != 0u && e >= PORTA_MM_TM * PORTA_MM_TK) break;
      uint k_r;
      uint m_r;
      const uint m_q = pk_divmod(e, PORTA_MM_TK, &k_r);
      const uint k_q = pk_divmod(e, PORTA_MM_TM, &m_r);
      const uint mm = a_k_fast ? m_q : m_r;
      const uint kk = a_k_fast ? k_r : k_q;
      const uint m = m0 + mm;
      const uint k = k0 + kk;
      a_tile[kk][mm] = m < p.M && k < p.K ? pk_load(a, dta, a_base + m * p.a_rs + k * p.a_cs) : 0.0f;
    }
    PK_UNROLL
    for (uint l = 0; l < (PORTA_MM_TK * PORTA_MM_TN + threads - 1u) / threads; ++l) {
      const uint e = tid + l * threads;
      if ((PORTA_MM_TK * PORTA_MM_TN) % threads != 0u && e >= PORTA_MM_TK * PORTA_MM_TN) break;
      uint n_r;
      uint k_r;
      const uint k_q = pk_divmod(e, PORTA_MM_TN, &n_r);
      const uint n_q = pk_divmod(e, PORTA_MM_TK, &k_r);
      const uint nn = b_n_fast ? n_r : n_q;
      const uint kk = b_n_fast ? k_q : k_r;
      const uint n = n0 + nn;
      const uint k = k0 + kk;
      b_tile[kk][nn] = n < p.N && k < p.K ? pk_load(b, dtb, b_base + k * p.b_rs + n * p.b_cs) : 0.0f;
    }
    PK_BARRIER();
    PK_UNROLL
    for (uint kk = 0; kk < PORTA_MM_TK; ++kk) {
      float a_reg[PORTA_MM_WM];
      float b_reg[PORTA_MM_WN];
      PK_UNROLL
      for (uint i = 0; i < PORTA_MM_WM; ++i) a_reg[i] = a_tile[kk][ty + i * threads_m];
      PK_UNROLL
      for (uint j = 0; j < PORTA_MM_WN; ++j) b_reg[j] = b_tile[kk][tx + j * threads_n];
      PK_UNROLL
      for (uint i = 0; i < PORTA_MM_WM; ++i) {
        PK_UNROLL
        for (uint j = 0; j < PORTA_MM_WN; ++j) acc[i][j] += a_reg[i] * b_reg[j];
      }
    }
    PK_BARRIER();
  }

  const uint o_base = p.o_offset + z0 * p.o_bs[0] + z1 * p.o_bs[1];
  const uint dto = pk_byte(p.dtypes, 2u);
  const uint dtbias = pk_byte(p.dtypes, 3u);
  const uint act = pk_byte(p.flags, 1u);
  const int use_beta = (p.flags & PORTA_MM_FLAG_BETA) != 0u;
  const int use_bias = (p.flags & PORTA_MM_FLAG_BIAS) != 0u;
  PK_UNROLL
  for (uint j = 0; j < PORTA_MM_WN; ++j) {
    const uint n = n0 + tx + j * threads_n;
    if (n >= p.N) continue;
    const float bias_n = use_bias ? pk_load(bias, dtbias, p.bias_offset + n * p.bias_stride) : 0.0f;
    PK_UNROLL
    for (uint i = 0; i < PORTA_MM_WM; ++i) {
      const uint m = m0 + ty + i * threads_m;
      if (m >= p.M) continue;
      const uint oi = o_base + m * p.o_rs + n * p.o_cs;
      float r = p.alpha * acc[i][j];
      if (use_beta) r += p.beta * pk_load(out, dto, oi);
      if (use_bias) r += bias_n;
      pk_store(out, dto, oi, pk_unary(act, r));
    }
  }
}

#undef PORTA_MM_TM
#undef PORTA_MM_TN
#undef PORTA_MM_TK
#undef PORTA_MM_WM
#undef PORTA_MM_WN
#undef PORTA_MM_NAME
