// porta_qmatvec: out = act(alpha A W^T + beta out + bias) for a block-quantized W of N rows by K
// and a few rows of A (kernels/common/params.h, PORTA_QMATVEC_PARAMS), in two variants that the
// tuning parameter mv chooses (kernels/core/tuning.cpp):
// - porta_qmatvec (mv=1, for GPUs): the work-group's items form |rows| teams, one per output
//   row; a team's items take the row's 8-element units in turn, so that neighbouring items read
//   neighbouring bytes of the row and every weight byte is read once, and the team's partial sums
//   meet in local memory. The weights are read as 16-bit words: a Q4_0 block is only 2-byte
//   aligned. A surplus work-group of the grid runs with no units (barriers are never skipped;
//   prelude.h explains why).
// - porta_qmatvec_rows (mv=2, for CPU-like devices): each work-item owns rows / WG output rows
//   and walks their blocks alone, with no local memory and no barrier, which a CPU runtime turns
//   into a plain loop over the work-group's rows (a barrier would split it into regions and spill
//   every item's state between them).

// The sums over unit u (elements 8u..8u+7 of the row at byte |row|) of W[k] A[k], one function
// per block type so that the unit loops below test the type once.
PK_FN float pk_qmv_q8(PK_GLOBAL const uchar* a, uint dta, uint a_base, uint a_cs,
                      PK_GLOBAL const uchar* b, uint row, uint u) {
  const uint block = row + (u >> 2) * PORTA_Q8_0_BYTES;
  const uint qs = block + 2u + (u & 3u) * 8u;
  const uint kp = a_base + (u * 8u) * a_cs;
  float s = 0.0f;
  PK_UNROLL
  for (uint t = 0; t < 4u; ++t) {
    const uint word = pk_q_u16(b, qs + 2u * t);
    s += pk_q_i8(word & 255u) * pk_load(a, dta, kp + (2u * t) * a_cs) +
         pk_q_i8(word >> 8) * pk_load(a, dta, kp + (2u * t + 1u) * a_cs);
  }
  return pk_q_half(b, block) * s;
}

// Q4: bytes part*4 .. part*4+3 of qs hold elements j (low nibble) and j + 16 (high nibble).
// |header| is 2 (Q4_0: d) or 4 (Q4_1: d, m).
PK_FN float pk_qmv_q4(PK_GLOBAL const uchar* a, uint dta, uint a_base, uint a_cs,
                      PK_GLOBAL const uchar* b, uint row, uint u, uint block_bytes, uint header) {
  const uint blk = u >> 2;
  const uint part = u & 3u;
  const uint block = row + blk * block_bytes;
  const uint qs = block + header + part * 4u;
  const uint kp = a_base + (blk * 32u + part * 4u) * a_cs;
  const uint kh = kp + 16u * a_cs;
  float s = 0.0f;
  float a_sum = 0.0f;
  PK_UNROLL
  for (uint t = 0; t < 2u; ++t) {
    const uint word = pk_q_u16(b, qs + 2u * t);
    const float a0 = pk_load(a, dta, kp + (2u * t) * a_cs);
    const float a1 = pk_load(a, dta, kp + (2u * t + 1u) * a_cs);
    const float a2 = pk_load(a, dta, kh + (2u * t) * a_cs);
    const float a3 = pk_load(a, dta, kh + (2u * t + 1u) * a_cs);
    s += (float)(word & 15u) * a0 + (float)((word >> 8) & 15u) * a1 +
         (float)((word >> 4) & 15u) * a2 + (float)(word >> 12) * a3;
    a_sum += (a0 + a1) + (a2 + a3);
  }
  // Q4_1: d * sum(q a) + m * sum(a); Q4_0: d * sum((q - 8) a).
  const float d = pk_q_half(b, block);
  return header == 4u ? d * s + pk_q_half(b, block + 2u) * a_sum : d * (s - 8.0f * a_sum);
}

// Stores alpha |sum| + beta out + bias, activated, as output row n of A row m in batch (z0, z1).
PK_FN void pk_qmv_store(PK_GLOBAL uchar* out, PK_GLOBAL const uchar* bias,
                        const PortaQmatvecParams p, uint z0, uint z1, uint m, uint n, float sum) {
  const uint oi = p.o_offset + z0 * p.o_bs[0] + z1 * p.o_bs[1] + m * p.o_rs + n * p.o_cs;
  const uint dto = pk_byte(p.dtypes, 2u);
  const uint act = pk_byte(p.flags, 1u);
  float r = p.alpha * sum;
  if ((p.flags & PORTA_MM_FLAG_BETA) != 0u) r += p.beta * pk_load(out, dto, oi);
  if ((p.flags & PORTA_MM_FLAG_BIAS) != 0u) {
    r += pk_load(bias, pk_byte(p.dtypes, 3u), p.bias_offset + n * p.bias_stride);
  }
  pk_store(out, dto, oi, act == 0u ? r : pk_unary(act, r));
}

