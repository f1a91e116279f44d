// Host kernel porta_attention: one call computes one query row: the scores, their softmax and the
// weighted sum of the value rows. f32 key and value rows (contiguous by the contract) go through
// the vectorized dot and axpy of vector_math.h; other dtypes are converted row by row.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "kernels/cpu/host_common.h"
#include "kernels/cpu/host_kernels.h"
#include "kernels/cpu/vector_math.h"

namespace porta::ops::host {
namespace {

// The |count| contiguous elements at |base| of a buffer of |dtype| as f32: the buffer itself when
// it holds f32, else converted into |scratch|.
const float* RowF32(const void* buffer, uint32_t dtype, uint64_t base, uint64_t count,
                    std::vector<float>* scratch) {
  if (dtype == PORTA_DT_F32) return static_cast<const float*>(buffer) + base;
  scratch->resize(count);
  for (uint64_t i = 0; i < count; ++i) (*scratch)[i] = Load(buffer, dtype, base + i);
  return scratch->data();
}

int32_t AttentionKernel(const porta_host_group_t* group) {
  const PortaAttentionParams& p = ParamsOf<PortaAttentionParams>(group);
  const uint64_t g = GroupIndex(group);
  if (g >= uint64_t{p.B} * p.Hq * p.Lq) return 0;
  const uint64_t i = g % p.Lq, h = g / p.Lq % p.Hq, b = g / (uint64_t{p.Lq} * p.Hq);
  const uint64_t hk = h / (p.Hq / p.Hkv);
  const void* q = Arg(group, 0);
  const void* k = Arg(group, 1);
  const void* v = Arg(group, 2);
  const void* mask = Arg(group, 3);
  void* out = Arg(group, 4);
  const uint32_t dq = Byte(p.dtypes, 0), dk = Byte(p.dtypes, 1), dv = Byte(p.dtypes, 2),
                 dout = Byte(p.dtypes, 3), dm = (p.flags >> 8) & 0xffu;
  const uint64_t qb = p.q_offset + b * p.q_strides[0] + h * p.q_strides[1] + i * p.q_strides[2];
  const uint64_t kb = p.k_offset + b * p.k_strides[0] + hk * p.k_strides[1];
  const uint64_t vb = p.v_offset + b * p.v_strides[0] + hk * p.v_strides[1];
  const uint64_t mb = p.m_offset + b * p.m_strides[0] + h * p.m_strides[1] + i * p.m_strides[2];
  const uint64_t ob = p.o_offset + b * p.o_strides[0] + h * p.o_strides[1] + i * p.o_strides[2];
  // Scratch per pool thread, sized once for the longest rows seen.
  thread_local std::vector<float> query_scratch, row_scratch, scores, acc;
  const float* query = RowF32(q, dq, qb, p.D, &query_scratch);
  // Keys visible to this query: all, or under the causal rule the first i + (Lk - Lq) + 1.
  const int64_t limit =
      static_cast<int64_t>(i) + static_cast<int64_t>(p.Lk) - static_cast<int64_t>(p.Lq) + 1;
  const uint64_t visible =
      (p.flags & PORTA_ATTN_FLAG_CAUSAL)
          ? static_cast<uint64_t>(std::max<int64_t>(0, std::min<int64_t>(limit, p.Lk)))
          : p.Lk;
  scores.resize(visible);
  acc.assign(p.Dv, 0.0f);
  for (uint64_t j = 0; j < visible; ++j) {
    const float* key = RowF32(k, dk, kb + j * p.k_strides[2], p.D, &row_scratch);
    float s = Dot(query, key, p.D) * p.scale;
    if (p.flags & PORTA_ATTN_FLAG_MASK) s += Load(mask, dm, mb + j);
    scores[j] = s;
  }
  const float max = RowMax(scores.data(), visible);
  if (max != -std::numeric_limits<float>::infinity()) {
    const float sum = ExpShiftSum(scores.data(), visible, max);
    for (uint64_t j = 0; j < visible; ++j) {
      if (scores[j] == 0.0f) continue;
      Axpy(scores[j], RowF32(v, dv, vb + j * p.v_strides[2], p.Dv, &row_scratch), acc.data(), p.Dv);
    }
    ScaleRow(acc.data(), p.Dv, 1.0f / sum);
  }
  for (uint64_t d = 0; d < p.Dv; ++d) Store(out, dout, ob + d, acc[d]);
  return 0;
}

}  // namespace

porta_host_kernel_fn AttentionHostKernel() {
  return AttentionKernel;
}

}  // namespace porta::ops::host
