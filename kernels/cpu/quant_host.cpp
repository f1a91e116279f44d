// Host kernels of the block-quantized types: porta_qmatvec (a block of weight rows per call, every
// row of A at once, so each weight byte is read once; the block decode and the dot products are
// loops the compiler vectorizes, built for AVX-512, AVX2 and the baseline) and porta_qdequant
// (dequantization by whole blocks).
#include <algorithm>
#include <vector>

#include "kernels/cpu/host_common.h"
#include "kernels/cpu/host_kernels.h"

namespace porta::ops::host {
namespace {

constexpr uint32_t kMaxRows = PORTA_QMATVEC_MAX_M;

inline uint16_t Load16(const uint8_t* p) {
  return static_cast<uint16_t>(p[0] | (p[1] << 8));
}

uint64_t BlockBytes(uint32_t dtype) {
  return dtype == PORTA_DT_Q4_0   ? PORTA_Q4_0_BYTES
         : dtype == PORTA_DT_Q4_1 ? PORTA_Q4_1_BYTES
                                  : PORTA_Q8_0_BYTES;
}

// The 32 weights of block |q| of type |kType|.
template <uint32_t kType>
inline void DecodeBlock(const uint8_t* q, float* w) {
  const float d = HalfToFloat(Load16(q));
  if constexpr (kType == PORTA_DT_Q8_0) {
    for (int j = 0; j < 32; ++j) w[j] = d * static_cast<float>(static_cast<int8_t>(q[2 + j]));
  } else if constexpr (kType == PORTA_DT_Q4_0) {
    for (int j = 0; j < 16; ++j) w[j] = d * static_cast<float>((q[2 + j] & 15) - 8);
    for (int j = 0; j < 16; ++j) w[j + 16] = d * static_cast<float>((q[2 + j] >> 4) - 8);
  } else {
    const float m = HalfToFloat(Load16(q + 2));
    for (int j = 0; j < 16; ++j) w[j] = d * static_cast<float>(q[4 + j] & 15) + m;
    for (int j = 0; j < 16; ++j) w[j + 16] = d * static_cast<float>(q[4 + j] >> 4) + m;
  }
}

// sums[m] = dot(row, a + m * lda) for m < mc, over |blocks| blocks: 32 running sums per row of A.
template <uint32_t kType, uint64_t kBytes>
inline void DotRow(const uint8_t* row, uint64_t blocks, const float* a, uint64_t lda, uint32_t mc,
                   float* sums) {
  alignas(64) float acc[kMaxRows][32];
  for (uint32_t m = 0; m < mc; ++m) {
    for (int j = 0; j < 32; ++j) acc[m][j] = 0.0f;
  }
  for (uint64_t b = 0; b < blocks; ++b) {
    alignas(64) float w[32];
    DecodeBlock<kType>(row + b * kBytes, w);
    for (uint32_t m = 0; m < mc; ++m) {
      const float* am = a + m * lda + b * 32;
      for (int j = 0; j < 32; ++j) acc[m][j] += w[j] * am[j];
    }
  }
  for (uint32_t m = 0; m < mc; ++m) {
    float total = 0.0f;
    for (int j = 0; j < 32; ++j) total += acc[m][j];
    sums[m] = total;
  }
}

PORTA_HOST_CLONES void DotRowQ40(const uint8_t* row, uint64_t blocks, const float* a, uint64_t lda,
                                 uint32_t mc, float* sums) {
  DotRow<PORTA_DT_Q4_0, PORTA_Q4_0_BYTES>(row, blocks, a, lda, mc, sums);
}
PORTA_HOST_CLONES void DotRowQ41(const uint8_t* row, uint64_t blocks, const float* a, uint64_t lda,
                                 uint32_t mc, float* sums) {
  DotRow<PORTA_DT_Q4_1, PORTA_Q4_1_BYTES>(row, blocks, a, lda, mc, sums);
}
PORTA_HOST_CLONES void DotRowQ80(const uint8_t* row, uint64_t blocks, const float* a, uint64_t lda,
                                 uint32_t mc, float* sums) {
  DotRow<PORTA_DT_Q8_0, PORTA_Q8_0_BYTES>(row, blocks, a, lda, mc, sums);
}

void Decode(uint32_t dtype, const uint8_t* q, float* w) {
  if (dtype == PORTA_DT_Q4_0) {
    DecodeBlock<PORTA_DT_Q4_0>(q, w);
  } else if (dtype == PORTA_DT_Q4_1) {
    DecodeBlock<PORTA_DT_Q4_1>(q, w);
  } else {
    DecodeBlock<PORTA_DT_Q8_0>(q, w);
  }
}

int32_t QmatvecKernel(const porta_host_group_t* group) {
  const PortaQmatvecParams& p = ParamsOf<PortaQmatvecParams>(group);
  const void* a = Arg(group, 0);
  const auto* b = static_cast<const uint8_t*>(Arg(group, 1));
  const void* bias = Arg(group, 2);
  void* out = Arg(group, 3);
  const uint32_t da = Byte(p.dtypes, 0), db = Byte(p.dtypes, 1), dout = Byte(p.dtypes, 2),
                 dbias = Byte(p.dtypes, 3);
  const uint64_t row_groups = (uint64_t{p.N} + p.rows - 1) / p.rows;
  const uint64_t m_groups = (uint64_t{p.M} + p.m_per_group - 1) / p.m_per_group;
  const uint64_t g = GroupIndex(group);
  const uint64_t r = g % row_groups, z = g / row_groups / m_groups;
  const uint64_t mg = g / row_groups % m_groups;
  if (z >= uint64_t{p.batch0} * p.batch1) return 0;
  const uint64_t z0 = z / p.batch1, z1 = z % p.batch1;
  const uint64_t block_bytes = BlockBytes(db);
  const uint64_t blocks = p.K / PORTA_QBLOCK;
  const uint64_t m0 = mg * p.m_per_group;
  const uint32_t mc = static_cast<uint32_t>(
      std::min<uint64_t>({p.m_per_group, uint64_t{p.M} - m0, uint64_t{kMaxRows}}));
  const uint64_t a_base = p.a_offset + z0 * p.a_bs[0] + z1 * p.a_bs[1] + m0 * p.a_rs;
  const uint64_t b_base = p.b_offset + (z0 * p.b_bs[0] + z1 * p.b_bs[1]) * block_bytes;
  const uint64_t o_base = p.o_offset + z0 * p.o_bs[0] + z1 * p.o_bs[1] + m0 * p.o_rs;
  // A's rows as dense f32, unless they already are.
  const float* rows_a = nullptr;
  uint64_t lda = p.K;
  thread_local std::vector<float> dense;
  if (da == PORTA_DT_F32 && p.a_cs == 1) {
    rows_a = static_cast<const float*>(a) + a_base;
    lda = p.a_rs;
  } else {
    dense.resize(uint64_t{mc} * p.K);
    for (uint32_t m = 0; m < mc; ++m) {
      for (uint64_t k = 0; k < p.K; ++k)
        dense[m * p.K + k] = Load(a, da, a_base + m * p.a_rs + k * p.a_cs);
    }
    rows_a = dense.data();
  }
  const uint32_t act = (p.flags >> 8) & 0xffu;
  const bool has_bias = (p.flags & PORTA_MM_FLAG_BIAS) != 0;
  const bool has_beta = (p.flags & PORTA_MM_FLAG_BETA) != 0;
  const uint64_t n0 = r * p.rows, n1 = std::min<uint64_t>(p.N, n0 + p.rows);
  float sums[kMaxRows];
  for (uint64_t n = n0; n < n1; ++n) {
    const uint8_t* row = b + b_base + n * p.b_rs * block_bytes;
    if (db == PORTA_DT_Q4_0) {
      DotRowQ40(row, blocks, rows_a, lda, mc, sums);
    } else if (db == PORTA_DT_Q4_1) {
      DotRowQ41(row, blocks, rows_a, lda, mc, sums);
    } else {
      DotRowQ80(row, blocks, rows_a, lda, mc, sums);
    }
    const float bias_n = has_bias ? Load(bias, dbias, p.bias_offset + n * p.bias_stride) : 0.0f;
    for (uint32_t m = 0; m < mc; ++m) {
      const uint64_t oi = o_base + m * p.o_rs + n * p.o_cs;
      float value = p.alpha * sums[m];
      if (has_beta) value += p.beta * Load(out, dout, oi);
      value += bias_n;
      Store(out, dout, oi, act == 0 ? value : ApplyUnary(act, value));
    }
  }
  return 0;
}

int32_t QdequantKernel(const porta_host_group_t* group) {
  const PortaQdequantParams& p = ParamsOf<PortaQdequantParams>(group);
  const auto* src = static_cast<const uint8_t*>(Arg(group, 0));
  const auto* indices = static_cast<const int32_t*>(Arg(group, 1));
  void* out = Arg(group, 2);
  const uint32_t ds = Byte(p.dtypes, 0), dout = Byte(p.dtypes, 2);
  const uint64_t block_bytes = BlockBytes(ds);
  const bool gather = (p.flags & PORTA_QD_FLAG_GATHER) != 0;
  const uint64_t begin = GroupIndex(group) * group->group_size[0];
  const uint64_t end = std::min<uint64_t>(p.n, begin + group->group_size[0]);
  // A block at a time: decode it once, store the part of it inside [begin, end).
  for (uint64_t i = begin; i < end;) {
    const uint64_t j = i / p.dim, c = i % p.dim;
    const uint64_t pos = c % PORTA_QBLOCK;
    const uint64_t count = std::min<uint64_t>(PORTA_QBLOCK - pos, end - i);
    const uint64_t o_base = p.out_offset + Offset3(j, p.row_shape, p.out_strides);
    alignas(64) float w[PORTA_QBLOCK];
    bool zero = false;
    uint64_t row_block = 0;
    if (gather) {
      const int32_t v = indices[p.idx_offset + Offset3(j, p.row_shape, p.idx_strides)];
      zero = v < 0 || static_cast<uint32_t>(v) >= p.vocab;
      row_block = zero ? 0 : uint64_t{static_cast<uint32_t>(v)} * p.src_strides[0];
    } else {
      row_block = Offset3(j, p.row_shape, p.src_strides);
    }
    if (zero) {
      std::fill(w, w + PORTA_QBLOCK, 0.0f);
    } else {
      Decode(ds, src + p.src_offset + (row_block + c / PORTA_QBLOCK) * block_bytes, w);
    }
    for (uint64_t t = 0; t < count; ++t) {
      Store(out, dout, o_base + (c + t) * p.out_strides[3], w[pos + t]);
    }
    i += count;
  }
  return 0;
}

}  // namespace

porta_host_kernel_fn QmatvecHostKernel() {
  return QmatvecKernel;
}

porta_host_kernel_fn QdequantHostKernel() {
  return QdequantKernel;
}

}  // namespace porta::ops::host
