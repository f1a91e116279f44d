// Element-wise operations of the operator library: unary, binary (tensor and scalar operands,
// NumPy broadcasting), cast, copy and concatenation, and the slice/permute views they run on, in
// every dtype the library accepts, on contiguous, permuted, sliced, broadcast (stride 0), rank-0,
// high-rank and empty tensors, with edge values (signed zeros, infinities, NaN, f16 subnormals).
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "conformance/ops/ops_cts.h"

namespace porta_cts {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// An input layout and the output layout of an element-wise operation of one shape.
struct Layout {
  TensorSpec in;
  TensorSpec out;
};

// Every kind of layout an element-wise kernel must handle. The reversed permutations leave no two
// dimensions that can be merged, so a front end that folds tensors into the kernels' four
// dimensions has to cope with more than four.
std::vector<Layout> ElementwiseLayouts(porta_dtype_t dt) {
  return {
      {Contiguous(dt, {3, 37}), Contiguous(dt, {3, 37})},
      {Permuted(dt, {5, 7, 3}, {2, 0, 1}), Sliced(dt, {5, 7, 3})},
      {Broadcast(dt, {4, 9}, {0}), Contiguous(dt, {4, 9})},
      {Contiguous(dt, {}), Contiguous(dt, {})},
      {Contiguous(dt, {2053}), Contiguous(dt, {2053})},
      {Permuted(dt, {2, 3, 1, 2, 2, 3}, {5, 4, 3, 2, 1, 0}), Sliced(dt, {2, 3, 1, 2, 2, 3})},
      {Permuted(dt, {2, 2, 1, 2, 3, 1, 2, 2}, {7, 6, 5, 4, 3, 2, 1, 0}),
       Contiguous(dt, {2, 2, 1, 2, 3, 1, 2, 2})},
      {Contiguous(dt, {4, 0, 3}), Contiguous(dt, {4, 0, 3})},
  };
}

// Signed zeros, infinities, NaN, the f16 limits and an f16 subnormal (all normal in f32, so a
// device that flushes f32 subnormals is not blamed).
const std::vector<double>& EdgeValues() {
  static const std::vector<double> values = {0.0,     -0.0,     1.0,     -1.0, kInf,    -kInf,
                                             65504.0, -65504.0, 0.5,     -2.5, 0x1p-24, -0x1p-24,
                                             0x1p-14, 3.0e38,   -3.0e38, kNaN};
  return values;
}

std::vector<double> Map(std::vector<double> values, porta_unary_op_t op) {
  for (double& v : values) v = ref::Unary(op, v);
  return values;
}

//===------------------------------------------------------------------------------------------===//
// Unary
//===------------------------------------------------------------------------------------------===//

struct UnaryCase {
  porta_unary_op_t op;
  const char* name;
  // Input range: where the function is finite and its f32 evaluation well conditioned.
  double lo, hi;
  OpClass op_class;
};

constexpr UnaryCase kUnaryCases[] = {
    {PORTA_UNARY_NEG, "neg", -1, 1, OpClass::kExact},
    {PORTA_UNARY_ABS, "abs", -1, 1, OpClass::kExact},
    {PORTA_UNARY_EXP, "exp", -4, 4, OpClass::kElementwise},
    {PORTA_UNARY_LOG, "log", 1.0 / 64, 4, OpClass::kElementwise},
    {PORTA_UNARY_SQRT, "sqrt", 0, 4, OpClass::kElementwise},
    {PORTA_UNARY_RSQRT, "rsqrt", 1.0 / 64, 4, OpClass::kElementwise},
    {PORTA_UNARY_TANH, "tanh", -4, 4, OpClass::kElementwise},
    {PORTA_UNARY_SIGMOID, "sigmoid", -8, 8, OpClass::kElementwise},
    {PORTA_UNARY_RELU, "relu", -1, 1, OpClass::kExact},
    {PORTA_UNARY_GELU_ERF, "gelu_erf", -5, 5, OpClass::kElementwise},
    {PORTA_UNARY_GELU_TANH, "gelu_tanh", -5, 5, OpClass::kElementwise},
    {PORTA_UNARY_SILU, "silu", -8, 8, OpClass::kElementwise},
};

class OpsUnaryTest : public OpsTest {
 protected:
  void Run(porta_dtype_t dt) {
    for (const UnaryCase& c : kUnaryCases) {
      for (const Layout& layout : ElementwiseLayouts(dt)) {
        DeviceTensor x = Random(layout.in, c.lo, c.hi);
        DeviceTensor out = Output(layout.out);
        const std::string what = std::string("unary ") + c.name + ", x " + SpecText(x.spec());
        ASSERT_PORTA_OK(porta_ops_unary(ctx(), stream(), c.op, x.get(), out.get())) << what;
        EXPECT_TRUE(Verify(what, c.op_class, out, Map(x.Values(), c.op), 1, {&x}));
      }
      // In place: the same view as input and output.
      DeviceTensor x = Random(Sliced(dt, {5, 11}), c.lo, c.hi);
      const std::vector<double> before = x.Values();
      const std::string what = std::string("unary ") + c.name + " in place";
      ASSERT_PORTA_OK(porta_ops_unary(ctx(), stream(), c.op, x.get(), x.get())) << what;
      EXPECT_TRUE(Verify(what, c.op_class, x, Map(before, c.op)));
    }
    // The exact functions on edge values (RELU of NaN is not defined by the API).
    for (porta_unary_op_t op : {PORTA_UNARY_NEG, PORTA_UNARY_ABS, PORTA_UNARY_RELU}) {
      std::vector<double> edges = EdgeValues();
      if (op == PORTA_UNARY_RELU) edges.pop_back();
      const Shape shape = {static_cast<int64_t>(edges.size())};
      DeviceTensor x = Upload(Contiguous(dt, shape), edges);
      DeviceTensor out = Output(Contiguous(dt, shape));
      const std::string what = "unary " + std::to_string(op) + " on edge values";
      ASSERT_PORTA_OK(porta_ops_unary(ctx(), stream(), op, x.get(), out.get())) << what;
      EXPECT_TRUE(Verify(what, OpClass::kExact, out, Map(x.Values(), op), 1, {&x}));
    }
  }
};

TEST_P(OpsUnaryTest, F32) {
  PORTA_OPS_REQUIRE(ctx(), PORTA_OP_UNARY, PORTA_DTYPE_F32, PORTA_DTYPE_F32);
  Run(PORTA_DTYPE_F32);
}

TEST_P(OpsUnaryTest, F16) {
  PORTA_OPS_REQUIRE(ctx(), PORTA_OP_UNARY, PORTA_DTYPE_F16, PORTA_DTYPE_F16);
  Run(PORTA_DTYPE_F16);
}

TEST_P(OpsUnaryTest, BF16) {
  PORTA_OPS_REQUIRE(ctx(), PORTA_OP_UNARY, PORTA_DTYPE_BF16, PORTA_DTYPE_BF16);
  Run(PORTA_DTYPE_BF16);
}

PORTA_CTS_INSTANTIATE(OpsUnaryTest);

//===------------------------------------------------------------------------------------------===//
// Binary
//===------------------------------------------------------------------------------------------===//

struct BinaryCase {
  porta_binary_op_t op;
  const char* name;
  OpClass op_class;
};

// ADD, SUB, MUL, MAX and MIN are exact: the f32 result of two stored values is correctly rounded
// (and exact for f16/bf16 operands), so the stored output is fully determined.
constexpr BinaryCase kBinaryCases[] = {
    {PORTA_BINARY_ADD, "add", OpClass::kExact},
    {PORTA_BINARY_SUB, "sub", OpClass::kExact},
    {PORTA_BINARY_MUL, "mul", OpClass::kExact},
    {PORTA_BINARY_DIV, "div", OpClass::kElementwise},
    {PORTA_BINARY_MAX, "max", OpClass::kExact},
    {PORTA_BINARY_MIN, "min", OpClass::kExact},
    {PORTA_BINARY_POW, "pow", OpClass::kElementwise},
    {PORTA_BINARY_SWIGLU, "swiglu", OpClass::kElementwise},
};

struct BinaryLayout {
  TensorSpec a, b, out;
};

std::vector<BinaryLayout> BinaryLayouts(porta_dtype_t dt) {
  return {
      {Contiguous(dt, {4, 33}), Contiguous(dt, {4, 33}), Contiguous(dt, {4, 33})},
      {Contiguous(dt, {3, 1, 5}), Contiguous(dt, {4, 5}), Contiguous(dt, {3, 4, 5})},
      {Contiguous(dt, {1, 9}), Contiguous(dt, {9, 1}), Contiguous(dt, {9, 9})},
      {Contiguous(dt, {7}), Contiguous(dt, {}), Contiguous(dt, {7})},
      {Contiguous(dt, {}), Contiguous(dt, {6, 2}), Contiguous(dt, {6, 2})},
      {Permuted(dt, {3, 4, 5}, {2, 0, 1}), Broadcast(dt, {3, 4, 5}, {1}), Sliced(dt, {3, 4, 5})},
      {Permuted(dt, {2, 3, 1, 2, 2, 3}, {5, 4, 3, 2, 1, 0}), Sliced(dt, {2, 3, 1, 2, 2, 3}),
       Contiguous(dt, {2, 3, 1, 2, 2, 3})},
      {Contiguous(dt, {1031}), Contiguous(dt, {1031}), Contiguous(dt, {1031})},
      {Contiguous(dt, {0, 5}), Contiguous(dt, {5}), Contiguous(dt, {0, 5})},
  };
}

// Nonzero divisors: magnitudes in [0.25, 2) with alternating signs.
std::vector<double> Divisors(size_t count, uint64_t seed) {
  std::vector<double> values = RandomValues(count, seed, 0.25, 2.0);
  for (size_t i = 1; i < count; i += 2) values[i] = -values[i];
  return values;
}

class OpsBinaryTest : public OpsTest {
 protected:
  // Operands in the op's range: positive bases and moderate exponents for POW (finite results),
  // divisors away from zero for DIV, [-1, 1) otherwise.
  DeviceTensor OperandA(porta_binary_op_t op, const TensorSpec& spec) {
    return op == PORTA_BINARY_POW ? Random(spec, 0.1, 2.0) : Random(spec);
  }
  DeviceTensor OperandB(porta_binary_op_t op, const TensorSpec& spec) {
    if (op == PORTA_BINARY_POW) return Random(spec, -2.0, 2.0);
    if (op == PORTA_BINARY_DIV) {
      return Upload(spec, Divisors(static_cast<size_t>(ElementCount(spec.shape)), NextSeed()));
    }
    return Random(spec);
  }

