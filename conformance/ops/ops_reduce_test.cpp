// Reductions (SUM, MEAN, MAX, MIN over any set of axes, keep_dims both ways, output in x's type
// or f32) and argmax, on contiguous, permuted, sliced and broadcast inputs, rows longer than any
// work-group (so the library's multi-part path runs), empty axes and empty outputs, NaN and
// infinities, exact ties, and integer data whose f32 sums are exact.
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "conformance/ops/ops_cts.h"

namespace porta_cts {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

struct ReduceCase {
  TensorSpec x;
  std::vector<int32_t> axes;
  bool keep_dims;
};

std::vector<ReduceCase> ReduceCases(porta_dtype_t dt) {
  return {
      {Contiguous(dt, {5, 7, 3}), {-1}, false},
      {Contiguous(dt, {5, 7, 3}), {0}, true},
      {Contiguous(dt, {5, 7, 3}), {1}, false},
      {Contiguous(dt, {5, 7, 3}), {0, 2}, false},
      {Contiguous(dt, {5, 7, 3}), {}, false},
      {Contiguous(dt, {5, 7, 3}), {}, true},
      {Contiguous(dt, {5, 7, 3}), {2, 0, -2}, true},
      {Contiguous(dt, {1}), {0}, false},
      {Contiguous(dt, {13}), {0}, true},
      {Contiguous(dt, {2, 3, 4, 5}), {1, 3}, false},
      {Permuted(dt, {4, 6, 5}, {2, 0, 1}), {1}, false},
      {Sliced(dt, {3, 9}), {-1}, true},
      {Broadcast(dt, {4, 6}, {0}), {0}, false},
      {Permuted(dt, {2, 3, 2, 1, 3, 2}, {5, 4, 3, 2, 1, 0}), {1, 4}, true},
      {Contiguous(dt, {2, 4099}), {1}, false},
      {Contiguous(dt, {4099, 3}), {0}, false},
      {Contiguous(dt, {}), {}, false},
      {Contiguous(dt, {3, 0, 2}), {0}, false},
  };
}

// The rows of a matrix, concatenated.
std::vector<double> Rows(const std::vector<std::vector<double>>& rows) {
  std::vector<double> values;
  for (const std::vector<double>& row : rows) values.insert(values.end(), row.begin(), row.end());
  return values;
}

std::vector<int> Normalize(const std::vector<int32_t>& axes, size_t rank) {
  std::vector<int> out;
  for (int32_t axis : axes) out.push_back(axis < 0 ? axis + static_cast<int>(rank) : axis);
  return out;
}

const char* ReduceName(porta_reduce_op_t op) {
  switch (op) {
    case PORTA_REDUCE_SUM:
      return "sum";
    case PORTA_REDUCE_MEAN:
      return "mean";
    case PORTA_REDUCE_MAX:
      return "max";
    case PORTA_REDUCE_MIN:
      return "min";
  }
  return "?";
}

std::string AxesText(const std::vector<int32_t>& axes) {
  std::string text = "{";
  for (size_t i = 0; i < axes.size(); ++i) text += (i > 0 ? ", " : "") + std::to_string(axes[i]);
  return text + "}";
}

class OpsReduceTest : public OpsTest {
 protected:
  // Runs |op| over |axes| of x into a new output of |out_dt| and checks it against the reference.
  void Check(porta_reduce_op_t op, const DeviceTensor& x, const std::vector<int32_t>& axes,
             bool keep_dims, porta_dtype_t out_dt, bool exact) {
    const std::vector<int> normalized = Normalize(axes, x.shape().size());
    Shape out_shape;
    const std::vector<double> expected =
        ref::Reduce(op, x.Values(), x.shape(), normalized, keep_dims, &out_shape);
    int64_t reduced = ElementCount(x.shape()) / std::max<int64_t>(ElementCount(out_shape), 1);
    if (ElementCount(out_shape) == 0) reduced = 1;
    DeviceTensor out = Output(Contiguous(out_dt, out_shape));
    const std::string what = std::string("reduce ") + ReduceName(op) + " over " + AxesText(axes) +
                             (keep_dims ? " keeping dims" : "") + ", x " + SpecText(x.spec());
    ASSERT_PORTA_OK(porta_ops_reduce(ctx(), stream(), op, x.get(), axes.data(),
                                     static_cast<uint32_t>(axes.size()), keep_dims ? 1 : 0,
                                     out.get()))
        << what;
    const bool order_free = op == PORTA_REDUCE_MAX || op == PORTA_REDUCE_MIN;
    EXPECT_TRUE(Verify(what, exact || order_free ? OpClass::kExact : OpClass::kReduce, out,
                       expected, static_cast<double>(reduced), {&x}));
  }

