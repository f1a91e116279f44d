// Host kernel porta_reduce: one call reduces one (output, part) pair of the contract.
#include <algorithm>

#include "kernels/cpu/host_common.h"
#include "kernels/cpu/host_kernels.h"

namespace porta::ops::host {
namespace {

// The reduction of elements [begin, end) of one output, element i read as at(i): |result| (and
// |index| for argmax). False for an unknown op.
template <typename At>
bool ReduceRange(uint32_t op, uint64_t begin, uint64_t end, At at, float* result_out,
                 int32_t* index_out) {
  float result = 0.0f;
  int32_t index = 0;
  switch (op) {
    case PORTA_RED_SUM:
    case PORTA_RED_MEAN: {
      // Eight running sums keep the error growth down and the loop vectorizable.
      float sums[8] = {};
      uint64_t i = begin;
      for (; i < end; ++i) sums[i % 8] += at(i);
      for (float s : sums) result += s;
      break;
    }
    case PORTA_RED_MAX:
      result = -std::numeric_limits<float>::infinity();
      for (uint64_t i = begin; i < end; ++i) {
        result = MaxNan(result, at(i));
      }
      break;
    case PORTA_RED_MIN:
      result = std::numeric_limits<float>::infinity();
      for (uint64_t i = begin; i < end; ++i) {
        result = MinNan(result, at(i));
      }
      break;
    case PORTA_RED_ARGMAX: {
      float best = 0.0f;
      bool have = false;
      for (uint64_t i = begin; i < end; ++i) {
        const float v = at(i);
        // A NaN counts as the maximum; the first one wins, as does the first of equal values.
        if (!have || (!std::isnan(best) && (std::isnan(v) || v > best))) {
          best = v;
          index = static_cast<int32_t>(i);
          have = true;
        }
      }
      break;
    }
    default:
      return false;
  }
  *result_out = result;
  *index_out = index;
  return true;
}

// Whether the inner (reduced) elements are contiguous: element i at offset i.
bool InnerContiguous(const PortaReduceParams& p) {
  uint64_t expected = 1;
  for (int d = 3; d >= 0; --d) {
    if (p.inner_shape[d] > 1 && p.x_inner_strides[d] != expected) return false;
    expected *= p.inner_shape[d];
  }
  return true;
}

int32_t ReduceKernel(const porta_host_group_t* group) {
  const PortaReduceParams& p = ParamsOf<PortaReduceParams>(group);
  const uint64_t g = GroupIndex(group);
  if (g >= uint64_t{p.outer_n} * p.parts) return 0;
  const uint64_t o = g / p.parts;
  const uint64_t part = g % p.parts;
  const void* x = Arg(group, 0);
  void* out = Arg(group, 1);
  const uint32_t dx = Byte(p.dtypes, 0), dout = Byte(p.dtypes, 2);
  const uint64_t base = p.x_offset + Offset4(o, p.outer_shape, p.x_outer_strides);
  const uint64_t begin = part * p.chunk;
  const uint64_t end = std::min<uint64_t>(p.inner_n, begin + p.chunk);
  float result = 0.0f;
  int32_t index = 0;
  // Contiguous f32 (the usual case) reads through a pointer: the index decomposition and the
  // dtype switch per element cost far more than the reduction itself.
  const bool ok =
      dx == PORTA_DT_F32 && InnerContiguous(p)
          ? ReduceRange(
                p.op, begin, end,
                [xs = static_cast<const float*>(x) + base](uint64_t i) { return xs[i]; }, &result,
                &index)
          : ReduceRange(
                p.op, begin, end,
                [&](uint64_t i) {
                  return Load(x, dx, base + Offset4(i, p.inner_shape, p.x_inner_strides));
                },
                &result, &index);
  if (!ok) return 1;
  if ((p.flags & PORTA_RED_FLAG_PARTIAL) != 0) {
    static_cast<float*>(out)[p.out_offset + g] = result;
    return 0;
  }
  const uint64_t at = p.out_offset + Offset4(o, p.outer_shape, p.out_strides);
  if (p.op == PORTA_RED_ARGMAX) {
    static_cast<int32_t*>(out)[at] = index;
  } else {
    Store(out, dout, at,
          (p.op == PORTA_RED_SUM || p.op == PORTA_RED_MEAN) ? result * p.scale : result);
  }
  return 0;
}

}  // namespace

porta_host_kernel_fn ReduceHostKernel() {
  return ReduceKernel;
}

}  // namespace porta::ops::host
