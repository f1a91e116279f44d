// Matrix products: shapes that are no multiple of any tile (1x1x1, primes, gemv 1xNxK and
// Mx1xK, K = 0, empty M or N), both transpose flags, batch dimensions that broadcast (by shape and
// by stride 0), sliced and permuted views, alpha, beta (out must not be read when beta is 0),
// bias and every activation, every input type combination into f32 and into a's type, and
// integer data whose f32 accumulation is exact, so the stored (rounded) output is fully defined.
#include <string>
#include <vector>

#include "conformance/ops/ops_cts.h"

namespace porta_cts {
namespace {

struct MatmulShape {
  int64_t m, n, k;
  Shape a_batch, b_batch;
};

const std::vector<MatmulShape>& Shapes() {
  // The last is big enough (M >= 16, N K >= 2^16) that OpenCL's direct tiles first copy an
  // n-contiguous b into a k-contiguous workspace.
  static const std::vector<MatmulShape> shapes = {
      {1, 1, 1, {}, {}},    {7, 13, 5, {}, {}},        {33, 65, 17, {}, {}}, {1, 67, 129, {}, {}},
      {67, 1, 33, {}, {}},  {2, 3, 0, {}, {}},         {0, 5, 3, {}, {}},    {5, 0, 3, {}, {}},
      {64, 64, 64, {}, {}}, {129, 31, 71, {}, {}},     {5, 6, 7, {3}, {3}},  {4, 5, 6, {2, 3}, {}},
      {3, 4, 5, {1}, {4}},  {3, 5, 4, {2, 1}, {1, 3}}, {2, 3, 4, {0}, {0}},  {17, 260, 254, {}, {}},
  };
  return shapes;
}

Shape Concat(Shape batch, std::initializer_list<int64_t> matrix) {
  batch.insert(batch.end(), matrix);
  return batch;
}

const char* ActivationName(porta_unary_op_t act) {
  switch (act) {
    case PORTA_UNARY_NONE:
      return "none";
    case PORTA_UNARY_RELU:
      return "relu";
    case PORTA_UNARY_GELU_ERF:
      return "gelu_erf";
    case PORTA_UNARY_GELU_TANH:
      return "gelu_tanh";
    case PORTA_UNARY_SILU:
      return "silu";
    default:
      return "?";
  }
}

class OpsMatmulTest : public OpsTest {
 protected:
  struct Types {
    porta_dtype_t a, b, out;
  };

  // Everything one product needs besides the shapes.
  struct Options {
    bool transpose_a = false;
    bool transpose_b = false;
    float alpha = 1.0f;
    float beta = 0.0f;
    bool bias = false;
    porta_unary_op_t activation = PORTA_UNARY_NONE;
    // Layout of a, b and out: 0 contiguous, 1 sliced, 2 permuted (batch dims first reversed).
    int a_layout = 0;
    int b_layout = 0;
    int out_layout = 0;
    // Integer data (exact accumulation) instead of [-1, 1) values.
    bool integers = false;
  };

  static TensorSpec Spec(porta_dtype_t dt, const Shape& shape, int layout) {
    if (layout == 1) return Sliced(dt, shape);
    if (layout == 2) {
      // The two matrix dimensions swapped in memory: a transposed view without the flag.
      std::vector<int> perm(shape.size());
      for (size_t d = 0; d < perm.size(); ++d) perm[d] = static_cast<int>(d);
      std::swap(perm[perm.size() - 1], perm[perm.size() - 2]);
      return Permuted(dt, shape, perm);
    }
    return Contiguous(dt, shape);
  }

  DeviceTensor Data(const TensorSpec& spec, bool integers, int64_t lo, int64_t hi) {
    if (!integers) return Random(spec);
    return Upload(
        spec, RandomIntegers(static_cast<size_t>(ElementCount(spec.shape)), NextSeed(), lo, hi));
  }

