// The epilogue shared by the matmul variants (matmul.comp, matmul_direct.comp,
// matmul_subgroup.comp): the activation and the store of one invocation's WM x WN block with
// alpha, beta and bias. Included after the parameter block |p|, the loaders o_load / bias_load,
// the storer o_store and the WM / WN defines.

float activation(uint code, float x) {
  switch (code) {
    case PORTA_EW_RELU: return porta_relu(x);
    case PORTA_EW_GELU_ERF: return porta_gelu_erf(x);
    case PORTA_EW_GELU_TANH: return porta_gelu_tanh(x);
    case PORTA_EW_SILU: return porta_silu(x);
    default: return x;
  }
}

// Stores |result| (row-major WM x WN sums) at rows m_first.. and columns cols[0..WN) of the
// output that starts at element o_base, skipping what lies outside M x N. The loop is not unrolled:
// its activation code (erf, exp) would otherwise be copied WM * WN times.
void store_block_cols(uint o_base, uint m_first, uint cols[WN], float result[WM * WN]) {
  const uint dto = porta_byte(p.dtypes, 2u);
  const uint dtbias = porta_byte(p.dtypes, 3u);
  const bool use_beta = (p.flags & PORTA_MM_FLAG_BETA) != 0u;
  const bool use_bias = (p.flags & PORTA_MM_FLAG_BIAS) != 0u;
  const uint act = (p.flags >> 8) & 0xffu;
  [[dont_unroll]] for (uint e = 0u; e < WM * WN; ++e) {
    const uint m = m_first + e / WN;
    const uint n = cols[e % WN];
    if (m < p.M && n < p.N) {
      const uint io = o_base + m * p.o_rs + n * p.o_cs;
      float v = p.alpha * result[e];
      if (use_beta) v += p.beta * o_load(dto, io);
      if (use_bias) v += bias_load(dtbias, p.bias_offset + n * p.bias_stride);
      o_store(dto, io, activation(act, v));
    }
  }
}

// The same for the contiguous columns n_first ...
void store_block(uint o_base, uint m_first, uint n_first, float result[WM * WN]) {
  uint cols[WN];
  [[unroll]] for (uint j = 0u; j < WN; ++j) cols[j] = n_first + j;
  store_block_cols(o_base, m_first, cols, result);
}
