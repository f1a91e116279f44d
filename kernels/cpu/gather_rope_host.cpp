// Host kernels porta_gather and porta_rope: linear kernels over their items.
#include <algorithm>
#include <cmath>

#include "kernels/cpu/host_common.h"
#include "kernels/cpu/host_kernels.h"

namespace porta::ops::host {
namespace {

int32_t GatherKernel(const porta_host_group_t* group) {
  const PortaGatherParams& p = ParamsOf<PortaGatherParams>(group);
  const uint64_t n = uint64_t{p.n_idx} * p.dim;
  const uint64_t begin = GroupIndex(group) * group->group_size[0];
  const uint64_t end = std::min<uint64_t>(n, begin + group->group_size[0]);
  const void* table = Arg(group, 0);
  const auto* indices = static_cast<const int32_t*>(Arg(group, 1));
  void* out = Arg(group, 2);
  const uint32_t dt = Byte(p.dtypes, 0), dout = Byte(p.dtypes, 2);
  for (uint64_t i = begin; i < end; ++i) {
    const uint64_t j = i / p.dim, c = i % p.dim;
    const int32_t v = indices[p.idx_offset + Offset3(j, p.idx_shape, p.idx_strides)];
    const float value =
        v >= 0 && static_cast<uint32_t>(v) < p.vocab
            ? Load(table, dt,
                   p.t_offset + uint64_t{static_cast<uint32_t>(v)} * p.t_strides[0] +
                       c * p.t_strides[1])
            : 0.0f;
    Store(out, dout, p.out_offset + Offset3(j, p.idx_shape, p.out_strides) + c * p.out_strides[3],
          value);
  }
  return 0;
}

int32_t RopeKernel(const porta_host_group_t* group) {
  const PortaRopeParams& p = ParamsOf<PortaRopeParams>(group);
  const uint64_t begin = GroupIndex(group) * group->group_size[0];
  const uint64_t end = std::min<uint64_t>(p.n, begin + group->group_size[0]);
  const void* x = Arg(group, 0);
  const auto* positions = static_cast<const int32_t*>(Arg(group, 1));
  void* out = Arg(group, 2);
  const uint32_t dx = Byte(p.dtypes, 0), dout = Byte(p.dtypes, 2);
  const uint64_t half = p.head_dim / 2;
  for (uint64_t i = begin; i < end; ++i) {
    const uint64_t row = i / half, k = i % half;
    // The row's indices along shape[0..2] (shape[3] is the head).
    const uint64_t idx[3] = {row / (uint64_t{p.shape[1]} * p.shape[2]),
                             row / p.shape[2] % p.shape[1], row % p.shape[2]};
    const uint64_t xb =
        p.x_offset + idx[0] * p.x_strides[0] + idx[1] * p.x_strides[1] + idx[2] * p.x_strides[2];
    const uint64_t ob = p.out_offset + idx[0] * p.out_strides[0] + idx[1] * p.out_strides[1] +
                        idx[2] * p.out_strides[2];
    uint64_t e0, e1;
    const bool rotate = k < p.rot_dims / 2;
    if (rotate && p.mode == PORTA_ROPE_NEOX) {
      e0 = k;
      e1 = k + p.rot_dims / 2;
    } else {
      e0 = 2 * k;
      e1 = 2 * k + 1;
    }
    const float x0 = Load(x, dx, xb + e0 * p.x_strides[3]);
    const float x1 = Load(x, dx, xb + e1 * p.x_strides[3]);
    if (!rotate) {
      Store(out, dout, ob + e0 * p.out_strides[3], x0);
      Store(out, dout, ob + e1 * p.out_strides[3], x1);
      continue;
    }
    const float pos = static_cast<float>(positions[p.pos_offset + idx[p.seq_axis] * p.pos_stride]);
    const float theta = pos * p.freq_scale * std::exp2(static_cast<float>(k) * p.inv_freq_log2);
    const float c = std::cos(theta), s = std::sin(theta);
    Store(out, dout, ob + e0 * p.out_strides[3], x0 * c - x1 * s);
    Store(out, dout, ob + e1 * p.out_strides[3], x0 * s + x1 * c);
  }
  return 0;
}

}  // namespace

porta_host_kernel_fn GatherHostKernel() {
  return GatherKernel;
}

porta_host_kernel_fn RopeHostKernel() {
  return RopeKernel;
}

}  // namespace porta::ops::host