  void RunTensors(porta_dtype_t dt) {
    for (const BinaryCase& c : kBinaryCases) {
      for (const BinaryLayout& layout : BinaryLayouts(dt)) {
        DeviceTensor a = OperandA(c.op, layout.a);
        DeviceTensor b = OperandB(c.op, layout.b);
        DeviceTensor out = Output(layout.out);
        const std::string what = std::string("binary ") + c.name + ", a " + SpecText(a.spec()) +
                                 ", b " + SpecText(b.spec());
        ASSERT_PORTA_OK(porta_ops_binary(ctx(), stream(), c.op, a.get(), b.get(), out.get()))
            << what;
        EXPECT_TRUE(Verify(
            what, c.op_class, out,
            ref::BinaryBroadcast(c.op, a.Values(), a.shape(), b.Values(), b.shape(), out.shape()),
            1, {&a, &b}));
      }
      // In place into the first operand.
      DeviceTensor a = OperandA(c.op, Contiguous(dt, {6, 7}));
      DeviceTensor b = OperandB(c.op, Contiguous(dt, {7}));
      const std::vector<double> expected =
          ref::BinaryBroadcast(c.op, a.Values(), a.shape(), b.Values(), b.shape(), a.shape());
      const std::string what = std::string("binary ") + c.name + " in place";
      ASSERT_PORTA_OK(porta_ops_binary(ctx(), stream(), c.op, a.get(), b.get(), a.get())) << what;
      EXPECT_TRUE(Verify(what, c.op_class, a, expected, 1, {&b}));
    }
  }

