// porta_conv2d (kernels/common/params.h): direct 2D convolution (NCHW views, contiguous
// [Co, C / groups, KH, KW] weights) with stride, padding, dilation, groups and an optional bias.
// A linear kernel: one invocation per output element.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(push_constant) uniform Params { PORTA_GLSL_PARAMS(PORTA_CONV2D_PARAMS) } p;

PORTA_BUFFER(readonly, 0, x)
PORTA_BUFFER(readonly, 1, w)
PORTA_BUFFER(readonly, 2, bi)
PORTA_BUFFER(, 3, o)
PORTA_LOADER(x)
PORTA_LOADER(w)
PORTA_LOADER(bi)
PORTA_STORER(o)

void main() {
  uint item;
  if (!porta_linear_item(p.N * p.Co * p.Ho * p.Wo, item)) return;
  const uvec4 oc = porta_coords4(item, uvec4(p.N, p.Co, p.Ho, p.Wo));
  const uint co = oc.y;
  const uint c_per_group = p.C / p.groups;
  const uint first_c = (co / (p.Co / p.groups)) * c_per_group;
  const uint dtx = porta_byte(p.dtypes, 0u);
  const uint dtw = porta_byte(p.dtypes, 1u);
  const int iy0 = int(oc.z * p.stride_h) - int(p.pad_h);
  const int ix0 = int(oc.w * p.stride_w) - int(p.pad_w);
  const uint window = p.KH * p.KW;

  float sum = 0.0;
  for (uint c = 0u; c < c_per_group; ++c) {
    const uint x_plane = p.x_offset + oc.x * p.x_strides[0] + (first_c + c) * p.x_strides[1];
    const uint w_plane = p.w_offset + (co * c_per_group + c) * window;
    for (uint ky = 0u; ky < p.KH; ++ky) {
      const int iy = iy0 + int(ky * p.dil_h);
      if (iy < 0 || iy >= int(p.H)) continue;
      const uint x_row = x_plane + uint(iy) * p.x_strides[2];
      for (uint kx = 0u; kx < p.KW; ++kx) {
        const int ix = ix0 + int(kx * p.dil_w);
        if (ix < 0 || ix >= int(p.W)) continue;
        sum += x_load(dtx, x_row + uint(ix) * p.x_strides[3]) *
               w_load(dtw, w_plane + ky * p.KW + kx);
      }
    }
  }
  if ((p.flags & PORTA_CONV_FLAG_BIAS) != 0u) {
    sum += bi_load(porta_byte(p.dtypes, 3u), p.bias_offset + co);
  }
  o_store(porta_byte(p.dtypes, 2u), p.o_offset + porta_dot4(oc, PORTA_U4(p.o_strides)), sum);
}