  void Check(const MatmulShape& s, const Types& t, const Options& o) {
    const Shape a_shape =
        Concat(s.a_batch, o.transpose_a ? std::initializer_list<int64_t>{s.k, s.m}
                                        : std::initializer_list<int64_t>{s.m, s.k});
    const Shape b_shape =
        Concat(s.b_batch, o.transpose_b ? std::initializer_list<int64_t>{s.n, s.k}
                                        : std::initializer_list<int64_t>{s.k, s.n});
    const Shape batch = ref::BroadcastShapes(s.a_batch, s.b_batch);
    const Shape out_shape = Concat(batch, {s.m, s.n});
    DeviceTensor a = Data(Spec(t.a, a_shape, o.a_layout), o.integers, -8, 8);
    DeviceTensor b = Data(Spec(t.b, b_shape, o.b_layout), o.integers, -8, 8);
    DeviceTensor bias =
        o.bias ? Data(Contiguous(t.out, {s.n}), o.integers, -16, 16) : DeviceTensor();
    const TensorSpec out_spec = Spec(t.out, out_shape, o.out_layout);
    // With beta 0 the output starts as NaN: a kernel that reads it anyway produces NaN.
    DeviceTensor out = o.beta != 0.0f ? Data(out_spec, o.integers, -16, 16) : Output(out_spec);
    const std::vector<double> c_values = out.Values();
    porta_matmul_desc_t desc = PORTA_MATMUL_DESC_INIT;
    desc.transpose_a = o.transpose_a ? 1 : 0;
    desc.transpose_b = o.transpose_b ? 1 : 0;
    desc.alpha = o.alpha;
    desc.beta = o.beta;
    desc.activation = o.activation;
    const std::string what = "matmul M " + std::to_string(s.m) + " N " + std::to_string(s.n) +
                             " K " + std::to_string(s.k) + (o.transpose_a ? " ta" : "") +
                             (o.transpose_b ? " tb" : "") + " alpha " + std::to_string(o.alpha) +
                             " beta " + std::to_string(o.beta) + (o.bias ? " bias" : "") + " act " +
                             ActivationName(o.activation) + (o.integers ? " integer data" : "") +
                             ", a " + SpecText(a.spec()) + ", b " + SpecText(b.spec());
    ASSERT_PORTA_OK(porta_ops_matmul(ctx(), stream(), &desc, a.get(), b.get(),
                                     o.bias ? bias.get() : nullptr, out.get()))
        << what;
    const std::vector<double> a_values = a.Values(), b_values = b.Values();
    std::vector<double> bias_values;
    if (o.bias) bias_values = bias.Values();
    ref::MatmulArgs args;
    args.a = &a_values;
    args.a_shape = a_shape;
    args.b = &b_values;
    args.b_shape = b_shape;
    args.transpose_a = o.transpose_a;
    args.transpose_b = o.transpose_b;
    args.alpha = o.alpha;
    args.beta = o.beta;
    args.c = o.beta != 0.0f ? &c_values : nullptr;
    args.bias = o.bias ? &bias_values : nullptr;
    args.activation = o.activation;
    const std::vector<double> expected = ref::Matmul(args, out_shape);
    const OpClass op_class = o.integers ? OpClass::kExact : OpClass::kMatmul;
    const auto k = static_cast<double>(s.k);
    if (o.bias) {
      EXPECT_TRUE(Verify(what, op_class, out, expected, k, {&a, &b, &bias}));
    } else {
      EXPECT_TRUE(Verify(what, op_class, out, expected, k, {&a, &b}));
    }
  }

  // Every shape with every transpose combination.
  void RunShapes(const Types& t) {
    for (const MatmulShape& s : Shapes()) {
      for (int flags = 0; flags < 4; ++flags) {
        Options o;
        o.transpose_a = (flags & 1) != 0;
        o.transpose_b = (flags & 2) != 0;
        Check(s, t, o);
      }
    }
  }

