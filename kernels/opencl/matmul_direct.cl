// porta_matmul_t{TM}x{TN}x0_w{WM}x{WN}, OpenCL C only: the direct matmul variant for OpenCL devices
// that run on a CPU (PoCL). Same contract, grid and work-group as kernels/opencl/matmul.cl
// (PORTA_MATMUL_PARAMS), but no local memory and no barrier: each work-item computes its WM x WN
// block straight from global memory into float8 accumulators, which a CPU compiler keeps in
// vector registers (WN is a multiple of 8). The caches serve the reuse that local memory serves
// on a GPU, without the staging copies, and without the barriers across which PoCL saves and
// restores every work-item's registers.
//
// Each work-item takes the first of these paths that applies:
//   - b n-contiguous (b_cs = 1), a f32, b f32, f16 or bf16, the block's WN columns inside N: per
//     k, WN / 8 vector loads of b's row and one a value broadcast per row;
//   - a and b k-contiguous (a_cs = b_rs = 1), a f32, b f32, f16 or bf16, K >= 8: dot products
//     over 8-wide k runs, two columns and up to four rows at a time;
//   - anything else (other layouts and dtypes, a block-quantized b, blocks cut by N): one element
//     at a time.
// Rows past M (and, on the second path, columns past N) are computed on the last row (column) and
// not stored, so that the vector paths also serve the edges.

#ifndef PORTA_MM_TM
#define PORTA_MM_TM 32
#endif
#ifndef PORTA_MM_TN
#define PORTA_MM_TN 64
#endif
#ifndef PORTA_MM_WM
#define PORTA_MM_WM 4
#endif
#ifndef PORTA_MM_WN
#define PORTA_MM_WN 16
#endif
#ifndef PORTA_MM_NAME
#define PORTA_MM_NAME PK_MATMUL_NAME(PORTA_MM_TM, PORTA_MM_TN, 0, PORTA_MM_WM, PORTA_MM_WN)
#endif

#define PK_MMD_NV (PORTA_MM_WN / 8)
// Rows per pass of the k-contiguous path: 2 columns x 4 rows of float8 sums fit the 16 vector
// registers of AVX2 with the loads.
#define PK_MMD_RG (PORTA_MM_WM < 4 ? PORTA_MM_WM : 4)

PK_FN float pk_mmd_f32(PK_GLOBAL const uchar* p, uint i) {
  return ((PK_GLOBAL const float*)p)[i];
}
PK_FN float pk_mmd_f16(PK_GLOBAL const uchar* p, uint i) {
  return vload_half(0, (PK_GLOBAL const half*)p + i);
}
PK_FN float pk_mmd_bf16(PK_GLOBAL const uchar* p, uint i) {
  return pk_load_bf16(p, i);
}

// The n-contiguous path's k loop for b loaded by LOAD8; a_row[i] is the index of row i's first
// element (k = 0) of a, b_at that of b's element (0, n0).
#define PK_MMD_ROW_LOOP(LOAD8)                                                         \
  for (uint k = 0; k < p.K; ++k) {                                                     \
    float8 bv[PK_MMD_NV];                                                              \
    PK_UNROLL                                                                          \
    for (uint j = 0; j < PK_MMD_NV; ++j) bv[j] = LOAD8(b, b_at + k * p.b_rs + 8u * j); \
    PK_UNROLL                                                                          \
    for (uint i = 0; i < PORTA_MM_WM; ++i) {                                           \
      const float8 av = (float8)(af[a_row[i] + k * p.a_cs]);                           \
      PK_UNROLL                                                                        \
      for (uint j = 0; j < PK_MMD_NV; ++j) acc[i][j] = fma(av, bv[j], acc[i][j]);      \
    }                                                                                  \
  }

