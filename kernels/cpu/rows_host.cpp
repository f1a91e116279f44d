// Host kernels porta_softmax and porta_norm: one call handles one row. Rows of contiguous f32
// take the vectorized primitives of vector_math.h; every other layout and dtype the generic loops.
#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/cpu/host_common.h"
#include "kernels/cpu/host_kernels.h"
#include "kernels/cpu/vector_math.h"

namespace porta::ops::host {
namespace {

// Softmax of one contiguous f32 row (mask contiguous f32 or absent); the causal rule leaves the
// first |valid| columns visible.
void SoftmaxRowF32(const PortaSoftmaxParams& p, const float* x, const float* mask, float* out,
                   uint64_t valid) {
  thread_local std::vector<float> row;
  row.resize(p.cols);
  const float neg_inf = -std::numeric_limits<float>::infinity();
  for (uint64_t c = 0; c < valid; ++c) row[c] = x[c] * p.scale + (mask != nullptr ? mask[c] : 0.0f);
  for (uint64_t c = valid; c < p.cols; ++c) row[c] = neg_inf;
  const float max = RowMax(row.data(), p.cols);
  const bool log = (p.flags & PORTA_SM_FLAG_LOG) != 0;
  if (max == neg_inf) {
    for (uint64_t c = 0; c < p.cols; ++c) out[c] = log ? neg_inf : 0.0f;
    return;
  }
  if (!log) {
    const float sum = ExpShiftSum(row.data(), p.cols, max);
    const float inverse = 1.0f / sum;
    for (uint64_t c = 0; c < p.cols; ++c) out[c] = row[c] * inverse;
    return;
  }
  thread_local std::vector<float> exps;
  exps.assign(row.begin(), row.end());
  const float log_sum = std::log(ExpShiftSum(exps.data(), p.cols, max));
  for (uint64_t c = 0; c < p.cols; ++c) out[c] = row[c] - max - log_sum;
}

int32_t SoftmaxKernel(const porta_host_group_t* group) {
  const PortaSoftmaxParams& p = ParamsOf<PortaSoftmaxParams>(group);
  const uint64_t r = GroupIndex(group);
  if (r >= p.rows) return 0;
  const void* x = Arg(group, 0);
  const void* mask = Arg(group, 1);
  void* out = Arg(group, 2);
  const uint32_t dx = Byte(p.dtypes, 0), dm = Byte(p.dtypes, 1), dout = Byte(p.dtypes, 2);
  const uint64_t xb = p.x_offset + Offset3(r, p.row_shape, p.x_strides);
  const uint64_t mb = p.m_offset + Offset3(r, p.row_shape, p.m_strides);
  const uint64_t ob = p.out_offset + Offset3(r, p.row_shape, p.out_strides);
  const int64_t query = static_cast<int64_t>(r % p.row_shape[2]);
  const bool has_mask = (p.flags & PORTA_SM_FLAG_MASK) != 0;
  const bool causal = (p.flags & PORTA_SM_FLAG_CAUSAL) != 0;
  const float neg_inf = -std::numeric_limits<float>::infinity();
  if (dx == PORTA_DT_F32 && dout == PORTA_DT_F32 && p.x_strides[3] == 1 && p.out_strides[3] == 1 &&
      (!has_mask || (dm == PORTA_DT_F32 && p.m_strides[3] == 1))) {
    const int64_t limit = causal ? query + p.causal_shift + 1 : static_cast<int64_t>(p.cols);
    const uint64_t valid =
        static_cast<uint64_t>(std::max<int64_t>(0, std::min<int64_t>(limit, p.cols)));
    SoftmaxRowF32(p, static_cast<const float*>(x) + xb,
                  has_mask ? static_cast<const float*>(mask) + mb : nullptr,
                  static_cast<float*>(out) + ob, valid);
    return 0;
  }
  auto value = [&](uint64_t c) {
    if (causal && static_cast<int64_t>(c) > query + p.causal_shift) return neg_inf;
    float v = Load(x, dx, xb + c * p.x_strides[3]) * p.scale;
    if (has_mask) v += Load(mask, dm, mb + c * p.m_strides[3]);
    return v;
  };
  float max = neg_inf;
  for (uint64_t c = 0; c < p.cols; ++c) max = std::fmax(max, value(c));
  const bool log = (p.flags & PORTA_SM_FLAG_LOG) != 0;
  if (max == neg_inf) {
    for (uint64_t c = 0; c < p.cols; ++c)
      Store(out, dout, ob + c * p.out_strides[3], log ? neg_inf : 0.0f);
    return 0;
  }
  float sum = 0.0f;
  for (uint64_t c = 0; c < p.cols; ++c) sum += std::exp(value(c) - max);
  const float log_sum = std::log(sum);
  for (uint64_t c = 0; c < p.cols; ++c) {
    const float v = value(c) - max;
    Store(out, dout, ob + c * p.out_strides[3], log ? v - log_sum : std::exp(v) / sum);
  }
  return 0;
}

int32_t NormKernel(const porta_host_group_t* group) {
  const PortaNormParams& p = ParamsOf<PortaNormParams>(group);
  const uint64_t r = GroupIndex(group);
  if (r >= p.rows) return 0;
  const void* x = Arg(group, 0);
  const void* weight = Arg(group, 1);
  const void* bias = Arg(group, 2);
  void* out = Arg(group, 3);
  const uint32_t dx = Byte(p.dtypes, 0), dw = Byte(p.dtypes, 1), db = Byte(p.dtypes, 2),
                 dout = Byte(p.dtypes, 3);
  const uint64_t xb = p.x_offset + Offset3(r, p.row_shape, p.x_strides);
  const uint64_t ob = p.out_offset + Offset3(r, p.row_shape, p.out_strides);
  const bool rms = (p.flags & PORTA_NORM_FLAG_RMS) != 0;
  if (dx == PORTA_DT_F32 && p.x_strides[3] == 1 && p.cols > 0) {
    // Contiguous f32: the statistics in two vectorized passes, centred on the first element so
    // that a constant row gives exactly zero variance.
    const float* row = static_cast<const float*>(x) + xb;
    float sum = 0.0f, squares = 0.0f;
    const float center = rms ? 0.0f : row[0];
    SumAndSquares(row, p.cols, center, &sum, &squares);
    const float cols = static_cast<float>(p.cols);
    const float shift = rms ? 0.0f : (sum - center * cols) / cols;  // mean - center
    const float mean = center + shift;
    const float variance = squares / cols - shift * shift;
    const float inv = 1.0f / std::sqrt(std::max(variance, 0.0f) + p.eps);
    const bool has_weight = (p.flags & PORTA_NORM_FLAG_WEIGHT) != 0;
    const bool has_bias = (p.flags & PORTA_NORM_FLAG_BIAS) != 0;
    if (dout == PORTA_DT_F32 && p.out_strides[3] == 1 &&
        (!has_weight || (dw == PORTA_DT_F32 && p.w_stride == 1)) &&
        (!has_bias || (db == PORTA_DT_F32 && p.b_stride == 1))) {
      NormalizeF32(row, p.cols, mean, inv,
                   has_weight ? static_cast<const float*>(weight) + p.w_offset : nullptr,
                   has_bias ? static_cast<const float*>(bias) + p.b_offset : nullptr,
                   static_cast<float*>(out) + ob);
      return 0;
    }
    for (uint64_t c = 0; c < p.cols; ++c) {
      float y = (row[c] - mean) * inv;
      if (p.flags & PORTA_NORM_FLAG_WEIGHT) y *= Load(weight, dw, p.w_offset + c * p.w_stride);
      if (p.flags & PORTA_NORM_FLAG_BIAS) y += Load(bias, db, p.b_offset + c * p.b_stride);
      Store(out, dout, ob + c * p.out_strides[3], y);
    }
    return 0;
  }
  float mean = 0.0f;
  if (!rms) {
    for (uint64_t c = 0; c < p.cols; ++c) mean += Load(x, dx, xb + c * p.x_strides[3]);
    mean /= static_cast<float>(p.cols);
  }
  float squares = 0.0f;
  for (uint64_t c = 0; c < p.cols; ++c) {
    const float d = Load(x, dx, xb + c * p.x_strides[3]) - mean;
    squares += d * d;
  }
  const float inv = 1.0f / std::sqrt(squares / static_cast<float>(p.cols) + p.eps);
  for (uint64_t c = 0; c < p.cols; ++c) {
    float y = (Load(x, dx, xb + c * p.x_strides[3]) - mean) * inv;
    if (p.flags & PORTA_NORM_FLAG_WEIGHT) y *= Load(weight, dw, p.w_offset + c * p.w_stride);
    if (p.flags & PORTA_NORM_FLAG_BIAS) y += Load(bias, db, p.b_offset + c * p.b_stride);
    Store(out, dout, ob + c * p.out_strides[3], y);
  }
  return 0;
}

}  // namespace

porta_host_kernel_fn SoftmaxHostKernel() {
  return SoftmaxKernel;
}

porta_host_kernel_fn NormHostKernel() {
  return NormKernel;
}

}  // namespace porta::ops::host