  // alpha, beta, bias and every activation, on a small and a tile-straddling shape and K = 0, and
  // every activation on long rows.
  void RunEpilogues(const Types& t) {
    struct Scalars {
      float alpha, beta;
      bool bias;
    };
    const Scalars scalars[] = {
        {1.0f, 0.0f, false}, {0.5f, 0.0f, true}, {-2.0f, 0.75f, true}, {1.0f, 1.0f, false}};
    for (const MatmulShape& s : {MatmulShape{7, 13, 5, {}, {}}, MatmulShape{33, 65, 17, {}, {}},
                                 MatmulShape{4, 9, 0, {}, {}}}) {
      for (porta_unary_op_t act : {PORTA_UNARY_NONE, PORTA_UNARY_RELU, PORTA_UNARY_GELU_ERF,
                                   PORTA_UNARY_GELU_TANH, PORTA_UNARY_SILU}) {
        for (const Scalars& sc : scalars) {
          Options o;
          o.alpha = sc.alpha;
          o.beta = sc.beta;
          o.bias = sc.bias;
          o.activation = act;
          Check(s, t, o);
        }
      }
    }
    // Long rows whose values (alpha 4 on K = 64 random terms: a spread of about 18) reach every
    // range of the activations' approximations, through vectorized epilogues and their tails.
    for (porta_unary_op_t act : {PORTA_UNARY_NONE, PORTA_UNARY_RELU, PORTA_UNARY_GELU_ERF,
                                 PORTA_UNARY_GELU_TANH, PORTA_UNARY_SILU}) {
      Options o;
      o.alpha = 4.0f;
      o.bias = true;
      o.activation = act;
      Check(MatmulShape{3, 1001, 64, {}, {}}, t, o);
    }
    // Enough rows for the host to split them among work-groups, batched, with K past one
    // 256-deep block of its GEMM, beta and the epilogue.
    Options split;
    split.beta = 0.5f;
    split.bias = true;
    split.activation = PORTA_UNARY_GELU_ERF;
    Check(MatmulShape{150, 70, 300, {2}, {2}}, t, split);
  }

  // Strided views: sliced a, b stored transposed (no flag), sliced and permuted outputs, a batch
  // broadcast by stride 0.
  void RunLayouts(const Types& t) {
    const MatmulShape plain = {9, 14, 11, {}, {}};
    const MatmulShape batched = {5, 6, 7, {2, 3}, {2, 3}};
    for (const MatmulShape& s : {plain, batched}) {
      for (int a_layout = 0; a_layout < 3; ++a_layout) {
        for (int b_layout = 0; b_layout < 3; ++b_layout) {
          Options o;
          o.a_layout = a_layout;
          o.b_layout = b_layout;
          o.out_layout = (a_layout + b_layout) % 3;
          o.transpose_b = b_layout == 1;
          o.bias = a_layout == 2;
          o.beta = b_layout == 2 ? 0.5f : 0.0f;
          Check(s, t, o);
        }
      }
    }
    // b's batch dimension broadcast by a stride of 0 rather than by a size of 1.
    const Shape a_shape = {4, 6, 5}, b_shape = {4, 5, 7};
    DeviceTensor a = Random(Contiguous(t.a, a_shape));
    DeviceTensor b = Random(Broadcast(t.b, b_shape, {0}));
    DeviceTensor out = Output(Contiguous(t.out, {4, 6, 7}));
    porta_matmul_desc_t desc = PORTA_MATMUL_DESC_INIT;
    ASSERT_PORTA_OK(porta_ops_matmul(ctx(), stream(), &desc, a.get(), b.get(), nullptr, out.get()));
    const std::vector<double> a_values = a.Values(), b_values = b.Values();
    ref::MatmulArgs args;
    args.a = &a_values;
    args.a_shape = a_shape;
    args.b = &b_values;
    args.b_shape = b_shape;
    EXPECT_TRUE(Verify("matmul with b's batch broadcast by stride 0", OpClass::kMatmul, out,
                       ref::Matmul(args, {4, 6, 7}), 5, {&a, &b}));
  }

  // Integer data: every partial sum is an integer below 2^24, so the f32 result is exact in any
  // summation order and the output is the exact value rounded once, to nearest even.
  void RunIntegers(const Types& t) {
    for (const MatmulShape& s : {MatmulShape{33, 65, 17, {}, {}}, MatmulShape{7, 13, 129, {}, {}},
                                 MatmulShape{3, 5, 4, {2, 1}, {1, 3}}}) {
      for (int variant = 0; variant < 3; ++variant) {
        Options o;
        o.integers = true;
        o.transpose_a = variant == 1;
        o.transpose_b = variant == 2;
        o.bias = variant != 0;
        o.beta = variant == 2 ? 2.0f : 0.0f;
        o.activation = variant == 1 ? PORTA_UNARY_RELU : PORTA_UNARY_NONE;
        Check(s, t, o);
      }
    }
  }

  void RunAll(const Types& t) {
    RunShapes(t);
    RunEpilogues(t);
    RunLayouts(t);
    RunIntegers(t);
  }