  // Edge operands: NaN propagation of MAX and MIN, infinities and signed zeros through the exact
  // ops, C's pow rules for negative bases and zero.
  void RunEdges(porta_dtype_t dt) {
    const std::vector<double> a = {1.0,   kNaN, -1.0, kNaN, 0.0,    -0.0, kInf,
                                   -kInf, 2.0,  kInf, 0.5,  -65504, 3.0,  -2.0};
    const std::vector<double> b = {kNaN, 1.0,   -2.0,  kNaN, -0.0,  0.0,  1.0,
                                   kInf, -kInf, -kInf, 0.25, 65504, -3.0, -0.5};
    const Shape shape = {static_cast<int64_t>(a.size())};
    DeviceTensor ta = Upload(Contiguous(dt, shape), a);
    DeviceTensor tb = Upload(Contiguous(dt, shape), b);
    for (porta_binary_op_t op : {PORTA_BINARY_ADD, PORTA_BINARY_SUB, PORTA_BINARY_MUL,
                                 PORTA_BINARY_MAX, PORTA_BINARY_MIN}) {
      DeviceTensor out = Output(Contiguous(dt, shape));
      const std::string what = "binary " + std::to_string(op) + " on edge values";
      ASSERT_PORTA_OK(porta_ops_binary(ctx(), stream(), op, ta.get(), tb.get(), out.get())) << what;
      EXPECT_TRUE(Verify(what, OpClass::kExact, out,
                         ref::BinaryBroadcast(op, ta.Values(), shape, tb.Values(), shape, shape), 1,
                         {&ta, &tb}));
    }
    // powf: integral exponents keep the sign rule, a non-integral one of a negative base is NaN,
    // 0^-1 is +inf, x^0 is 1.
    const std::vector<double> base = {-2.0, -1.5, -0.5, -3.0, 2.0, 0.0, 0.0, -1.0, 1.5, -2.0};
    const std::vector<double> exponent = {2.0, 3.0, -1.0, 0.0, 0.5, 2.0, -1.0, 0.5, 0.0, -3.0};
    const Shape pow_shape = {static_cast<int64_t>(base.size())};
    DeviceTensor pa = Upload(Contiguous(dt, pow_shape), base);
    DeviceTensor pb = Upload(Contiguous(dt, pow_shape), exponent);
    DeviceTensor out = Output(Contiguous(dt, pow_shape));
    ASSERT_PORTA_OK(
        porta_ops_binary(ctx(), stream(), PORTA_BINARY_POW, pa.get(), pb.get(), out.get()));
    EXPECT_TRUE(Verify("binary pow on edge values", OpClass::kElementwise, out,
                       ref::BinaryBroadcast(PORTA_BINARY_POW, pa.Values(), pow_shape, pb.Values(),
                                            pow_shape, pow_shape),
                       1, {&pa, &pb}));
  }

