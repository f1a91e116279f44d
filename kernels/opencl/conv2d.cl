// porta_conv2d: direct grouped 2D convolution (stride, padding, dilation), one output element
// per work-item (kernels/common/params.h, PORTA_CONV2D_PARAMS).

PK_KERNEL porta_conv2d(PK_GLOBAL const uchar* x, PK_GLOBAL const uchar* weight,
                       PK_GLOBAL const uchar* bias, PK_GLOBAL uchar* out, PortaConv2dParams p) {
  // Items past the end decompose to an image index nb >= N.
  const uint item = pk_linear_item();
  uint ox;
  uint oy;
  uint co;
  const uint nb = pk_divmod(pk_divmod(pk_divmod(item, p.Wo, &ox), p.Ho, &oy), p.Co, &co);
  if (nb >= p.N) return;
  const uint cg = p.C / p.groups;
  const uint c0 = (co / (p.Co / p.groups)) * cg;
  const uint dtx = pk_byte(p.dtypes, 0u);
  const uint dtw = pk_byte(p.dtypes, 1u);
  // Signed: the window may start above or left of the image.
  const int iy0 = (int)(oy * p.stride_h) - (int)p.pad_h;
  const int ix0 = (int)(ox * p.stride_w) - (int)p.pad_w;
  uint wi = p.w_offset + co * cg * p.KH * p.KW;
  float acc = 0.0f;
  for (uint c = 0; c < cg; ++c) {
    const uint xc = p.x_offset + nb * p.x_strides[0] + (c0 + c) * p.x_strides[1];
    for (uint ky = 0; ky < p.KH; ++ky) {
      const int iy = iy0 + (int)(ky * p.dil_h);
      if (iy < 0 || iy >= (int)p.H) {
        wi += p.KW;
        continue;
      }
      const uint xr = xc + (uint)iy * p.x_strides[2];
      for (uint kx = 0; kx < p.KW; ++kx, ++wi) {
        const int ix = ix0 + (int)(kx * p.dil_w);
        if (ix >= 0 && ix < (int)p.W) {
          acc += pk_load(x, dtx, xr + (uint)ix * p.x_strides[3]) * pk_load(weight, dtw, wi);
        }
      }
    }
  }
  if ((p.flags & PORTA_CONV_FLAG_BIAS) != 0u) {
    acc += pk_load(bias, pk_byte(p.dtypes, 3u), p.bias_offset + co);
  }
  const uint oi = p.o_offset + nb * p.o_strides[0] + co * p.o_strides[1] + oy * p.o_strides[2] +
                  ox * p.o_strides[3];
  pk_store(out, pk_byte(p.dtypes, 2u), oi, acc);
}