// The k-contiguous path for b loaded by LOAD8 / LOAD1: sums[i][j] for every row and column,
// column pairs (c0, c1) at b elements b_col[j], rows at a_row[i].
#define PK_MMD_DOT_LOOP(LOAD8, LOAD1)                                    \
  for (uint j = 0; j < PORTA_MM_WN; j += 2u) {                           \
    const uint b0 = b_col[j], b1 = b_col[j + 1u];                        \
    for (uint i0 = 0; i0 < PORTA_MM_WM; i0 += PK_MMD_RG) {               \
      float8 s0[PK_MMD_RG], s1[PK_MMD_RG];                               \
      uint ar[PK_MMD_RG];                                                \
      PK_UNROLL                                                          \
      for (uint i = 0; i < PK_MMD_RG; ++i) {                             \
        s0[i] = (float8)(0.0f);                                          \
        s1[i] = (float8)(0.0f);                                          \
        ar[i] = a_row[i0 + i < PORTA_MM_WM ? i0 + i : PORTA_MM_WM - 1u]; \
      }                                                                  \
      uint k = 0;                                                        \
      for (; k + 8u <= p.K; k += 8u) {                                   \
        const float8 bv0 = LOAD8(b, b0 + k), bv1 = LOAD8(b, b1 + k);     \
        PK_UNROLL                                                        \
        for (uint i = 0; i < PK_MMD_RG; ++i) {                           \
          const float8 av = vload8(0, af + ar[i] + k);                   \
          s0[i] = fma(av, bv0, s0[i]);                                   \
          s1[i] = fma(av, bv1, s1[i]);                                   \
        }                                                                \
      }                                                                  \
      PK_UNROLL                                                          \
      for (uint i = 0; i < PK_MMD_RG; ++i) {                             \
        float t0 = pk_sum8(s0[i]), t1 = pk_sum8(s1[i]);                  \
        for (uint kt = k; kt < p.K; ++kt) {                              \
          t0 = fma(af[ar[i] + kt], LOAD1(b, b0 + kt), t0);               \
          t1 = fma(af[ar[i] + kt], LOAD1(b, b1 + kt), t1);               \
        }                                                                \
        if (i0 + i < PORTA_MM_WM) {                                      \
          sums[i0 + i][j] = t0;                                          \
          sums[i0 + i][j + 1u] = t1;                                     \
        }                                                                \
      }                                                                  \
    }                                                                    \
  }