  // The tensor operand of op(a, scalar) or op(scalar, a): nonzero divisors for scalar / a,
  // positive bases for pow(a, scalar), moderate exponents for pow(scalar, a).
  DeviceTensor ScalarOperand(porta_binary_op_t op, bool scalar_first, const TensorSpec& spec) {
    if (op == PORTA_BINARY_DIV && scalar_first) {
      return Upload(spec, Divisors(static_cast<size_t>(ElementCount(spec.shape)), NextSeed()));
    }
    if (op == PORTA_BINARY_POW)
      return scalar_first ? Random(spec, -2.0, 2.0) : Random(spec, 0.1, 2.0);
    return Random(spec);
  }

  void RunScalars(porta_dtype_t dt) {
    struct ScalarCase {
      porta_binary_op_t op;
      double scalar;
      int32_t scalar_first;
    };
    // The scalar is rounded to f32 (0.3 is not an f32); DIV and POW keep results finite.
    const ScalarCase cases[] = {
        {PORTA_BINARY_ADD, 0.3, 0},  {PORTA_BINARY_ADD, -1.75, 1}, {PORTA_BINARY_SUB, 0.3, 0},
        {PORTA_BINARY_SUB, 0.3, 1},  {PORTA_BINARY_MUL, -1.7, 0},  {PORTA_BINARY_MUL, 0.3, 1},
        {PORTA_BINARY_DIV, -0.3, 0}, {PORTA_BINARY_DIV, 1.3, 1},   {PORTA_BINARY_MAX, 0.1, 0},
        {PORTA_BINARY_MAX, -0.2, 1}, {PORTA_BINARY_MIN, 0.1, 0},   {PORTA_BINARY_MIN, -0.2, 1},
        {PORTA_BINARY_POW, -1.5, 0}, {PORTA_BINARY_POW, 2.0, 0},   {PORTA_BINARY_POW, 1.7, 1},
    };
    for (const ScalarCase& c : cases) {
      const OpClass op_class = c.op == PORTA_BINARY_DIV || c.op == PORTA_BINARY_POW
                                   ? OpClass::kElementwise
                                   : OpClass::kExact;
      const double s = static_cast<float>(c.scalar);
      for (const Layout& layout :
           {Layout{Contiguous(dt, {5, 13}), Contiguous(dt, {5, 13})},
            Layout{Permuted(dt, {3, 4, 5}, {2, 0, 1}), Sliced(dt, {3, 4, 5})},
            Layout{Contiguous(dt, {0}), Contiguous(dt, {0})}}) {
        DeviceTensor a = ScalarOperand(c.op, c.scalar_first != 0, layout.in);
        DeviceTensor out = Output(layout.out);
        const std::string what =
            "binary_scalar op " + std::to_string(c.op) + " scalar " + std::to_string(c.scalar) +
            (c.scalar_first != 0 ? " first" : " second") + ", a " + SpecText(a.spec());
        ASSERT_PORTA_OK(porta_ops_binary_scalar(ctx(), stream(), c.op, a.get(), c.scalar,
                                                c.scalar_first, out.get()))
            << what;
        std::vector<double> expected = a.Values();
        for (double& v : expected) {
          v = c.scalar_first != 0 ? ref::Binary(c.op, s, v) : ref::Binary(c.op, v, s);
        }
        EXPECT_TRUE(Verify(what, op_class, out, expected, 1, {&a}));
      }
    }
  }

