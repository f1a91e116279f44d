// Host kernel porta_matmul: the whole (batched) product in one call. With OpenBLAS (found at
// build time: PORTA_OPS_HAVE_OPENBLAS) each product is one cblas_sgemm, straight on the tensors
// when they are f32 with a unit stride in one matrix dimension, else on f32 copies; without it,
// a cache-blocked loop over f32 copies. The epilogue (bias, activation, conversion, strided
// store) follows in f32.
#include <algorithm>
#include <string>
#include <vector>

#include "kernels/cpu/host_common.h"
#include "kernels/cpu/host_kernels.h"
#include "kernels/cpu/vector_math.h"

#if defined(PORTA_OPS_HAVE_OPENBLAS)
#include <cblas.h>
#endif

namespace porta::ops::host {
namespace {

// A row-major or column-major view of an f32 matrix that BLAS can take directly.
struct BlasMatrix {
  const float* data = nullptr;
  bool transposed = false;
  int64_t ld = 0;
};

// |rows| x |cols| at |base| with strides (rs, cs): usable by BLAS when one stride is 1 and the
// other is a valid leading dimension.
bool AsBlas(const void* buffer, uint32_t dtype, uint64_t base, uint64_t rows, uint64_t cols,
            uint64_t rs, uint64_t cs, BlasMatrix* out) {
  if (dtype != PORTA_DT_F32) return false;
  out->data = static_cast<const float*>(buffer) + base;
  if (cs == 1 && rs >= std::max<uint64_t>(1, cols)) {
    out->transposed = false;
    out->ld = static_cast<int64_t>(rs);
    return true;
  }
  if (rs == 1 && cs >= std::max<uint64_t>(1, rows)) {
    out->transposed = true;
    out->ld = static_cast<int64_t>(cs);
    return true;
  }
  return false;
}

// Copies a strided matrix of any dtype into a dense row-major f32 array.
void Densify(const void* buffer, uint32_t dtype, uint64_t base, uint64_t rows, uint64_t cols,
             uint64_t rs, uint64_t cs, std::vector<float>* dense) {
  dense->resize(rows * cols);
  for (uint64_t r = 0; r < rows; ++r) {
    for (uint64_t c = 0; c < cols; ++c)
      (*dense)[r * cols + c] = Load(buffer, dtype, base + r * rs + c * cs);
  }
}

#if defined(PORTA_HOST_AVX512)
// A blocked AVX-512 GEMM for CPUs whose OpenBLAS build runs an older kernel: OpenBLAS 0.3.21
// does not know recent Xeons (family 6 model 207 reports as "Prescott" and runs SSE3 code, about
// a quarter of this loop's speed on one core). B is packed into 32-column panels and A into
// 8-row strips, K in blocks of 256, so the 8 x 32 tile of C stays in sixteen registers.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#if !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
constexpr uint64_t kMr = 8, kNr = 32, kKc = 256, kNc = 2048;

inline float ElementOf(const BlasMatrix& x, uint64_t row, uint64_t col) {
  return x.transposed ? x.data[col * x.ld + row] : x.data[row * x.ld + col];
}

// c[0..rows) x [0..cols) = alpha * (a_pack . b_pack) + beta * c (c not read when beta is 0).
PORTA_HOST_AVX512_TARGET void TileAvx512(uint64_t kc, const float* a_pack, const float* b_pack,
                                         float* c, uint64_t ldc, uint64_t rows, uint64_t cols,
                                         float alpha, float beta) {
  __m512 acc[kMr][2];
  for (uint64_t r = 0; r < kMr; ++r) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
  for (uint64_t p = 0; p < kc; ++p) {
    const __m512 b0 = _mm512_loadu_ps(b_pack + p * kNr);
    const __m512 b1 = _mm512_loadu_ps(b_pack + p * kNr + 16);
    for (uint64_t r = 0; r < kMr; ++r) {
      const __m512 av = _mm512_set1_ps(a_pack[p * kMr + r]);
      acc[r][0] = _mm512_fmadd_ps(av, b0, acc[r][0]);
      acc[r][1] = _mm512_fmadd_ps(av, b1, acc[r][1]);
    }
  }
  const __mmask16 m0 = cols >= 16 ? 0xffff : static_cast<__mmask16>((1u << cols) - 1u);
  const __mmask16 m1 = cols >= 32   ? 0xffff
                       : cols <= 16 ? 0
                                    : static_cast<__mmask16>((1u << (cols - 16)) - 1u);
  const __m512 alpha_v = _mm512_set1_ps(alpha), beta_v = _mm512_set1_ps(beta);
  for (uint64_t r = 0; r < rows; ++r) {
    float* row = c + r * ldc;
    __m512 v0 = _mm512_mul_ps(acc[r][0], alpha_v), v1 = _mm512_mul_ps(acc[r][1], alpha_v);
    if (beta != 0.0f) {
      v0 = _mm512_fmadd_ps(beta_v, _mm512_maskz_loadu_ps(m0, row), v0);
      v1 = _mm512_fmadd_ps(beta_v, _mm512_maskz_loadu_ps(m1, row + 16), v1);
    }
    _mm512_mask_storeu_ps(row, m0, v0);
    _mm512_mask_storeu_ps(row + 16, m1, v1);
  }
}

void GemmAvx512(uint64_t m, uint64_t n, uint64_t k, float alpha, const BlasMatrix& a,
                const BlasMatrix& b, float beta, float* c, uint64_t ldc) {
  thread_local std::vector<float> a_pack, b_pack;
  for (uint64_t jc = 0; jc < n; jc += kNc) {
    const uint64_t nc = std::min(kNc, n - jc);
    const uint64_t panels = (nc + kNr - 1) / kNr;
    for (uint64_t pc = 0; pc < k; pc += kKc) {
      const uint64_t kc = std::min(kKc, k - pc);
      b_pack.assign(panels * kc * kNr, 0.0f);
      for (uint64_t panel = 0; panel < panels; ++panel) {
        const uint64_t j0 = jc + panel * kNr, width = std::min(kNr, n - j0);
        float* dst = b_pack.data() + panel * kc * kNr;
        for (uint64_t p = 0; p < kc; ++p) {
          for (uint64_t j = 0; j < width; ++j) dst[p * kNr + j] = ElementOf(b, pc + p, j0 + j);
        }
      }
      // Later K blocks add to what the first one stored.
      const float block_beta = pc == 0 ? beta : 1.0f;
      a_pack.resize(kc * kMr);
      for (uint64_t ic = 0; ic < m; ic += kMr) {
        const uint64_t rows = std::min(kMr, m - ic);
        for (uint64_t p = 0; p < kc; ++p) {
          for (uint64_t r = 0; r < kMr; ++r)
            a_pack[p * kMr + r] = r < rows ? ElementOf(a, ic + r, pc + p) : 0.0f;
        }
        for (uint64_t panel = 0; panel < panels; ++panel) {
          const uint64_t j0 = jc + panel * kNr;
          TileAvx512(kc, a_pack.data(), b_pack.data() + panel * kc * kNr, c + ic * ldc + j0, ldc,
                     rows, std::min(kNr, n - j0), alpha, block_beta);
        }
      }
    }
  }
}
#pragma GCC diagnostic pop

// Whether the products take GemmAvx512: an AVX-512 CPU whose BLAS (if any) runs no AVX-512 code.
bool UseGemmAvx512() {
  static const bool use = [] {
    if (!HasAvx512()) return false;
#if defined(PORTA_OPS_HAVE_OPENBLAS)
    const std::string core = openblas_get_corename();
    return core != "SkylakeX" && core != "Cooperlake" && core != "SapphireRapids";
#else
    return true;
#endif
  }();
  return use;
}
#endif

// Whether the work-groups of a launch share its rows: only for GemmAvx512, single-threaded.
bool RowsSplit() {
#if defined(PORTA_HOST_AVX512)
  return UseGemmAvx512();
#else
  return false;
#endif
}

// c (row-major, ldc) = alpha * a @ b + beta * c.
void Gemm(uint64_t m, uint64_t n, uint64_t k, float alpha, const BlasMatrix& a, const BlasMatrix& b,
          float beta, float* c, uint64_t ldc) {
#if defined(PORTA_HOST_AVX512)
  if (UseGemmAvx512()) {
    GemmAvx512(m, n, k, alpha, a, b, beta, c, ldc);
    return;
  }
#endif
#if defined(PORTA_OPS_HAVE_OPENBLAS)
  cblas_sgemm(CblasRowMajor, a.transposed ? CblasTrans : CblasNoTrans,
              b.transposed ? CblasTrans : CblasNoTrans, static_cast<blasint>(m),
              static_cast<blasint>(n), static_cast<blasint>(k), alpha, a.data,
              static_cast<blasint>(a.ld), b.data, static_cast<blasint>(b.ld), beta, c,
              static_cast<blasint>(ldc));
#else
  // Dense row-major inputs only (the caller densifies without BLAS). i-k-j order: the inner loop
  // streams rows of b and c, which the compiler vectorizes; 64-wide k blocks stay in cache.
  for (uint64_t i = 0; i < m; ++i) {
    float* row = c + i * ldc;
    for (uint64_t j = 0; j < n; ++j) row[j] = beta == 0.0f ? 0.0f : row[j] * beta;
  }
  constexpr uint64_t kBlock = 64;
  for (uint64_t k0 = 0; k0 < k; k0 += kBlock) {
    const uint64_t k1 = std::min(k, k0 + kBlock);
    for (uint64_t i = 0; i < m; ++i) {
      float* row = c + i * ldc;
      for (uint64_t kk = k0; kk < k1; ++kk) {
        const float scale = alpha * a.data[i * a.ld + kk];
        const float* brow = b.data + kk * b.ld;
        for (uint64_t j = 0; j < n; ++j) row[j] += scale * brow[j];
      }
    }
  }
#endif
}

int32_t MatmulKernel(const porta_host_group_t* group) {
  const PortaMatmulParams& p = ParamsOf<PortaMatmulParams>(group);
  const void* a = Arg(group, 0);
  const void* b = Arg(group, 1);
  const void* bias = Arg(group, 2);
  void* out = Arg(group, 3);
  const uint32_t da = Byte(p.dtypes, 0), db = Byte(p.dtypes, 1), dout = Byte(p.dtypes, 2),
                 dbias = Byte(p.dtypes, 3);
  const uint32_t act = (p.flags >> 8) & 0xffu;
  const bool has_bias = (p.flags & PORTA_MM_FLAG_BIAS) != 0;
  const bool has_beta = (p.flags & PORTA_MM_FLAG_BETA) != 0;
  // The work-groups along y split the rows of every product (the front end launches one per
  // compute unit for larger M); BLAS, which threads by itself, takes them all in group 0.
  const uint64_t groups = group->group_count[1], gid = group->group_id[1];
  uint64_t row_begin = 0, row_end = p.M;
  if (RowsSplit()) {
    const uint64_t share = (uint64_t{p.M} + groups - 1) / groups;
    row_begin = std::min<uint64_t>(p.M, gid * share);
    row_end = std::min<uint64_t>(p.M, row_begin + share);
  } else if (gid != 0) {
    return 0;
  }
  const uint64_t m = row_end - row_begin, n = p.N, k = p.K;
  if (m == 0) return 0;
  thread_local std::vector<float> dense_a, dense_b, dense_c, dense_bias;
  // The bias as a contiguous f32 row, for the vectorized epilogue.
  const float* bias_row = nullptr;
  if (has_bias) {
    if (dbias == PORTA_DT_F32 && p.bias_stride == 1) {
      bias_row = static_cast<const float*>(bias) + p.bias_offset;
    } else {
      dense_bias.resize(n);
      for (uint64_t j = 0; j < n; ++j)
        dense_bias[j] = Load(bias, dbias, p.bias_offset + j * p.bias_stride);
      bias_row = dense_bias.data();
    }
  }
  for (uint64_t z = 0; z < uint64_t{p.batch0} * p.batch1; ++z) {
    const uint64_t z0 = z / p.batch1, z1 = z % p.batch1;
    const uint64_t a_base = p.a_offset + z0 * p.a_bs[0] + z1 * p.a_bs[1] + row_begin * p.a_rs;
    const uint64_t b_base = p.b_offset + z0 * p.b_bs[0] + z1 * p.b_bs[1];
    const uint64_t o_base = p.o_offset + z0 * p.o_bs[0] + z1 * p.o_bs[1] + row_begin * p.o_rs;
    // out straight from BLAS (beta folded in) when it is a plain f32 matrix; bias and activation
    // then run over its rows in place.
    const bool direct =
        dout == PORTA_DT_F32 && p.o_cs == 1 && p.o_rs >= std::max<uint64_t>(1, n) && k > 0;
    float* c = nullptr;
    uint64_t ldc = n;
    if (direct) {
      c = static_cast<float*>(out) + o_base;
      ldc = p.o_rs;
    } else {
      dense_c.assign(m * n, 0.0f);
      c = dense_c.data();
      if (has_beta) {
        for (uint64_t i = 0; i < m; ++i) {
          for (uint64_t j = 0; j < n; ++j)
            c[i * n + j] = Load(out, dout, o_base + i * p.o_rs + j * p.o_cs);
        }
      }
    }
    const float beta = has_beta ? p.beta : 0.0f;
    if (k == 0) {
      for (uint64_t i = 0; i < m; ++i) {
        for (uint64_t j = 0; j < n; ++j) c[i * ldc + j] *= beta;
      }
    } else {
      BlasMatrix ma, mb;
#if defined(PORTA_OPS_HAVE_OPENBLAS)
      const bool blas_a = AsBlas(a, da, a_base, m, k, p.a_rs, p.a_cs, &ma);
      const bool blas_b = AsBlas(b, db, b_base, k, n, p.b_rs, p.b_cs, &mb);
#else
      const bool blas_a = false, blas_b = false;
#endif
      if (!blas_a) {
        Densify(a, da, a_base, m, k, p.a_rs, p.a_cs, &dense_a);
        ma = {dense_a.data(), false, static_cast<int64_t>(k)};
      }
      if (!blas_b) {
        Densify(b, db, b_base, k, n, p.b_rs, p.b_cs, &dense_b);
        mb = {dense_b.data(), false, static_cast<int64_t>(n)};
      }
      Gemm(m, n, k, p.alpha, ma, mb, beta, c, ldc);
    }
    for (uint64_t i = 0; i < m; ++i) {
      float* row = c + i * ldc;
      BiasActivateRow(row, n, bias_row, act);
      if (direct) continue;
      for (uint64_t j = 0; j < n; ++j) Store(out, dout, o_base + i * p.o_rs + j * p.o_cs, row[j]);
    }
  }
  return 0;
}

}  // namespace

porta_host_kernel_fn MatmulHostKernel() {
  return MatmulKernel;
}

}  // namespace porta::ops::host
