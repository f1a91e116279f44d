// porta_pool2d: 2D max or average pooling (stride, padding, dilation), one output element per
// work-item (kernels/common/params.h, PORTA_POOL2D_PARAMS).

PK_KERNEL porta_pool2d(PK_GLOBAL const uchar* x, PK_GLOBAL uchar* out, PortaPool2dParams p) {
  // Items past the end decompose to an image index nb >= N.
  const uint item = pk_linear_item();
  uint ox;
  uint oy;
  uint c;
  const uint nb = pk_divmod(pk_divmod(pk_divmod(item, p.Wo, &ox), p.Ho, &oy), p.C, &c);
  if (nb >= p.N) return;
  const uint dtx = pk_byte(p.dtypes, 0u);
  const uint xc = p.x_offset + nb * p.x_strides[0] + c * p.x_strides[1];
  // Signed: the window may start above or left of the image.
  const int iy0 = (int)(oy * p.stride_h) - (int)p.pad_h;
  const int ix0 = (int)(ox * p.stride_w) - (int)p.pad_w;
  const int is_max = p.mode == PORTA_POOL_MAX;
  float acc = is_max ? -PK_INF : 0.0f;
  uint count = 0;
  for (uint ky = 0; ky < p.KH; ++ky) {
    const int iy = iy0 + (int)(ky * p.dil_h);
    if (iy < 0 || iy >= (int)p.H) continue;
    for (uint kx = 0; kx < p.KW; ++kx) {
      const int ix = ix0 + (int)(kx * p.dil_w);
      if (ix < 0 || ix >= (int)p.W) continue;
      const float v = pk_load(x, dtx, xc + (uint)iy * p.x_strides[2] + (uint)ix * p.x_strides[3]);
      acc = is_max ? pk_max(acc, v) : acc + v;
      ++count;
    }
  }
  if (!is_max) {
    const uint divisor = (p.flags & PORTA_POOL_FLAG_COUNT_PAD) != 0u ? p.KH * p.KW : count;
    acc /= (float)divisor;
  }
  const uint oi = p.o_offset + nb * p.o_strides[0] + c * p.o_strides[1] + oy * p.o_strides[2] +
                  ox * p.o_strides[3];
  pk_store(out, pk_byte(p.dtypes, 2u), oi, acc);
}