PK_KERNEL porta_qmatvec(PK_GLOBAL const uchar* a, PK_GLOBAL const uchar* b,
                        PK_GLOBAL const uchar* bias, PK_GLOBAL uchar* out, PortaQmatvecParams p) {
  PK_SHARED float red[PORTA_MAX_WG];
  const uint lid = PK_LID0;
  const uint team = PK_LSIZE0 / p.rows;
  uint lane;
  const uint r_in = pk_divmod(lid, team, &lane);
  uint rg;
  const uint rest = pk_divmod(pk_group_linear(), (p.N + p.rows - 1u) / p.rows, &rg);
  uint m;
  const uint z = pk_divmod(rest, p.M, &m);
  const int live = z < p.batch0 * p.batch1;
  uint z1;
  const uint z0 = pk_divmod(live ? z : 0u, p.batch1, &z1);
  const uint n = rg * p.rows + r_in;
  const int active = live && n < p.N;
  const uint dta = pk_byte(p.dtypes, 0u);
  const uint dtb = pk_byte(p.dtypes, 1u);
  const uint row =
      p.b_offset + (z0 * p.b_bs[0] + z1 * p.b_bs[1] + n * p.b_rs) * pk_q_block_bytes(dtb);
  const uint a_base = p.a_offset + z0 * p.a_bs[0] + z1 * p.a_bs[1] + m * p.a_rs;
  const uint units = active ? p.K >> 3 : 0u;
  float sum = 0.0f;
  if (dtb == PORTA_DT_Q8_0) {
    for (uint u = lane; u < units; u += team) sum += pk_qmv_q8(a, dta, a_base, p.a_cs, b, row, u);
  } else if (dtb == PORTA_DT_Q4_1) {
    for (uint u = lane; u < units; u += team) {
      sum += pk_qmv_q4(a, dta, a_base, p.a_cs, b, row, u, PORTA_Q4_1_BYTES, 4u);
    }
  } else {
    for (uint u = lane; u < units; u += team) {
      sum += pk_qmv_q4(a, dta, a_base, p.a_cs, b, row, u, PORTA_Q4_0_BYTES, 2u);
    }
  }
  red[lid] = sum;
  PK_BARRIER();
  for (uint s = team >> 1; s > 0u; s >>= 1) {
    if (lane < s) red[lid] += red[lid + s];
    PK_BARRIER();
  }
  if (active && lane == 0u) pk_qmv_store(out, bias, p, z0, z1, m, n, red[lid]);
}