  void Run(porta_dtype_t dt, porta_dtype_t out_dt) {
    for (porta_reduce_op_t op :
         {PORTA_REDUCE_SUM, PORTA_REDUCE_MEAN, PORTA_REDUCE_MAX, PORTA_REDUCE_MIN}) {
      for (const ReduceCase& c : ReduceCases(dt)) {
        DeviceTensor x = Random(c.x);
        Check(op, x, c.axes, c.keep_dims, out_dt, false);
      }
      // Into a strided output view.
      DeviceTensor x = Random(Contiguous(dt, {6, 10}));
      Shape out_shape;
      const std::vector<double> expected =
          ref::Reduce(op, x.Values(), x.shape(), {1}, true, &out_shape);
      DeviceTensor out = Output(Sliced(out_dt, out_shape));
      const int32_t axis = 1;
      ASSERT_PORTA_OK(porta_ops_reduce(ctx(), stream(), op, x.get(), &axis, 1, 1, out.get()));
      EXPECT_TRUE(Verify(
          std::string("reduce ") + ReduceName(op) + " into a sliced output",
          op == PORTA_REDUCE_MAX || op == PORTA_REDUCE_MIN ? OpClass::kExact : OpClass::kReduce,
          out, expected, 10, {&x}));
    }
    // The sum of nothing is 0, the mean of nothing NaN.
    DeviceTensor empty_rows = Random(Contiguous(dt, {3, 0}));
    Check(PORTA_REDUCE_SUM, empty_rows, {1}, false, out_dt, true);
    Check(PORTA_REDUCE_MEAN, empty_rows, {1}, false, out_dt, true);

    // NaN propagates through every reduction; +inf and -inf make a NaN sum and set max and min.
    const std::vector<std::vector<double>> rows = {
        {0.5, 1.0, -1.0, 2.0, 0.0, -0.5},
        {1.0, kNaN, 2.0, -3.0, 0.25, 1.0},
        {kInf, 1.0, -kInf, 0.5, 2.0, -1.0},
        {kNaN, 1.0, 2.0, 3.0, kNaN, 4.0},
    };
    DeviceTensor special = Upload(Contiguous(dt, {4, 6}), Rows(rows));
    for (porta_reduce_op_t op :
         {PORTA_REDUCE_SUM, PORTA_REDUCE_MEAN, PORTA_REDUCE_MAX, PORTA_REDUCE_MIN}) {
      Check(op, special, {1}, false, out_dt, false);
    }

    // Integer data: every partial sum is an integer below 2^24, exact in f32 in any order, so
    // the output is the reference rounded once (nearest even) to out's type. 128 and 4096 make
    // the mean's scale a power of two, so the mean is exact too.
    for (const Shape& shape : {Shape{3, 129}, Shape{3, 128}, Shape{2, 4096}}) {
      DeviceTensor ints =
          Upload(Contiguous(dt, shape),
                 RandomIntegers(static_cast<size_t>(ElementCount(shape)), NextSeed(), -64, 64));
      Check(PORTA_REDUCE_SUM, ints, {1}, false, out_dt, true);
      if (shape[1] != 129) Check(PORTA_REDUCE_MEAN, ints, {-1}, true, out_dt, true);
    }
  }
};

TEST_P(OpsReduceTest, F32) {
  PORTA_OPS_REQUIRE(ctx(), PORTA_OP_REDUCE, PORTA_DTYPE_F32, PORTA_DTYPE_F32);
  Run(PORTA_DTYPE_F32, PORTA_DTYPE_F32);
}

TEST_P(OpsReduceTest, F16) {
  PORTA_OPS_REQUIRE(ctx(), PORTA_OP_REDUCE, PORTA_DTYPE_F16, PORTA_DTYPE_F16);
  Run(PORTA_DTYPE_F16, PORTA_DTYPE_F16);
}

TEST_P(OpsReduceTest, F16IntoF32) {
  PORTA_OPS_REQUIRE(ctx(), PORTA_OP_REDUCE, PORTA_DTYPE_F16, PORTA_DTYPE_F32);
  Run(PORTA_DTYPE_F16, PORTA_DTYPE_F32);
}

TEST_P(OpsReduceTest, BF16) {
  PORTA_OPS_REQUIRE(ctx(), PORTA_OP_REDUCE, PORTA_DTYPE_BF16, PORTA_DTYPE_BF16);
  Run(PORTA_DTYPE_BF16, PORTA_DTYPE_BF16);
}

TEST_P(OpsReduceTest, BF16IntoF32) {
  PORTA_OPS_REQUIRE(ctx(), PORTA_OP_REDUCE, PORTA_DTYPE_BF16, PORTA_DTYPE_F32);
  Run(PORTA_DTYPE_BF16, PORTA_DTYPE_F32);
}

// The library's workspace comes from the device's buffer pool: a reduction of few long rows is
// split in parts through the workspace, and repeating it on the same stream takes the block back
// from the pool without allocating.
TEST_P(OpsReduceTest, RepeatedCallsReuseTheWorkspaceFromThePool) {
  PORTA_OPS_REQUIRE(ctx(), PORTA_OP_REDUCE, PORTA_DTYPE_F32, PORTA_DTYPE_F32);
  porta_pool_stats_t before = PORTA_POOL_STATS_INIT;
  ASSERT_PORTA_OK(porta_device_pool_get_stats(device_, &before));
  if (before.enabled == 0) {
    RecordSkipReason("PORTA_POOL=0");
    GTEST_SKIP() << "pooling is turned off (PORTA_POOL=0)";
  }
  const DeviceTensor x = Random(Contiguous(PORTA_DTYPE_F32, {2, 65536}));
  const DeviceTensor out = Output(Contiguous(PORTA_DTYPE_F32, {2}));
  const int32_t axis = 1;
  ASSERT_PORTA_OK(
      porta_ops_reduce(ctx(), stream(), PORTA_REDUCE_SUM, &x.tensor(), &axis, 1, 0, &out.tensor()));
  porta_pool_stats_t first = PORTA_POOL_STATS_INIT;
  ASSERT_PORTA_OK(porta_device_pool_get_stats(device_, &first));
  ASSERT_GT(first.alloc_count, before.alloc_count) << "the split reduction took no workspace";
  constexpr uint64_t kRepeats = 3;
  for (uint64_t i = 0; i < kRepeats; ++i) {
    ASSERT_PORTA_OK(porta_ops_reduce(ctx(), stream(), PORTA_REDUCE_SUM, &x.tensor(), &axis, 1, 0,
                                     &out.tensor()));
  }
  porta_pool_stats_t after = PORTA_POOL_STATS_INIT;
  ASSERT_PORTA_OK(porta_device_pool_get_stats(device_, &after));
  EXPECT_EQ(after.miss_count, first.miss_count) << "a repeated operation allocated workspace";
  EXPECT_GE(after.hit_count - first.hit_count, kRepeats);
  EXPECT_EQ(after.free_count - first.free_count, after.alloc_count - first.alloc_count);
  ASSERT_PORTA_OK(porta_stream_synchronize(stream()));
}

PORTA_CTS_INSTANTIATE(OpsReduceTest);

//===------------------------------------------------------------------------------------------===//
// Argmax
//===------------------------------------------------------------------------------------------===//

class OpsArgmaxTest : public OpsTest {
 protected:
  void Check(const DeviceTensor& x, int32_t axis, bool keep_dims, const TensorSpec* out_spec) {
    const int a = axis < 0 ? axis + static_cast<int>(x.shape().size()) : axis;
    Shape out_shape;
    const std::vector<double> expected =
        ref::Argmax(x.Values(), x.shape(), a, keep_dims, &out_shape);
    DeviceTensor out =
        Output(out_spec != nullptr ? *out_spec : Contiguous(PORTA_DTYPE_I32, out_shape));
    const std::string what = "argmax along " + std::to_string(axis) +
                             (keep_dims ? " keeping dims" : "") + ", x " + SpecText(x.spec());
    ASSERT_PORTA_OK(porta_ops_argmax(ctx(), stream(), x.get(), axis, keep_dims ? 1 : 0, out.get()))
        << what;
    EXPECT_TRUE(Verify(what, OpClass::kExact, out, expected, 1, {&x}));
  }