  void Run(porta_dtype_t dt) {
    RunTensors(dt);
    RunEdges(dt);
    RunScalars(dt);
  }
};

TEST_P(OpsBinaryTest, F32) {
  PORTA_OPS_REQUIRE(ctx(), PORTA_OP_BINARY, PORTA_DTYPE_F32, PORTA_DTYPE_F32, PORTA_DTYPE_F32);
  PORTA_OPS_REQUIRE(ctx(), PORTA_OP_BINARY, PORTA_DTYPE_F32, PORTA_DTYPE_F32);
  Run(PORTA_DTYPE_F32);
}

TEST_P(OpsBinaryTest, F16) {
  PORTA_OPS_REQUIRE(ctx(), PORTA_OP_BINARY, PORTA_DTYPE_F16, PORTA_DTYPE_F16, PORTA_DTYPE_F16);
  PORTA_OPS_REQUIRE(ctx(), PORTA_OP_BINARY, PORTA_DTYPE_F16, PORTA_DTYPE_F16);
  Run(PORTA_DTYPE_F16);
}

TEST_P(OpsBinaryTest, BF16) {
  PORTA_OPS_REQUIRE(ctx(), PORTA_OP_BINARY, PORTA_DTYPE_BF16, PORTA_DTYPE_BF16, PORTA_DTYPE_BF16);
  PORTA_OPS_REQUIRE(ctx(), PORTA_OP_BINARY, PORTA_DTYPE_BF16, PORTA_DTYPE_BF16);
  Run(PORTA_DTYPE_BF16);
}

PORTA_CTS_INSTANTIATE(OpsBinaryTest);

//===------------------------------------------------------------------------------------------===//
// Cast
//===------------------------------------------------------------------------------------------===//

bool IsFloat(porta_dtype_t dt) {
  return dt == PORTA_DTYPE_F32 || dt == PORTA_DTYPE_F16 || dt == PORTA_DTYPE_BF16;
}

// Values for a cast from |src| to |dst|: edge values first, then random ones. Float -> i32 stays
// inside the i32 range and away from NaN (undefined by the contract); i32 -> i32 stays within
// 2^24, where the API's "converts" and a round trip through f32 agree.
std::vector<double> CastValues(porta_dtype_t src, porta_dtype_t dst, size_t count, uint64_t seed) {
  std::vector<double> edges;
  std::vector<double> random;
  if (IsFloat(src) && IsFloat(dst)) {
    // 65519 and 65520 straddle f16's overflow threshold; 2049 and 4097 are f16 ties; 1e-6 and
    // -1e-7 are f16 subnormals; 3e38 overflows f16 but not bf16.
    edges = {0.0,  -0.0,  kInf, -kInf, kNaN,    65504.0, 65519.0, 65520.0, -65520.0,
             1e-6, -1e-7, 3e38, -3e38, 1.0 / 3, 2049.0,  4097.0,  -2051.0, 257.0};
    random = RandomValues(count, seed, -100.0, 100.0);
  } else if (IsFloat(src)) {
    edges = {0.0,    -0.0,    0.5,      -0.5,       2.7,         -2.7, 0.999,
             -0.999, 65504.0, -65504.0, 16777216.0, -16777216.0, 1e-3, 123456.75};
    random = RandomValues(count, seed, -1000.0, 1000.0);
  } else if (IsFloat(dst)) {
    // 2049 and 2051 are f16 ties; 16777217 rounds in f32; 16842753 rounds differently through f32
    // (2^24) than directly (2^24 + 2^17) to bf16; 70000 overflows f16.
    edges = {0,         1,        -1,    2049,   2051,       16777217,
             -16777217, 16842753, 70000, -70000, 2147483647, -2147483647.0 - 1,
             65519,     65521};
    random = RandomIntegers(count, seed, -100000, 100000);
  } else {
    edges = {0, 1, -1, 16777216, -16777216, 2049};
    random = RandomIntegers(count, seed, -16777216, 16777216);
  }
  std::vector<double> values;
  for (size_t i = 0; i < count; ++i) values.push_back(i < edges.size() ? edges[i] : random[i]);
  if (IsFloat(src) && dst == PORTA_DTYPE_I32) {
    // The source's own rounding (bf16 of 16777216 is fine, of 123456.75 is 123392) stays in range.
    for (double& v : values) {
      if (std::fabs(RoundTo(src, v)) >= 2147483648.0) v = 0;
    }
  }
  return values;
}

class OpsCastTest : public OpsTest {
 protected:
  void Run(porta_dtype_t src, porta_dtype_t dst) {
    for (const Layout& layout :
         {Layout{Contiguous(src, {37}), Contiguous(dst, {37})},
          Layout{Permuted(src, {3, 5, 7}, {2, 0, 1}), Sliced(dst, {3, 5, 7})},
          Layout{Broadcast(src, {4, 6}, {1}), Contiguous(dst, {4, 6})},
          Layout{Contiguous(src, {}), Contiguous(dst, {})},
          Layout{Contiguous(src, {0, 3}), Contiguous(dst, {0, 3})}}) {
      const auto count = static_cast<size_t>(ElementCount(layout.in.shape));
      DeviceTensor x = Upload(layout.in, CastValues(src, dst, count, NextSeed()));
      DeviceTensor out = Output(layout.out);
      const std::string what =
          std::string("cast to ") + DtypeName(dst) + ", x " + SpecText(x.spec());
      ASSERT_PORTA_OK(porta_ops_cast(ctx(), stream(), x.get(), out.get())) << what;
      std::vector<double> expected = x.Values();
      for (double& v : expected) v = RoundTo(dst, v);
      EXPECT_TRUE(Verify(what, OpClass::kExact, out, expected, 1, {&x}));
    }
  }
};

#define PORTA_OPS_CAST_TEST(SRC, DST)                                              \
  TEST_P(OpsCastTest, SRC##_to_##DST) {                                            \
    PORTA_OPS_REQUIRE(ctx(), PORTA_OP_CAST, PORTA_DTYPE_##SRC, PORTA_DTYPE_##DST); \
    Run(PORTA_DTYPE_##SRC, PORTA_DTYPE_##DST);                                     \
  }

PORTA_OPS_CAST_TEST(F32, F32)
PORTA_OPS_CAST_TEST(F32, F16)
PORTA_OPS_CAST_TEST(F32, BF16)
PORTA_OPS_CAST_TEST(F32, I32)
PORTA_OPS_CAST_TEST(F16, F32)
PORTA_OPS_CAST_TEST(F16, F16)
PORTA_OPS_CAST_TEST(F16, BF16)
PORTA_OPS_CAST_TEST(F16, I32)
PORTA_OPS_CAST_TEST(BF16, F32)
PORTA_OPS_CAST_TEST(BF16, F16)
PORTA_OPS_CAST_TEST(BF16, BF16)
PORTA_OPS_CAST_TEST(BF16, I32)
PORTA_OPS_CAST_TEST(I32, F32)
PORTA_OPS_CAST_TEST(I32, F16)
PORTA_OPS_CAST_TEST(I32, BF16)
PORTA_OPS_CAST_TEST(I32, I32)

PORTA_CTS_INSTANTIATE(OpsCastTest);

//===------------------------------------------------------------------------------------------===//
// Copy and concatenation: bit moves, checked bit for bit on random bit patterns (NaN payloads,
// signalling NaNs and subnormals included: a kernel that converts through f32 is caught).
//===------------------------------------------------------------------------------------------===//

std::vector<uint32_t> RandomBits(porta_dtype_t dt, size_t count, uint64_t seed) {
  Rng rng(seed);
  std::vector<uint32_t> bits(count);
  const uint32_t mask = DtypeSize(dt) == 2 ? 0xffffu : 0xffffffffu;
  for (uint32_t& b : bits) b = static_cast<uint32_t>(rng.Next()) & mask;
  // Patterns a float load would change: a signalling NaN, subnormals, negative zero.
  const std::vector<uint32_t> specials =
      DtypeSize(dt) == 2
          ? std::vector<uint32_t>{0x7c01, 0x7f81, 0x0001, 0x8000, 0x03ff}
          : std::vector<uint32_t>{0x7f800001, 0x7fa12345, 0x00000001, 0x80000000, 0x807fffff};
  for (size_t i = 0; i < specials.size() && i < count; ++i) bits[i] = specials[i];
  return bits;
}

class OpsCopyTest : public OpsTest {
 protected:
  void Run(porta_dtype_t dt) {
    const std::vector<Layout> layouts = {
        {Contiguous(dt, {37}), Contiguous(dt, {37})},
        {Permuted(dt, {3, 5, 7}, {2, 0, 1}), Contiguous(dt, {3, 5, 7})},
        {Sliced(dt, {4, 6}), Contiguous(dt, {4, 6})},
        {Contiguous(dt, {4, 6}), Sliced(dt, {4, 6})},
        {Broadcast(dt, {4, 5}, {0}), Contiguous(dt, {4, 5})},
        {Contiguous(dt, {}), Contiguous(dt, {})},
        {Contiguous(dt, {0, 7}), Contiguous(dt, {0, 7})},
        {Contiguous(dt, {3001}), Contiguous(dt, {3001})},
        {Permuted(dt, {2, 2, 2, 2, 2, 2, 2, 2}, {7, 6, 5, 4, 3, 2, 1, 0}),
         Contiguous(dt, {2, 2, 2, 2, 2, 2, 2, 2})},
    };
    for (const Layout& layout : layouts) {
      const auto count = static_cast<size_t>(ElementCount(layout.in.shape));
      DeviceTensor src = UploadBits(layout.in, RandomBits(dt, count, NextSeed()));
      DeviceTensor dst = Output(layout.out);
      const std::string what = "copy, src " + SpecText(src.spec());
      ASSERT_PORTA_OK(porta_ops_copy(ctx(), stream(), src.get(), dst.get())) << what;
      EXPECT_TRUE(VerifyBits(what, dst, src.Bits(), {&src}));
    }
  }
};

TEST_P(OpsCopyTest, F32) {
  PORTA_OPS_REQUIRE(ctx(), PORTA_OP_COPY, PORTA_DTYPE_F32, PORTA_DTYPE_F32);
  Run(PORTA_DTYPE_F32);
}

TEST_P(OpsCopyTest, F16) {
  PORTA_OPS_REQUIRE(ctx(), PORTA_OP_COPY, PORTA_DTYPE_F16, PORTA_DTYPE_F16);
  Run(PORTA_DTYPE_F16);
}

TEST_P(OpsCopyTest, BF16) {
  PORTA_OPS_REQUIRE(ctx(), PORTA_OP_COPY, PORTA_DTYPE_BF16, PORTA_DTYPE_BF16);
  Run(PORTA_DTYPE_BF16);
}

TEST_P(OpsCopyTest, I32) {
  PORTA_OPS_REQUIRE(ctx(), PORTA_OP_COPY, PORTA_DTYPE_I32, PORTA_DTYPE_I32);
  Run(PORTA_DTYPE_I32);
}

PORTA_CTS_INSTANTIATE(OpsCopyTest);

struct ConcatCase {
  std::vector<TensorSpec> inputs;
  int32_t axis;
  TensorSpec out;
};

class OpsConcatTest : public OpsTest {
 protected:
  void Run(porta_dtype_t dt) {
    const std::vector<ConcatCase> cases = {
        {{Contiguous(dt, {2, 5}), Contiguous(dt, {3, 5}), Contiguous(dt, {0, 5})},
         0,
         Contiguous(dt, {5, 5})},
        {{Contiguous(dt, {2, 3, 4}), Sliced(dt, {2, 1, 4}), Contiguous(dt, {2, 5, 4})},
         1,
         Contiguous(dt, {2, 9, 4})},
        {{Permuted(dt, {3, 2}, {1, 0}), Contiguous(dt, {3, 7})}, -1, Sliced(dt, {3, 9})},
        {{Contiguous(dt, {4, 3})}, 0, Contiguous(dt, {4, 3})},
        {{Contiguous(dt, {1}), Contiguous(dt, {1030}), Contiguous(dt, {2})},
         0,
         Contiguous(dt, {1033})},
        {{Contiguous(dt, {0, 2}), Contiguous(dt, {0, 3})}, 1, Contiguous(dt, {0, 5})},
    };
    for (const ConcatCase& c : cases) {
      std::vector<DeviceTensor> inputs;
      std::vector<porta_tensor_t> views;
      std::string what = "concat along " + std::to_string(c.axis) + " of";
      for (const TensorSpec& spec : c.inputs) {
        const auto count = static_cast<size_t>(ElementCount(spec.shape));
        inputs.push_back(UploadBits(spec, RandomBits(dt, count, NextSeed())));
        views.push_back(inputs.back().tensor());
        what += " " + SpecText(spec);
      }
      DeviceTensor out = Output(c.out);
      ASSERT_PORTA_OK(porta_ops_concat(ctx(), stream(), views.data(),
                                       static_cast<uint32_t>(views.size()), c.axis, out.get()))
          << what;
      const auto axis = static_cast<size_t>(
          c.axis < 0 ? c.axis + static_cast<int32_t>(c.out.shape.size()) : c.axis);
      std::vector<std::vector<uint32_t>> input_bits;
      for (const DeviceTensor& input : inputs) input_bits.push_back(input.Bits());
      std::vector<uint32_t> expected(static_cast<size_t>(ElementCount(c.out.shape)));
      for (size_t o = 0; o < expected.size(); ++o) {
        Shape index = Unflatten(c.out.shape, static_cast<int64_t>(o));
        size_t which = 0;
        while (index[axis] >= c.inputs[which].shape[axis]) {
          index[axis] -= c.inputs[which].shape[axis];
          ++which;
        }
        int64_t flat = 0;
        for (size_t d = 0; d < index.size(); ++d) {
          flat = flat * c.inputs[which].shape[d] + index[d];
        }
        expected[o] = input_bits[which][static_cast<size_t>(flat)];
      }
      std::vector<uint32_t> bits;
      ASSERT_TRUE(ReadBits(out, &bits)) << what;
      EXPECT_TRUE(CompareBits(what, dt, c.out.shape, bits, expected));
      for (const DeviceTensor& input : inputs) EXPECT_TRUE(Unchanged(input)) << what;
    }
  }
};

TEST_P(OpsConcatTest, F32) {
  PORTA_OPS_REQUIRE(ctx(), PORTA_OP_CONCAT, PORTA_DTYPE_F32, PORTA_DTYPE_F32);
  Run(PORTA_DTYPE_F32);
}

TEST_P(OpsConcatTest, F16) {
  PORTA_OPS_REQUIRE(ctx(), PORTA_OP_CONCAT, PORTA_DTYPE_F16, PORTA_DTYPE_F16);
  Run(PORTA_DTYPE_F16);
}

TEST_P(OpsConcatTest, BF16) {
  PORTA_OPS_REQUIRE(ctx(), PORTA_OP_CONCAT, PORTA_DTYPE_BF16, PORTA_DTYPE_BF16);
  Run(PORTA_DTYPE_BF16);
}

TEST_P(OpsConcatTest, I32) {
  PORTA_OPS_REQUIRE(ctx(), PORTA_OP_CONCAT, PORTA_DTYPE_I32, PORTA_DTYPE_I32);
  Run(PORTA_DTYPE_I32);
}

PORTA_CTS_INSTANTIATE(OpsConcatTest);

//===------------------------------------------------------------------------------------------===//
// Views and dtype helpers
//===------------------------------------------------------------------------------------------===//

class OpsViewTest : public OpsTest {};

TEST_P(OpsViewTest, DtypeSizeAndName) {
  EXPECT_EQ(porta_dtype_size(PORTA_DTYPE_F32), 4u);
  EXPECT_EQ(porta_dtype_size(PORTA_DTYPE_F16), 2u);
  EXPECT_EQ(porta_dtype_size(PORTA_DTYPE_BF16), 2u);
  EXPECT_EQ(porta_dtype_size(PORTA_DTYPE_I32), 4u);
  EXPECT_EQ(porta_dtype_size(PORTA_DTYPE_I8), 1u);
  EXPECT_EQ(porta_dtype_size(0), 0u);
  EXPECT_EQ(porta_dtype_size(PORTA_DTYPE_Q4_0), 18u);
  EXPECT_EQ(porta_dtype_size(9), 0u);
  EXPECT_EQ(porta_dtype_size(-1), 0u);
  EXPECT_STREQ(porta_dtype_name(PORTA_DTYPE_F32), "f32");
  EXPECT_STREQ(porta_dtype_name(PORTA_DTYPE_F16), "f16");
  EXPECT_STREQ(porta_dtype_name(PORTA_DTYPE_BF16), "bf16");
  EXPECT_STREQ(porta_dtype_name(PORTA_DTYPE_I32), "i32");
  EXPECT_STREQ(porta_dtype_name(PORTA_DTYPE_I8), "i8");
  EXPECT_STREQ(porta_dtype_name(0), "unknown");
  EXPECT_STREQ(porta_dtype_name(99), "unknown");
}

TEST_P(OpsViewTest, ContiguousSliceAndPermuteFields) {
  DeviceTensor base = Output(Contiguous(PORTA_DTYPE_F32, {4, 10}));
  const int64_t shape[] = {4, 10};
  const porta_tensor_t t = porta_tensor_contiguous(base.buffer(), 16, PORTA_DTYPE_F32, 2, shape);
  EXPECT_EQ(t.buffer, base.buffer());
  EXPECT_EQ(t.offset, 16u);
  EXPECT_EQ(t.dtype, PORTA_DTYPE_F32);
  ASSERT_EQ(t.rank, 2u);
  EXPECT_EQ(t.shape[0], 4);
  EXPECT_EQ(t.shape[1], 10);
  EXPECT_EQ(t.strides[0], 10);
  EXPECT_EQ(t.strides[1], 1);

  // Indices 2, 5, 8 of the last axis.
  porta_tensor_t s = {};
  ASSERT_PORTA_OK(porta_tensor_slice(&t, 1, 2, 9, 3, &s));
  EXPECT_EQ(s.buffer, t.buffer);
  EXPECT_EQ(s.dtype, t.dtype);
  ASSERT_EQ(s.rank, 2u);
  EXPECT_EQ(s.shape[0], 4);
  EXPECT_EQ(s.shape[1], 3);
  EXPECT_EQ(s.strides[0], 10);
  EXPECT_EQ(s.strides[1], 3);
  EXPECT_EQ(s.offset, 16u + 2 * 4);
  // A negative axis counts from the end; stop equal to the dimension is allowed.
  ASSERT_PORTA_OK(porta_tensor_slice(&t, -2, 1, 4, 1, &s));
  EXPECT_EQ(s.shape[0], 3);
  EXPECT_EQ(s.shape[1], 10);
  EXPECT_EQ(s.offset, 16u + 1 * 10 * 4);
  // start == stop is an empty view; a step beyond the range keeps one element.
  ASSERT_PORTA_OK(porta_tensor_slice(&t, 0, 2, 2, 1, &s));
  EXPECT_EQ(s.shape[0], 0);
  ASSERT_PORTA_OK(porta_tensor_slice(&t, 1, 3, 5, 7, &s));
  EXPECT_EQ(s.shape[1], 1);
  EXPECT_EQ(s.offset, 16u + 3 * 4);

  const int64_t shape3[] = {2, 3, 4};
  const porta_tensor_t t3 = porta_tensor_contiguous(base.buffer(), 0, PORTA_DTYPE_F16, 3, shape3);
  const int32_t perm[] = {2, 0, 1};
  porta_tensor_t p = {};
  ASSERT_PORTA_OK(porta_tensor_permute(&t3, perm, &p));
  ASSERT_EQ(p.rank, 3u);
  EXPECT_EQ(p.shape[0], 4);
  EXPECT_EQ(p.shape[1], 2);
  EXPECT_EQ(p.shape[2], 3);
  EXPECT_EQ(p.strides[0], 1);
  EXPECT_EQ(p.strides[1], 12);
  EXPECT_EQ(p.strides[2], 4);
  EXPECT_EQ(p.offset, 0u);
  EXPECT_EQ(p.dtype, PORTA_DTYPE_F16);
}

// Views made by the library's own slice and permute run through an operation and a copy.
TEST_P(OpsViewTest, OperationsOnLibraryViews) {
  PORTA_OPS_REQUIRE(ctx(), PORTA_OP_UNARY, PORTA_DTYPE_F32, PORTA_DTYPE_F32);
  PORTA_OPS_REQUIRE(ctx(), PORTA_OP_COPY, PORTA_DTYPE_F32, PORTA_DTYPE_F32);
  DeviceTensor parent = Random(Contiguous(PORTA_DTYPE_F32, {6, 8}));
  porta_tensor_t sliced = {}, view = {};
  // Columns 1, 3, 5, 7, then transposed: [4, 6].
  ASSERT_PORTA_OK(porta_tensor_slice(parent.get(), 1, 1, 8, 2, &sliced));
  const int32_t perm[] = {1, 0};
  ASSERT_PORTA_OK(porta_tensor_permute(&sliced, perm, &view));
  const std::vector<double> values = parent.Values();
  std::vector<double> expected;
  for (int64_t c = 1; c < 8; c += 2) {
    for (int64_t r = 0; r < 6; ++r) expected.push_back(values[static_cast<size_t>(r * 8 + c)]);
  }
  DeviceTensor neg = Output(Contiguous(PORTA_DTYPE_F32, {4, 6}));
  ASSERT_PORTA_OK(porta_ops_unary(ctx(), stream(), PORTA_UNARY_NEG, &view, neg.get()));
  EXPECT_TRUE(Verify("neg of a sliced, permuted view", OpClass::kExact, neg,
                     Map(expected, PORTA_UNARY_NEG), 1, {&parent}));
  DeviceTensor copy = Output(Contiguous(PORTA_DTYPE_F32, {4, 6}));
  ASSERT_PORTA_OK(porta_ops_copy(ctx(), stream(), &view, copy.get()));
  EXPECT_TRUE(
      Verify("copy of a sliced, permuted view", OpClass::kExact, copy, expected, 1, {&parent}));
}

PORTA_CTS_INSTANTIATE(OpsViewTest);

}  // namespace
}  // namespace porta_cts
