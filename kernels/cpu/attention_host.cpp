// Host kernel porta_attention: one call computes one query row (scores, softmax, weighted sum).
#include <cmath>
#include <vector>

#include "kernels/cpu/host_common.h"
#include "kernels/cpu/host_kernels.h"

namespace porta::ops::host {
namespace {

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
  // Scratch per pool thread; sized once for the longest rows seen.
  thread_local std::vector<float> query, scores, acc;
  query.resize(p.D);
  scores.resize(p.Lk);
  acc.assign(p.Dv, 0.0f);
  for (uint64_t d = 0; d < p.D; ++d) query[d] = Load(q, dq, qb + d);
  const float neg_inf = -std::numeric_limits<float>::infinity();
  const int64_t limit =
      static_cast<int64_t>(i) + static_cast<int64_t>(p.Lk) - static_cast<int64_t>(p.Lq);
  float max = neg_inf;
  for (uint64_t j = 0; j < p.Lk; ++j) {
    if ((p.flags & PORTA_ATTN_FLAG_CAUSAL) && static_cast<int64_t>(j) > limit) {
      scores[j] = neg_inf;
      continue;
    }
    float dot = 0.0f;
    for (uint64_t d = 0; d < p.D; ++d) dot += query[d] * Load(k, dk, kb + j * p.k_strides[2] + d);
    float s = dot * p.scale;
    if (p.flags & PORTA_ATTN_FLAG_MASK) s += Load(mask, dm, mb + j);
    scores[j] = s;
    max = std::fmax(max, s);
  }
  if (max != neg_inf) {
    float sum = 0.0f;
    for (uint64_t j = 0; j < p.Lk; ++j) {
      const float w = std::exp(scores[j] - max);
      sum += w;
      if (w == 0.0f) continue;
      for (uint64_t d = 0; d < p.Dv; ++d) acc[d] += w * Load(v, dv, vb + j * p.v_strides[2] + d);
    }
    for (uint64_t d = 0; d < p.Dv; ++d) acc[d] /= sum;
  }
  for (uint64_t d = 0; d < p.Dv; ++d) Store(out, dout, ob + d, acc[d]);
  return 0;
}

}  // namespace

porta_host_kernel_fn AttentionHostKernel() {
  return AttentionKernel;
}

}  // namespace porta::ops::host