  void Run(porta_dtype_t dt) {
    for (int32_t axis : {0, 1, 2, -1}) {
      for (bool keep : {false, true}) {
        DeviceTensor x = Random(Contiguous(dt, {5, 7, 3}));
        Check(x, axis, keep, nullptr);
      }
    }
    // Rows longer than a work-group, along the contiguous axis and across it; bf16 and f16
    // rounding makes ties likely, so the first-index rule is exercised across parts too.
    DeviceTensor long_rows = Random(Contiguous(dt, {2, 3001}));
    Check(long_rows, 1, false, nullptr);
    DeviceTensor long_cols = Random(Contiguous(dt, {3001, 2}));
    Check(long_cols, 0, false, nullptr);
    DeviceTensor permuted = Random(Permuted(dt, {4, 9, 5}, {2, 0, 1}));
    Check(permuted, 1, true, nullptr);
    DeviceTensor broadcast = Random(Broadcast(dt, {6, 4}, {0}));
    Check(broadcast, 0, false, nullptr);
    DeviceTensor one = Random(Contiguous(dt, {1}));
    Check(one, 0, false, nullptr);
    DeviceTensor empty = Random(Contiguous(dt, {0, 5}));
    Check(empty, 1, false, nullptr);
    // Into a strided output.
    DeviceTensor strided_src = Random(Contiguous(dt, {6, 11}));
    const TensorSpec strided_out = Sliced(PORTA_DTYPE_I32, {6});
    Check(strided_src, 1, false, &strided_out);

    // Exact ties everywhere: small integers.
    DeviceTensor ties = Upload(Contiguous(dt, {8, 33}), RandomIntegers(8 * 33, NextSeed(), 0, 4));
    Check(ties, 1, false, nullptr);
    Check(ties, 0, true, nullptr);

    // NaN counts as the maximum and the first NaN wins; an all -inf row gives 0; +inf beats all.
    const std::vector<std::vector<double>> rows = {
        {1.0, 3.0, kNaN, 3.0, kNaN, 5.0},  {-kInf, -kInf, -kInf, -kInf, -kInf, -kInf},
        {2.0, kInf, 1.0, kInf, kNaN, 0.0}, {-0.0, 0.0, -0.0, 0.0, -1.0, -2.0},
        {kNaN, 1.0, 2.0, 3.0, 4.0, 5.0},
    };
    DeviceTensor special = Upload(Contiguous(dt, {5, 6}), Rows(rows));
    Check(special, 1, false, nullptr);
  }
};

TEST_P(OpsArgmaxTest, F32) {
  PORTA_OPS_REQUIRE(ctx(), PORTA_OP_ARGMAX, PORTA_DTYPE_F32, PORTA_DTYPE_I32);
  Run(PORTA_DTYPE_F32);
}

TEST_P(OpsArgmaxTest, F16) {
  PORTA_OPS_REQUIRE(ctx(), PORTA_OP_ARGMAX, PORTA_DTYPE_F16, PORTA_DTYPE_I32);
  Run(PORTA_DTYPE_F16);
}

TEST_P(OpsArgmaxTest, BF16) {
  PORTA_OPS_REQUIRE(ctx(), PORTA_OP_ARGMAX, PORTA_DTYPE_BF16, PORTA_DTYPE_I32);
  Run(PORTA_DTYPE_BF16);
}

PORTA_CTS_INSTANTIATE(OpsArgmaxTest);

}  // namespace
}  // namespace porta_cts
