// porta_pool2d (kernels/common/params.h): 2D max or average pooling with stride, padding and
// dilation. A linear kernel: one invocation per output element.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(push_constant) uniform Params { PORTA_GLSL_PARAMS(PORTA_POOL2D_PARAMS) } p;

PORTA_BUFFER(readonly, 0, x)
PORTA_BUFFER(, 1, o)
PORTA_LOADER(x)
PORTA_STORER(o)

void main() {
  uint item;
  if (!porta_linear_item(p.N * p.C * p.Ho * p.Wo, item)) return;
  const uvec4 oc = porta_coords4(item, uvec4(p.N, p.C, p.Ho, p.Wo));
  const uint plane = p.x_offset + oc.x * p.x_strides[0] + oc.y * p.x_strides[1];
  const uint dtx = porta_byte(p.dtypes, 0u);
  const int iy0 = int(oc.z * p.stride_h) - int(p.pad_h);
  const int ix0 = int(oc.w * p.stride_w) - int(p.pad_w);
  const bool is_max = p.mode == PORTA_POOL_MAX;

  float acc = is_max ? -PORTA_INF : 0.0;
  uint count = 0u;
  for (uint ky = 0u; ky < p.KH; ++ky) {
    const int iy = iy0 + int(ky * p.dil_h);
    if (iy < 0 || iy >= int(p.H)) continue;
    for (uint kx = 0u; kx < p.KW; ++kx) {
      const int ix = ix0 + int(kx * p.dil_w);
      if (ix < 0 || ix >= int(p.W)) continue;
      const float v = x_load(dtx, plane + uint(iy) * p.x_strides[2] + uint(ix) * p.x_strides[3]);
      acc = is_max ? porta_max(acc, v) : acc + v;
      ++count;
    }
  }
  if (!is_max) {
    const bool count_pad = (p.flags & PORTA_POOL_FLAG_COUNT_PAD) != 0u;
    acc = porta_div(acc, float(count_pad ? p.KH * p.KW : count));
  }
  o_store(porta_byte(p.dtypes, 2u), p.o_offset + porta_dot4(oc, PORTA_U4(p.o_strides)), acc);
}
