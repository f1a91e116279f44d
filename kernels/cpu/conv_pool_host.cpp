// Host kernels porta_conv2d and porta_pool2d: direct loops, one output element per item.
#include <algorithm>
#include <cmath>

#include "kernels/cpu/host_common.h"
#include "kernels/cpu/host_kernels.h"

namespace porta::ops::host {
namespace {

int32_t Conv2dKernel(const porta_host_group_t* group) {
  const PortaConv2dParams& p = ParamsOf<PortaConv2dParams>(group);
  const uint64_t n = uint64_t{p.N} * p.Co * p.Ho * p.Wo;
  const uint64_t begin = GroupIndex(group) * group->group_size[0];
  const uint64_t end = std::min<uint64_t>(n, begin + group->group_size[0]);
  const void* x = Arg(group, 0);
  const void* weight = Arg(group, 1);
  const void* bias = Arg(group, 2);
  void* out = Arg(group, 3);
  const uint32_t dx = Byte(p.dtypes, 0), dw = Byte(p.dtypes, 1), dout = Byte(p.dtypes, 2),
                 dbias = Byte(p.dtypes, 3);
  const uint64_t cg = p.C / p.groups, cog = p.Co / p.groups;
  for (uint64_t i = begin; i < end; ++i) {
    const uint64_t ox = i % p.Wo, oy = i / p.Wo % p.Ho, co = i / (uint64_t{p.Wo} * p.Ho) % p.Co,
                   nb = i / (uint64_t{p.Wo} * p.Ho * p.Co);
    const uint64_t group_index = co / cog;
    float sum = 0.0f;
    for (uint64_t c = 0; c < cg; ++c) {
      const uint64_t channel = group_index * cg + c;
      for (uint64_t ky = 0; ky < p.KH; ++ky) {
        const int64_t iy = static_cast<int64_t>(oy * p.stride_h + ky * p.dil_h) - p.pad_h;
        if (iy < 0 || iy >= static_cast<int64_t>(p.H)) continue;
        for (uint64_t kx = 0; kx < p.KW; ++kx) {
          const int64_t ix = static_cast<int64_t>(ox * p.stride_w + kx * p.dil_w) - p.pad_w;
          if (ix < 0 || ix >= static_cast<int64_t>(p.W)) continue;
          const float xv = Load(x, dx,
                                p.x_offset + nb * p.x_strides[0] + channel * p.x_strides[1] +
                                    static_cast<uint64_t>(iy) * p.x_strides[2] +
                                    static_cast<uint64_t>(ix) * p.x_strides[3]);
          const float wv = Load(weight, dw, p.w_offset + ((co * cg + c) * p.KH + ky) * p.KW + kx);
          sum += xv * wv;
        }
      }
    }
    if (p.flags & PORTA_CONV_FLAG_BIAS) sum += Load(bias, dbias, p.bias_offset + co);
    Store(out, dout,
          p.o_offset + nb * p.o_strides[0] + co * p.o_strides[1] + oy * p.o_strides[2] +
              ox * p.o_strides[3],
          sum);
  }
  return 0;
}

int32_t Pool2dKernel(const porta_host_group_t* group) {
  const PortaPool2dParams& p = ParamsOf<PortaPool2dParams>(group);
  const uint64_t n = uint64_t{p.N} * p.C * p.Ho * p.Wo;
  const uint64_t begin = GroupIndex(group) * group->group_size[0];
  const uint64_t end = std::min<uint64_t>(n, begin + group->group_size[0]);
  const void* x = Arg(group, 0);
  void* out = Arg(group, 1);
  const uint32_t dx = Byte(p.dtypes, 0), dout = Byte(p.dtypes, 2);
  const bool max = p.mode == PORTA_POOL_MAX;
  for (uint64_t i = begin; i < end; ++i) {
    const uint64_t ox = i % p.Wo, oy = i / p.Wo % p.Ho, c = i / (uint64_t{p.Wo} * p.Ho) % p.C,
                   nb = i / (uint64_t{p.Wo} * p.Ho * p.C);
    float acc = max ? -std::numeric_limits<float>::infinity() : 0.0f;
    uint64_t count = 0;
    for (uint64_t ky = 0; ky < p.KH; ++ky) {
      const int64_t iy = static_cast<int64_t>(oy * p.stride_h + ky * p.dil_h) - p.pad_h;
      if (iy < 0 || iy >= static_cast<int64_t>(p.H)) continue;
      for (uint64_t kx = 0; kx < p.KW; ++kx) {
        const int64_t ix = static_cast<int64_t>(ox * p.stride_w + kx * p.dil_w) - p.pad_w;
        if (ix < 0 || ix >= static_cast<int64_t>(p.W)) continue;
        const float v = Load(x, dx,
                             p.x_offset + nb * p.x_strides[0] + c * p.x_strides[1] +
                                 static_cast<uint64_t>(iy) * p.x_strides[2] +
                                 static_cast<uint64_t>(ix) * p.x_strides[3]);
        acc = max ? MaxNan(acc, v) : acc + v;
        ++count;
      }
    }
    if (!max) {
      const uint64_t divisor =
          (p.flags & PORTA_POOL_FLAG_COUNT_PAD) ? uint64_t{p.KH} * p.KW : count;
      acc /= static_cast<float>(divisor);
    }
    Store(out, dout,
          p.o_offset + nb * p.o_strides[0] + c * p.o_strides[1] + oy * p.o_strides[2] +
              ox * p.o_strides[3],
          acc);
  }
  return 0;
}

}  // namespace

porta_host_kernel_fn Conv2dHostKernel() {
  return Conv2dKernel;
}

porta_host_kernel_fn Pool2dHostKernel() {
  return Pool2dKernel;
}

}  // namespace porta::ops::host