  // The lighter set for mixed input types: the code paths are shared, the conversions are not.
  void RunMixed(const Types& t) {
    // K = 48 with b transposed: the fast path of kernels that read b k-contiguous in vectors (as
    // f16 or bf16 model weights with f32 activations are read); K = 96, a multiple of 32: the
    // path of Vulkan's subgroup tile that reads a and b through texel views; 17x260x254 with b
    // not transposed: the k-contiguous copy of b that OpenCL's direct tiles make first.
    for (const MatmulShape& s : {MatmulShape{7, 13, 5, {}, {}}, MatmulShape{33, 65, 17, {}, {}},
                                 MatmulShape{1, 67, 129, {}, {}}, MatmulShape{3, 4, 5, {1}, {4}},
                                 MatmulShape{9, 21, 48, {}, {}}, MatmulShape{9, 21, 96, {}, {}},
                                 MatmulShape{17, 260, 254, {}, {}}}) {
      for (int flags = 0; flags < 4; ++flags) {
        Options o;
        o.transpose_a = (flags & 1) != 0;
        o.transpose_b = (flags & 2) != 0;
        o.bias = flags == 3;
        Check(s, t, o);
      }
    }
    RunIntegers(t);
  }
};

#define PORTA_OPS_MATMUL_REQUIRE(A, B, OUT)                    \
  do {                                                         \
    PORTA_OPS_REQUIRE(ctx(), PORTA_OP_MATMUL, A, B, OUT);      \
    PORTA_OPS_REQUIRE(ctx(), PORTA_OP_MATMUL, A, B, OUT, OUT); \
  } while (0)

TEST_P(OpsMatmulTest, F32) {
  const porta_dtype_t f = PORTA_DTYPE_F32;
  PORTA_OPS_MATMUL_REQUIRE(f, f, f);
  RunAll({f, f, f});
}

TEST_P(OpsMatmulTest, F16) {
  const porta_dtype_t h = PORTA_DTYPE_F16;
  PORTA_OPS_MATMUL_REQUIRE(h, h, h);
  RunAll({h, h, h});
}

TEST_P(OpsMatmulTest, BF16) {
  const porta_dtype_t b = PORTA_DTYPE_BF16;
  PORTA_OPS_MATMUL_REQUIRE(b, b, b);
  RunAll({b, b, b});
}

TEST_P(OpsMatmulTest, F16IntoF32) {
  const porta_dtype_t h = PORTA_DTYPE_F16, f = PORTA_DTYPE_F32;
  PORTA_OPS_MATMUL_REQUIRE(h, h, f);
  RunAll({h, h, f});
}

TEST_P(OpsMatmulTest, BF16IntoF32) {
  const porta_dtype_t b = PORTA_DTYPE_BF16, f = PORTA_DTYPE_F32;
  PORTA_OPS_MATMUL_REQUIRE(b, b, f);
  RunAll({b, b, f});
}

#define PORTA_OPS_MATMUL_MIXED(A, B, OUT)                                          \
  TEST_P(OpsMatmulTest, A##_##B##_into_##OUT) {                                    \
    PORTA_OPS_MATMUL_REQUIRE(PORTA_DTYPE_##A, PORTA_DTYPE_##B, PORTA_DTYPE_##OUT); \
    RunMixed({PORTA_DTYPE_##A, PORTA_DTYPE_##B, PORTA_DTYPE_##OUT});               \
  }

PORTA_OPS_MATMUL_MIXED(F32, F16, F32)
PORTA_OPS_MATMUL_MIXED(F32, BF16, F32)
PORTA_OPS_MATMUL_MIXED(F16, F32, F32)
PORTA_OPS_MATMUL_MIXED(F16, F32, F16)
PORTA_OPS_MATMUL_MIXED(F16, BF16, F32)
PORTA_OPS_MATMUL_MIXED(F16, BF16, F16)
PORTA_OPS_MATMUL_MIXED(BF16, F32, F32)
PORTA_OPS_MATMUL_MIXED(BF16, F32, BF16)
PORTA_OPS_MATMUL_MIXED(BF16, F16, F32)
PORTA_OPS_MATMUL_MIXED(BF16, F16, BF16)

PORTA_CTS_INSTANTIATE(OpsMatmulTest);

}  // namespace
}  // namespace porta_cts