#if defined(__OPENCL_C_VERSION__)
// The per-row variant's sum over a row for an f32 A row |x| read contiguously (the common case).
// OpenCL C on a CPU gets explicit 16-lane vectors, which its compiler maps onto SIMD registers
// (vload16 of bytes takes any address, so no block alignment matters); the scalar form below
// serves CUDA and HIP, whose GPUs take the team variant anyway. Element j of a Q4 block sits in
// the low nibble of qs byte j, element j + 16 in its high nibble.
PK_FN float pk_qmv_row_f32(PK_GLOBAL const uchar* b, uint row, uint dtb, uint blocks,
                           PK_GLOBAL const float* x) {
  float16 acc = (float16)(0.0f);
  if (dtb == PORTA_DT_Q8_0) {
    for (uint k = 0; k < blocks; ++k) {
      const uint block = row + k * PORTA_Q8_0_BYTES;
      const float16 q0 = convert_float16(as_char16(vload16(0, b + block + 2u)));
      const float16 q1 = convert_float16(as_char16(vload16(0, b + block + 18u)));
      acc += pk_q_half(b, block) * (q0 * vload16(0, x + 32u * k) + q1 * vload16(1, x + 32u * k));
    }
  } else {
    const uint q4_1 = dtb == PORTA_DT_Q4_1;
    const uint block_bytes = q4_1 ? PORTA_Q4_1_BYTES : PORTA_Q4_0_BYTES;
    // Q4_0's quants are offset by 8; Q4_1 adds its min m times sum(x) instead.
    const float offset = q4_1 ? 0.0f : 8.0f;
    for (uint k = 0; k < blocks; ++k) {
      const uint block = row + k * block_bytes;
      const uchar16 v = vload16(0, b + block + (q4_1 ? 4u : 2u));
      const float16 lo = convert_float16(v & (uchar16)(15)) - offset;
      const float16 hi = convert_float16(v >> (uchar16)(4)) - offset;
      const float16 x_lo = vload16(0, x + 32u * k), x_hi = vload16(1, x + 32u * k);
      const float16 t = pk_q_half(b, block) * (lo * x_lo + hi * x_hi);
      acc += q4_1 ? t + pk_q_half(b, block + 2u) * (x_lo + x_hi) : t;
    }
  }
  const float8 h8 = acc.lo + acc.hi;
  const float4 h4 = h8.lo + h8.hi;
  return (h4.x + h4.y) + (h4.z + h4.w);
}
#else
PK_FN float pk_qmv_row_f32(PK_GLOBAL const uchar* b, uint row, uint dtb, uint blocks,
                           PK_GLOBAL const float* x) {
  float sum = 0.0f;
  const uint block_bytes = pk_q_block_bytes(dtb);
  for (uint k = 0; k < blocks; ++k) {
    const uint block = row + k * block_bytes;
    PK_GLOBAL const float* xk = x + 32u * k;
    float s = 0.0f;
    float x_sum = 0.0f;
    if (dtb == PORTA_DT_Q8_0) {
      for (uint j = 0; j < 32u; ++j) s += pk_q_i8(b[block + 2u + j]) * xk[j];
    } else {
      const uint qs = block + (dtb == PORTA_DT_Q4_1 ? 4u : 2u);
      for (uint j = 0; j < 16u; ++j) {
        s += (float)(b[qs + j] & 15u) * xk[j] + (float)(b[qs + j] >> 4) * xk[j + 16u];
        x_sum += xk[j] + xk[j + 16u];
      }
    }
    const float d = pk_q_half(b, block);
    sum += dtb == PORTA_DT_Q8_0   ? d * s
           : dtb == PORTA_DT_Q4_1 ? d * s + pk_q_half(b, block + 2u) * x_sum
                                  : d * (s - 8.0f * x_sum);
  }
  return sum;
}
#endif

// Each work-item computes rows / WG rows (1, 2 or 4), WG apart.
PK_KERNEL porta_qmatvec_rows(PK_GLOBAL const uchar* a, PK_GLOBAL const uchar* b,
                             PK_GLOBAL const uchar* bias, PK_GLOBAL uchar* out,
                             PortaQmatvecParams p) {
  uint rg;
  const uint rest = pk_divmod(pk_group_linear(), (p.N + p.rows - 1u) / p.rows, &rg);
  uint m;
  const uint z = pk_divmod(rest, p.M, &m);
  // No barrier follows, so surplus items simply leave.
  if (z >= p.batch0 * p.batch1) return;
  uint z1;
  const uint z0 = pk_divmod(z, p.batch1, &z1);
  const uint dta = pk_byte(p.dtypes, 0u);
  const uint dtb = pk_byte(p.dtypes, 1u);
  const uint block_bytes = pk_q_block_bytes(dtb);
  const uint a_base = p.a_offset + z0 * p.a_bs[0] + z1 * p.a_bs[1] + m * p.a_rs;
  const uint blocks = p.K >> 5;
  const uint per_item = p.rows / PK_LSIZE0;
  for (uint r = 0; r < per_item; ++r) {
    const uint n = rg * p.rows + r * PK_LSIZE0 + PK_LID0;
    if (n >= p.N) return;
    const uint row = p.b_offset + (z0 * p.b_bs[0] + z1 * p.b_bs[1] + n * p.b_rs) * block_bytes;
    float sum = 0.0f;
    if (dta == PORTA_DT_F32 && p.a_cs == 1u) {
      sum = pk_qmv_row_f32(b, row, dtb, blocks, (PK_GLOBAL const float*)a + a_base);
    } else {
      const uint units = p.K >> 3;
      for (uint u = 0; u < units; ++u) {
        sum += dtb == PORTA_DT_Q8_0 ? pk_qmv_q8(a, dta, a_base, p.a_cs, b, row, u)
               : dtb == PORTA_DT_Q4_1
                   ? pk_qmv_q4(a, dta, a_base, p.a_cs, b, row, u, PORTA_Q4_1_BYTES, 4u)
                   : pk_qmv_q4(a, dta, a_base, p.a_cs, b, row, u, PORTA_Q4_0_BYTES, 2u);
      }
    }
    pk_qmv_store(out, bias, p, z0, z1, m, n, sum);
  }
}