PK_KERNEL_WG(PORTA_MM_TN / PORTA_MM_WN, PORTA_MM_TM / PORTA_MM_WM)
PORTA_MM_NAME(PK_GLOBAL const uchar* a, PK_GLOBAL const uchar* b, PK_GLOBAL const uchar* bias,
              PK_GLOBAL uchar* out, PortaMatmulParams p) {
  const uint m0 = PK_GROUP1 * PORTA_MM_TM + PK_LID1 * PORTA_MM_WM;
  const uint n0 = PK_GROUP0 * PORTA_MM_TN + PK_LID0 * PORTA_MM_WN;
  if (m0 >= p.M || n0 >= p.N) return;
  uint z1;
  const uint z0 = pk_divmod(PK_GROUP2, p.batch1, &z1);
  const uint a_base = p.a_offset + z0 * p.a_bs[0] + z1 * p.a_bs[1];
  const uint b_base = p.b_offset + z0 * p.b_bs[0] + z1 * p.b_bs[1];
  const uint o_base = p.o_offset + z0 * p.o_bs[0] + z1 * p.o_bs[1];
  const uint dta = pk_byte(p.dtypes, 0u);
  const uint dtb = pk_byte(p.dtypes, 1u);
  const int b_vector = dtb == PORTA_DT_F32 || dtb == PORTA_DT_F16 || dtb == PORTA_DT_BF16;
  PK_GLOBAL const float* af = (PK_GLOBAL const float*)a;
  // Row i's first element of a; rows past M repeat the last one.
  uint a_row[PORTA_MM_WM];
  PK_UNROLL
  for (uint i = 0; i < PORTA_MM_WM; ++i) a_row[i] = a_base + pk_minu(m0 + i, p.M - 1u) * p.a_rs;
  float sums[PORTA_MM_WM][PORTA_MM_WN];

  if (dta == PORTA_DT_F32 && b_vector && p.b_cs == 1u && n0 + PORTA_MM_WN <= p.N) {
    float8 acc[PORTA_MM_WM][PK_MMD_NV];
    PK_UNROLL
    for (uint i = 0; i < PORTA_MM_WM; ++i) {
      PK_UNROLL
      for (uint j = 0; j < PK_MMD_NV; ++j) acc[i][j] = (float8)(0.0f);
    }
    const uint b_at = b_base + n0;
    if (dtb == PORTA_DT_F32) {
      PK_MMD_ROW_LOOP(pk_f32x8)
    } else if (dtb == PORTA_DT_F16) {
      PK_MMD_ROW_LOOP(pk_f16x8)
    } else {
      PK_MMD_ROW_LOOP(pk_bf16x8)
    }
    PK_UNROLL
    for (uint i = 0; i < PORTA_MM_WM; ++i) {
      PK_UNROLL
      for (uint j = 0; j < PK_MMD_NV; ++j) vstore8(acc[i][j], 0, &sums[i][8u * j]);
    }
  } else if (dta == PORTA_DT_F32 && b_vector && p.a_cs == 1u && p.b_rs == 1u && p.K >= 8u) {
    // Column j's first element of b; columns past N repeat the last one.
    uint b_col[PORTA_MM_WN];
    PK_UNROLL
    for (uint j = 0; j < PORTA_MM_WN; ++j) b_col[j] = b_base + pk_minu(n0 + j, p.N - 1u) * p.b_cs;
    if (dtb == PORTA_DT_F32) {
      PK_MMD_DOT_LOOP(pk_f32x8, pk_mmd_f32)
    } else if (dtb == PORTA_DT_F16) {
      PK_MMD_DOT_LOOP(pk_f16x8, pk_mmd_f16)
    } else {
      PK_MMD_DOT_LOOP(pk_bf16x8, pk_mmd_bf16)
    }
  } else {
    const uint block_bytes = dtb >= PORTA_DT_Q4_0 ? pk_q_block_bytes(dtb) : 0u;
    for (uint i = 0; i < PORTA_MM_WM; ++i) {
      const uint m = pk_minu(m0 + i, p.M - 1u);
      for (uint j = 0; j < PORTA_MM_WN; ++j) {
        const uint n = pk_minu(n0 + j, p.N - 1u);
        float s = 0.0f;
        for (uint k = 0; k < p.K; ++k) {
          const uint bi = b_base + k * p.b_rs + n * p.b_cs;
          const float bk = block_bytes != 0u
                               ? pk_q_element(b, dtb, p.b_byte + (bi >> 5) * block_bytes, bi & 31u)
                               : pk_load(b, dtb, bi);
          s = fma(pk_load(a, dta, a_base + m * p.a_rs + k * p.a_cs), bk, s);
        }
        sums[i][j] = s;
      }
    }
  }

  // f32 rows of whole vectors inside N take the epilogue 8 columns at a time (the activation's
  // math in vector form: an erf or exp per element costs more than the block's sums otherwise).
  const uint dto = pk_byte(p.dtypes, 2u);
  const int bias_vector = (p.flags & PORTA_MM_FLAG_BIAS) == 0u ||
                          (pk_byte(p.dtypes, 3u) == PORTA_DT_F32 && p.bias_stride == 1u);
  if (dto == PORTA_DT_F32 && p.o_cs == 1u && bias_vector && n0 + PORTA_MM_WN <= p.N) {
    const uint act = pk_byte(p.flags, 1u);
    PK_GLOBAL float* of = (PK_GLOBAL float*)out;
    PK_GLOBAL const float* bf = (PK_GLOBAL const float*)bias + p.bias_offset + n0;
    PK_UNROLL
    for (uint i = 0; i < PORTA_MM_WM; ++i) {
      if (m0 + i >= p.M) break;
      const uint oi = o_base + (m0 + i) * p.o_rs + n0;
      PK_UNROLL
      for (uint j = 0; j < PK_MMD_NV; ++j) {
        float8 r = p.alpha * vload8(0, &sums[i][8u * j]);
        if ((p.flags & PORTA_MM_FLAG_BETA) != 0u) r += p.beta * vload8(0, of + oi + 8u * j);
        if ((p.flags & PORTA_MM_FLAG_BIAS) != 0u) r += vload8(0, bf + 8u * j);
        vstore8(act == 0u ? r : pk_unary8(act, r), 0, of + oi + 8u * j);
      }
    }
    return;
  }
  PK_UNROLL
  for (uint j = 0; j < PORTA_MM_WN; ++j) {
    const uint n = n0 + j;
    if (n >= p.N) break;
    PK_UNROLL
    for (uint i = 0; i < PORTA_MM_WM; ++i) {
      const uint m = m0 + i;
      if (m >= p.M) break;
      pk_matmul_store(out, bias, &p, o_base + m * p.o_rs + n * p.o_cs, n, sums[i][j]);
    }
  }
}

