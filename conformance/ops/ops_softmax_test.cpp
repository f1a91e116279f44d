// Softmax and log-softmax over the last axis: scale, broadcast masks of any float type with -inf
// entries, the bottom-right causal rule with L < S, L == S and L > S (whose first rows are fully
// masked), fully masked rows, rows longer than a work-group, magnitudes of 1e4 that overflow
// exp without the max subtraction, strided views, and empty tensors.
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "conformance/ops/ops_cts.h"

namespace porta_cts {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

struct SoftmaxCase {
  TensorSpec x;
  TensorSpec out;
  float scale;
  bool causal;
};

std::vector<SoftmaxCase> SoftmaxCases(porta_dtype_t dt) {
  return {
      {Contiguous(dt, {1, 1}), Contiguous(dt, {1, 1}), 1.0f, false},
      {Contiguous(dt, {3, 7}), Contiguous(dt, {3, 7}), 1.0f, false},
      {Contiguous(dt, {2, 3, 5, 33}), Contiguous(dt, {2, 3, 5, 33}), 0.125f, false},
      {Contiguous(dt, {5}), Contiguous(dt, {5}), 2.0f, false},
      {Contiguous(dt, {2, 1029}), Contiguous(dt, {2, 1029}), 1.0f, false},
      {Permuted(dt, {4, 6, 9}, {2, 0, 1}), Sliced(dt, {4, 6, 9}), 0.7f, false},
      {Broadcast(dt, {3, 8}, {0}), Contiguous(dt, {3, 8}), 1.0f, false},
      {Permuted(dt, {2, 2, 3, 2, 5}, {4, 3, 2, 1, 0}), Contiguous(dt, {2, 2, 3, 2, 5}), 1.0f,
       false},
      // Causal: L < S (a KV cache), L == S, L > S (rows 0 and 1 see nothing).
      {Contiguous(dt, {2, 3, 7}), Contiguous(dt, {2, 3, 7}), 1.0f, true},
      {Contiguous(dt, {2, 6, 6}), Contiguous(dt, {2, 6, 6}), 0.5f, true},
      {Contiguous(dt, {5, 3}), Contiguous(dt, {5, 3}), 1.0f, true},
      {Sliced(dt, {2, 4, 9}), Sliced(dt, {2, 4, 9}), 1.0f, true},
      {Contiguous(dt, {0, 5}), Contiguous(dt, {0, 5}), 1.0f, false},
      {Contiguous(dt, {4, 0}), Contiguous(dt, {4, 0}), 1.0f, false},
  };
}

class OpsSoftmaxTest : public OpsTest {
 protected:
  // Runs softmax (and log-softmax) of |x| with |mask| (may be null) and checks both.
  void Check(const std::string& label, const DeviceTensor& x, const DeviceTensor* mask,
             const TensorSpec& out_spec, float scale, bool causal) {
    for (bool log : {false, true}) {
      porta_softmax_desc_t desc = PORTA_SOFTMAX_DESC_INIT;
      desc.scale = scale;
      desc.causal = causal ? 1 : 0;
      desc.log = log ? 1 : 0;
      DeviceTensor out = Output(out_spec);
      const std::string what = std::string(log ? "log-softmax" : "softmax") + " " + label + ", x " +
                               SpecText(x.spec()) + " scale " + std::to_string(scale) +
                               (causal ? " causal" : "") +
                               (mask != nullptr ? ", mask " + SpecText(mask->spec()) : "");
      ASSERT_PORTA_OK(porta_ops_softmax(ctx(), stream(), &desc, x.get(),
                                        mask != nullptr ? mask->get() : nullptr, out.get()))
          << what;
      std::vector<double> mask_values;
      if (mask != nullptr) mask_values = mask->Values();
      const std::vector<double> expected =
          ref::Softmax(x.Values(), x.shape(), scale, mask != nullptr ? &mask_values : nullptr,
                       mask != nullptr ? mask->shape() : Shape{}, causal, log);
      const double cols = x.shape().empty() ? 1.0 : static_cast<double>(x.shape().back());
      if (mask != nullptr) {
        EXPECT_TRUE(Verify(what, OpClass::kSoftmax, out, expected, cols, {&x, mask}));
      } else {
        EXPECT_TRUE(Verify(what, OpClass::kSoftmax, out, expected, cols, {&x}));
      }
    }
  }

  void Run(porta_dtype_t dt) {
    for (const SoftmaxCase& c : SoftmaxCases(dt)) {
      DeviceTensor x = Random(c.x, -3.0, 3.0);
      Check("", x, nullptr, c.out, c.scale, c.causal);
    }
    // Large magnitudes: exp(1e4) overflows f32, so only a kernel that subtracts the row max
    // passes. Scale 1 keeps v - max exact (Sterbenz), so the reference needs no slack.
    {
      std::vector<double> values = RandomValues(4 * 37, NextSeed(), -20.0, 0.0);
      for (size_t i = 0; i < values.size(); ++i) values[i] += i % 2 == 0 ? 1e4 : -1e4;
      DeviceTensor x = Upload(Contiguous(dt, {4, 37}), values);
      Check("of magnitude 1e4", x, nullptr, Contiguous(dt, {4, 37}), 1.0f, false);
    }
    // An input in place (same view as out).
    {
      DeviceTensor x = Random(Contiguous(dt, {3, 10}), -3.0, 3.0);
      const std::vector<double> expected =
          ref::Softmax(x.Values(), x.shape(), 1.0, nullptr, {}, false, false);
      porta_softmax_desc_t desc = PORTA_SOFTMAX_DESC_INIT;
      ASSERT_PORTA_OK(porta_ops_softmax(ctx(), stream(), &desc, x.get(), nullptr, x.get()));
      EXPECT_TRUE(Verify("softmax in place", OpClass::kSoftmax, x, expected, 10));
    }
  }

