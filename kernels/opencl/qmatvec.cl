// porta_qmatvec: out = act(alpha A W^T + beta out + bias) for a block-quantized W of N rows by K
// and a few rows of A (kernels/common/params.h, PORTA_QMATVEC_PARAMS). The work-group's items form
// |rows| teams, one per output row; a team's items take the row's 8-element units in turn, so
// that neighbouring items read neighbouring bytes of the row and every weight byte is read once,
// and the team's partial sums meet in local memory. The weights are read as 16-bit words: a Q4_0
// block is only 2-byte aligned. A surplus work-group of the grid runs with no units (barriers are
// never skipped; prelude.h explains why).

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
  if (active && lane == 0u) {
    const uint oi = p.o_offset + z0 * p.o_bs[0] + z1 * p.o_bs[1] + m * p.o_rs + n * p.o_cs;
    const uint dto = pk_byte(p.dtypes, 2u);
    const uint act = pk_byte(p.flags, 1u);
    float r = p.alpha * red[lid];
    if ((p.flags & PORTA_MM_FLAG_BETA) != 0u) r += p.beta * pk_load(out, dto, oi);
    if ((p.flags & PORTA_MM_FLAG_BIAS) != 0u) {
      r += pk_load(bias, pk_byte(p.dtypes, 3u), p.bias_offset + n * p.bias_stride);
    }
    pk_store(out, dto, oi, act == 0u ? r : pk_unary(act, r));
  }
}