// porta_matmul_pack (a second entry of the same program): the k-contiguous copy of b that
// porta_ops_matmul makes first when b is not (kernels/ops/matmul.cpp). out[o_offset + n * K + k] =
// B[k][n] = b[b_offset + k * b_rs + n * b_cs], bits unchanged, for b's dtype (byte 1 of dtypes);
// a and bias are unused. Each work-item moves an 8 x 8 block: as eight row loads and eight column
// stores of 8 elements (a transpose in registers) when b is n-contiguous and the block is whole,
// else element by element.
#define PK_MMD_T8(T, r, c) \
  (T)(r[0].s##c, r[1].s##c, r[2].s##c, r[3].s##c, r[4].s##c, r[5].s##c, r[6].s##c, r[7].s##c)
#define PK_MMD_PACK8(T, S)                                                          \
  {                                                                                 \
    PK_GLOBAL const S* src = (PK_GLOBAL const S*)b + p.b_offset + k0 * p.b_rs + n0; \
    PK_GLOBAL S* dst = (PK_GLOBAL S*)out + p.o_offset + n0 * p.K + k0;              \
    T r[8];                                                                         \
    PK_UNROLL                                                                       \
    for (uint i = 0; i < 8u; ++i) r[i] = vload8(0, src + i * p.b_rs);               \
    vstore8(PK_MMD_T8(T, r, 0), 0, dst);                                            \
    vstore8(PK_MMD_T8(T, r, 1), 0, dst + p.K);                                      \
    vstore8(PK_MMD_T8(T, r, 2), 0, dst + 2u * p.K);                                 \
    vstore8(PK_MMD_T8(T, r, 3), 0, dst + 3u * p.K);                                 \
    vstore8(PK_MMD_T8(T, r, 4), 0, dst + 4u * p.K);                                 \
    vstore8(PK_MMD_T8(T, r, 5), 0, dst + 5u * p.K);                                 \
    vstore8(PK_MMD_T8(T, r, 6), 0, dst + 6u * p.K);                                 \
    vstore8(PK_MMD_T8(T, r, 7), 0, dst + 7u * p.K);                                 \
  }

PK_KERNEL porta_matmul_pack(PK_GLOBAL const uchar* a, PK_GLOBAL const uchar* b,
                            PK_GLOBAL const uchar* bias, PK_GLOBAL uchar* out,
                            PortaMatmulParams p) {
  const uint k0 = 8u * ((uint)get_global_id(0));
  const uint n0 = 8u * ((uint)get_global_id(1));
  if (k0 >= p.K || n0 >= p.N) return;
  const uint dtb = pk_byte(p.dtypes, 1u);
  if (p.b_cs == 1u && k0 + 8u <= p.K && n0 + 8u <= p.N) {
    if (pk_dtype_bytes(dtb) == 2u) {
      PK_MMD_PACK8(ushort8, ushort)
    } else {
      PK_MMD_PACK8(uint8, uint)
    }
    return;
  }
  for (uint j = 0; j < 8u && n0 + j < p.N; ++j) {
    for (uint i = 0; i < 8u && k0 + i < p.K; ++i) {
      pk_copy_bits(out, p.o_offset + (n0 + j) * p.K + k0 + i, b,
                   p.b_offset + (k0 + i) * p.b_rs + (n0 + j) * p.b_cs, dtb);
    }
  }
}

#undef PK_MMD_T8
#undef PK_MMD_PACK8
#undef PK_MMD_NV
#undef PK_MMD_RG
#undef PK_MMD_ROW_LOOP
#undef PK_MMD_DOT_LOOP
#undef PORTA_MM_TM
#undef PORTA_MM_TN
#undef PORTA_MM_TK
#undef PORTA_MM_WM
#undef PORTA_MM_WN
#undef PORTA_MM_NAME
