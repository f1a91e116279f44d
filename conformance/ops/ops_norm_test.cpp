// Layer normalization and RMS normalization over the last axis, with and without weight and bias
// (each of its own float type, contiguous or strided), eps inside the square root, rows of one
// element, rows longer than a work-group, data with a nonzero mean (a kernel that forgets to
// centre fails), strided and broadcast inputs, in-place runs and empty tensors.
#include <string>
#include <vector>

#include "conformance/ops/ops_cts.h"

namespace porta_cts {
namespace {

struct NormCase {
  TensorSpec x;
  TensorSpec out;
  float eps;
};

std::vector<NormCase> NormCases(porta_dtype_t dt) {
  return {
      {Contiguous(dt, {1, 1}), Contiguous(dt, {1, 1}), 1e-5f},
      {Contiguous(dt, {3, 7}), Contiguous(dt, {3, 7}), 1e-5f},
      {Contiguous(dt, {4}), Contiguous(dt, {4}), 1e-6f},
      {Contiguous(dt, {2, 3, 5, 64}), Contiguous(dt, {2, 3, 5, 64}), 1e-5f},
      {Contiguous(dt, {2, 300}), Contiguous(dt, {2, 300}), 1e-5f},
      // eps of 0.5 against a variance near 1: eps outside the root would be far off.
      {Contiguous(dt, {5, 9}), Contiguous(dt, {5, 9}), 0.5f},
      {Permuted(dt, {4, 6, 11}, {2, 0, 1}), Sliced(dt, {4, 6, 11}), 1e-5f},
      {Broadcast(dt, {4, 6}, {0}), Contiguous(dt, {4, 6}), 1e-5f},
      {Permuted(dt, {2, 2, 3, 2, 7}, {4, 3, 2, 1, 0}), Contiguous(dt, {2, 2, 3, 2, 7}), 1e-5f},
      {Contiguous(dt, {0, 8}), Contiguous(dt, {0, 8}), 1e-5f},
      {Contiguous(dt, {3, 0}), Contiguous(dt, {3, 0}), 1e-5f},
  };
}

class OpsNormTest : public OpsTest {
 protected:
  // Runs layer and RMS normalization of every case with each weight/bias combination; weight has
  // |w_dt| and bias |b_dt|. |with_bias_only| adds the bias-without-weight combination.
  void Run(porta_dtype_t dt, porta_dtype_t w_dt, porta_dtype_t b_dt, bool with_bias_only) {
    for (bool rms : {false, true}) {
      for (const NormCase& c : NormCases(dt)) {
        const int64_t cols = c.x.shape.back();
        for (int combo = 0; combo < 4; ++combo) {
          const bool has_weight = (combo & 1) != 0;
          const bool has_bias = (combo & 2) != 0;
          if (has_bias && !has_weight && !with_bias_only) continue;
          // A nonzero mean: layer normalization has to centre the rows.
          DeviceTensor x = Random(c.x, -1.0, 3.0);
          // The weight is strided (every other element) in half the runs.
          DeviceTensor weight =
              has_weight
                  ? Random(combo == 1 ? Sliced(w_dt, {cols}) : Contiguous(w_dt, {cols}), 0.5, 1.5)
                  : DeviceTensor();
          DeviceTensor bias = has_bias ? Random(Contiguous(b_dt, {cols})) : DeviceTensor();
          DeviceTensor out = Output(c.out);
          const std::string what = std::string(rms ? "rmsnorm" : "layernorm") + ", x " +
                                   SpecText(x.spec()) + " eps " + std::to_string(c.eps) +
                                   (has_weight ? ", weight " + SpecText(weight.spec()) : "") +
                                   (has_bias ? ", bias " + SpecText(bias.spec()) : "");
          const porta_tensor_t* w = has_weight ? weight.get() : nullptr;
          const porta_tensor_t* b = has_bias ? bias.get() : nullptr;
          ASSERT_PORTA_OK(
              rms ? porta_ops_rmsnorm(ctx(), stream(), x.get(), w, b, c.eps, out.get())
                  : porta_ops_layernorm(ctx(), stream(), x.get(), w, b, c.eps, out.get()))
              << what;
          std::vector<double> w_values, b_values;
          if (has_weight) w_values = weight.Values();
          if (has_bias) b_values = bias.Values();
          const std::vector<double> expected =
              ref::Norm(rms, x.Values(), x.shape(), has_weight ? &w_values : nullptr,
                        has_bias ? &b_values : nullptr, c.eps);
          const auto k = static_cast<double>(cols);
          if (has_weight && has_bias) {
            EXPECT_TRUE(Verify(what, OpClass::kNorm, out, expected, k, {&x, &weight, &bias}));
          } else if (has_weight) {
            EXPECT_TRUE(Verify(what, OpClass::kNorm, out, expected, k, {&x, &weight}));
          } else if (has_bias) {
            EXPECT_TRUE(Verify(what, OpClass::kNorm, out, expected, k, {&x, &bias}));
          } else {
            EXPECT_TRUE(Verify(what, OpClass::kNorm, out, expected, k, {&x}));
          }
        }
      }
      // In place.
      DeviceTensor x = Random(Contiguous(dt, {3, 12}), -1.0, 3.0);
      const std::vector<double> expected =
          ref::Norm(rms, x.Values(), x.shape(), nullptr, nullptr, 1e-5f);
      ASSERT_PORTA_OK(
          rms ? porta_ops_rmsnorm(ctx(), stream(), x.get(), nullptr, nullptr, 1e-5f, x.get())
              : porta_ops_layernorm(ctx(), stream(), x.get(), nullptr, nullptr, 1e-5f, x.get()));
      EXPECT_TRUE(Verify(std::string(rms ? "rmsnorm" : "layernorm") + " in place", OpClass::kNorm,
                         x, expected, 12));
    }
  }
};

#define PORTA_OPS_NORM_REQUIRE(X, W, B)                       \
  do {                                                        \
    PORTA_OPS_REQUIRE(ctx(), PORTA_OP_LAYERNORM, X, X);       \
    PORTA_OPS_REQUIRE(ctx(), PORTA_OP_LAYERNORM, X, W, X);    \
    PORTA_OPS_REQUIRE(ctx(), PORTA_OP_LAYERNORM, X, W, B, X); \
    PORTA_OPS_REQUIRE(ctx(), PORTA_OP_RMSNORM, X, X);         \
    PORTA_OPS_REQUIRE(ctx(), PORTA_OP_RMSNORM, X, W, X);      \
    PORTA_OPS_REQUIRE(ctx(), PORTA_OP_RMSNORM, X, W, B, X);   \
  } while (0)

TEST_P(OpsNormTest, F32) {
  PORTA_OPS_NORM_REQUIRE(PORTA_DTYPE_F32, PORTA_DTYPE_F32, PORTA_DTYPE_F32);
  Run(PORTA_DTYPE_F32, PORTA_DTYPE_F32, PORTA_DTYPE_F32, true);
}

TEST_P(OpsNormTest, F16) {
  PORTA_OPS_NORM_REQUIRE(PORTA_DTYPE_F16, PORTA_DTYPE_F16, PORTA_DTYPE_F16);
  Run(PORTA_DTYPE_F16, PORTA_DTYPE_F16, PORTA_DTYPE_F16, true);
}

TEST_P(OpsNormTest, BF16) {
  PORTA_OPS_NORM_REQUIRE(PORTA_DTYPE_BF16, PORTA_DTYPE_BF16, PORTA_DTYPE_BF16);
  Run(PORTA_DTYPE_BF16, PORTA_DTYPE_BF16, PORTA_DTYPE_BF16, true);
}

// Weight and bias types are independent of x's (and of each other). The bias-only combination is
// left out: porta_ops_supported has no dtype list that names a bias without a weight.
TEST_P(OpsNormTest, F32WithF16WeightAndBF16Bias) {
  PORTA_OPS_NORM_REQUIRE(PORTA_DTYPE_F32, PORTA_DTYPE_F16, PORTA_DTYPE_BF16);
  Run(PORTA_DTYPE_F32, PORTA_DTYPE_F16, PORTA_DTYPE_BF16, false);
}

TEST_P(OpsNormTest, BF16WithF32WeightAndF16Bias) {
  PORTA_OPS_NORM_REQUIRE(PORTA_DTYPE_BF16, PORTA_DTYPE_F32, PORTA_DTYPE_F16);
  Run(PORTA_DTYPE_BF16, PORTA_DTYPE_F32, PORTA_DTYPE_F16, false);
}

TEST_P(OpsNormTest, F16WithBF16WeightAndF32Bias) {
  PORTA_OPS_NORM_REQUIRE(PORTA_DTYPE_F16, PORTA_DTYPE_BF16, PORTA_DTYPE_F32);
  Run(PORTA_DTYPE_F16, PORTA_DTYPE_BF16, PORTA_DTYPE_F32, false);
}

PORTA_CTS_INSTANTIATE(OpsNormTest);

}  // namespace
}  // namespace porta_cts