  // Masks of |mask_dt| broadcasting in every way, with -inf entries and fully masked rows.
  void RunMasks(porta_dtype_t dt, porta_dtype_t mask_dt) {
    const Shape shape = {2, 3, 4, 9};
    struct MaskCase {
      TensorSpec mask;
      bool causal;
    };
    const std::vector<MaskCase> masks = {
        {Contiguous(mask_dt, {2, 3, 4, 9}), false},
        {Contiguous(mask_dt, {4, 9}), false},
        {Contiguous(mask_dt, {9}), true},
        {Contiguous(mask_dt, {2, 1, 1, 9}), false},
        {Contiguous(mask_dt, {1, 3, 4, 1}), false},
        {Broadcast(mask_dt, {2, 3, 4, 9}, {1, 2}), true},
        {Permuted(mask_dt, {4, 9}, {1, 0}), false},
    };
    for (const MaskCase& m : masks) {
      DeviceTensor x = Random(Contiguous(dt, shape), -3.0, 3.0);
      // Values in [-2, 2) with every fifth entry -inf, and the whole first row of the mask -inf
      // where it spans a full row (a fully masked row gives 0, or -inf for log-softmax).
      const auto count = static_cast<size_t>(ElementCount(m.mask.shape));
      std::vector<double> values = RandomValues(count, NextSeed(), -2.0, 2.0);
      for (size_t i = 0; i < count; i += 5) values[i] = -kInf;
      const int64_t last = m.mask.shape.back();
      if (last == 9) {
        for (size_t i = 0; i < 9; ++i) values[i] = -kInf;
      }
      DeviceTensor mask = Upload(m.mask, values);
      Check("with a mask", x, &mask, Contiguous(dt, shape), 0.6f, m.causal);
    }
  }
};

TEST_P(OpsSoftmaxTest, F32) {
  PORTA_OPS_REQUIRE(ctx(), PORTA_OP_SOFTMAX, PORTA_DTYPE_F32, PORTA_DTYPE_F32);
  PORTA_OPS_REQUIRE(ctx(), PORTA_OP_SOFTMAX, PORTA_DTYPE_F32, PORTA_DTYPE_F32, PORTA_DTYPE_F32);
  Run(PORTA_DTYPE_F32);
  RunMasks(PORTA_DTYPE_F32, PORTA_DTYPE_F32);
}

TEST_P(OpsSoftmaxTest, F16) {
  PORTA_OPS_REQUIRE(ctx(), PORTA_OP_SOFTMAX, PORTA_DTYPE_F16, PORTA_DTYPE_F16);
  PORTA_OPS_REQUIRE(ctx(), PORTA_OP_SOFTMAX, PORTA_DTYPE_F16, PORTA_DTYPE_F16, PORTA_DTYPE_F16);
  Run(PORTA_DTYPE_F16);
  RunMasks(PORTA_DTYPE_F16, PORTA_DTYPE_F16);
}

TEST_P(OpsSoftmaxTest, BF16) {
  PORTA_OPS_REQUIRE(ctx(), PORTA_OP_SOFTMAX, PORTA_DTYPE_BF16, PORTA_DTYPE_BF16);
  PORTA_OPS_REQUIRE(ctx(), PORTA_OP_SOFTMAX, PORTA_DTYPE_BF16, PORTA_DTYPE_BF16, PORTA_DTYPE_BF16);
  Run(PORTA_DTYPE_BF16);
  RunMasks(PORTA_DTYPE_BF16, PORTA_DTYPE_BF16);
}

// The mask's type is independent of x's.
TEST_P(OpsSoftmaxTest, F32WithF16Mask) {
  PORTA_OPS_REQUIRE(ctx(), PORTA_OP_SOFTMAX, PORTA_DTYPE_F32, PORTA_DTYPE_F16, PORTA_DTYPE_F32);
  RunMasks(PORTA_DTYPE_F32, PORTA_DTYPE_F16);
}

TEST_P(OpsSoftmaxTest, F16WithF32Mask) {
  PORTA_OPS_REQUIRE(ctx(), PORTA_OP_SOFTMAX, PORTA_DTYPE_F16, PORTA_DTYPE_F32, PORTA_DTYPE_F16);
  RunMasks(PORTA_DTYPE_F16, PORTA_DTYPE_F32);
}

TEST_P(OpsSoftmaxTest, BF16WithF16Mask) {
  PORTA_OPS_REQUIRE(ctx(), PORTA_OP_SOFTMAX, PORTA_DTYPE_BF16, PORTA_DTYPE_F16, PORTA_DTYPE_BF16);
  RunMasks(PORTA_DTYPE_BF16, PORTA_DTYPE_F16);
}

PORTA_CTS_INSTANTIATE(OpsSoftmaxTest);

}  // namespace
}  // namespace porta_cts
