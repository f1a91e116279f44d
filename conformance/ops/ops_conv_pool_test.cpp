// 2D convolution (NCHW: stride, padding, dilation, groups including depthwise and depthwise with a
// channel multiplier, rectangular kernels, bias, strided views, mixed types, integer data with an
// exact result) and 2D pooling (max with NaN propagation and all-negative windows, average with
// count_include_pad both ways, padding, dilation, rectangular windows), with empty batches.
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "conformance/ops/ops_cts.h"

namespace porta_cts {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

//===------------------------------------------------------------------------------------------===//
// Convolution
//===------------------------------------------------------------------------------------------===//

struct ConvCase {
  int64_t n, c, h, w, co, kh, kw;
  uint32_t stride_h, stride_w, pad_h, pad_w, dil_h, dil_w, groups;
  // 0: contiguous; 1: x stored NHWC (a permuted view), out sliced; 2: weight sliced.
  int layout;
};

const ConvCase kConvCases[] = {
    {1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 0}, {2, 3, 7, 9, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},
    {1, 4, 8, 8, 6, 3, 3, 2, 2, 1, 1, 1, 1, 1, 2}, {1, 2, 9, 7, 3, 3, 3, 1, 1, 2, 2, 2, 2, 1, 0},
    {2, 4, 6, 5, 4, 3, 3, 1, 1, 1, 1, 1, 1, 2, 1}, {1, 5, 7, 7, 5, 3, 3, 1, 1, 1, 1, 1, 1, 5, 0},
    {1, 4, 6, 6, 8, 3, 3, 1, 1, 1, 1, 1, 1, 4, 0}, {1, 3, 7, 10, 2, 2, 3, 1, 2, 0, 1, 1, 1, 1, 0},
    {1, 8, 5, 5, 4, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1}, {1, 16, 12, 12, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1, 0},
    {1, 2, 5, 4, 2, 5, 4, 1, 1, 0, 0, 1, 1, 1, 0}, {0, 3, 5, 5, 2, 3, 3, 1, 1, 1, 1, 1, 1, 1, 0},
};

std::string ConvText(const ConvCase& c) {
  return "conv2d N " + std::to_string(c.n) + " C " + std::to_string(c.c) + " H " +
         std::to_string(c.h) + " W " + std::to_string(c.w) + " Co " + std::to_string(c.co) +
         " kernel " + std::to_string(c.kh) + "x" + std::to_string(c.kw) + " stride " +
         std::to_string(c.stride_h) + "," + std::to_string(c.stride_w) + " pad " +
         std::to_string(c.pad_h) + "," + std::to_string(c.pad_w) + " dilation " +
         std::to_string(c.dil_h) + "," + std::to_string(c.dil_w) + " groups " +
         std::to_string(c.groups);
}

class OpsConv2dTest : public OpsTest {
 protected:
  struct Types {
    porta_dtype_t x, w, out, bias;
  };

  DeviceTensor Data(const TensorSpec& spec, bool integers, int64_t bound) {
    if (!integers) return Random(spec);
    return Upload(spec, RandomIntegers(static_cast<size_t>(ElementCount(spec.shape)), NextSeed(),
                                       -bound, bound));
  }

  void Check(const ConvCase& c, const Types& t, bool with_bias, bool integers) {
    porta_conv2d_desc_t desc = PORTA_CONV2D_DESC_INIT;
    desc.stride[0] = c.stride_h;
    desc.stride[1] = c.stride_w;
    desc.padding[0] = c.pad_h;
    desc.padding[1] = c.pad_w;
    desc.dilation[0] = c.dil_h;
    desc.dilation[1] = c.dil_w;
    desc.groups = c.groups;
    const Shape x_shape = {c.n, c.c, c.h, c.w};
    const Shape w_shape = {c.co, c.c / c.groups, c.kh, c.kw};
    const int64_t ho = ref::WindowOutputSize(c.h, c.kh, c.stride_h, c.pad_h, c.dil_h);
    const int64_t wo = ref::WindowOutputSize(c.w, c.kw, c.stride_w, c.pad_w, c.dil_w);
    const Shape out_shape = {c.n, c.co, ho, wo};
    DeviceTensor x =
        Data(c.layout == 1 ? Permuted(t.x, x_shape, {0, 3, 1, 2}) : Contiguous(t.x, x_shape),
             integers, 8);
    DeviceTensor w =
        Data(c.layout == 2 ? Sliced(t.w, w_shape) : Contiguous(t.w, w_shape), integers, 8);
    DeviceTensor bias = with_bias ? Data(Contiguous(t.bias, {c.co}), integers, 16) : DeviceTensor();
    DeviceTensor out =
        Output(c.layout == 1 ? Sliced(t.out, out_shape) : Contiguous(t.out, out_shape));
    const std::string what = ConvText(c) + (with_bias ? " bias" : "") +
                             (integers ? " integer data" : "") + ", x " + SpecText(x.spec()) +
                             ", weight " + SpecText(w.spec());
    ASSERT_PORTA_OK(porta_ops_conv2d(ctx(), stream(), &desc, x.get(), w.get(),
                                     with_bias ? bias.get() : nullptr, out.get()))
        << what;
    std::vector<double> bias_values;
    if (with_bias) bias_values = bias.Values();
    Shape ref_shape;
    const std::vector<double> expected =
        ref::Conv2d(x.Values(), x_shape, w.Values(), w_shape, with_bias ? &bias_values : nullptr,
                    desc, &ref_shape);
    const OpClass op_class = integers ? OpClass::kExact : OpClass::kConv;
    const auto k = static_cast<double>(c.c / c.groups * c.kh * c.kw);
    if (with_bias) {
      EXPECT_TRUE(Verify(what, op_class, out, expected, k, {&x, &w, &bias}));
    } else {
      EXPECT_TRUE(Verify(what, op_class, out, expected, k, {&x, &w}));
    }
  }

  void Run(const Types& t) {
    bool with_bias = false;
    for (const ConvCase& c : kConvCases) {
      Check(c, t, with_bias, false);
      with_bias = !with_bias;
    }
    // Integer data: sums of at most 144 products of |8| x |8| stay exact in f32 in any order.
    for (size_t i : {1u, 4u, 6u, 9u}) Check(kConvCases[i], t, true, true);
  }
};

TEST_P(OpsConv2dTest, F32) {
  const porta_dtype_t f = PORTA_DTYPE_F32;
  PORTA_OPS_REQUIRE(ctx(), PORTA_OP_CONV2D, f, f, f);
  PORTA_OPS_REQUIRE(ctx(), PORTA_OP_CONV2D, f, f, f, f);
  Run({f, f, f, f});
}

TEST_P(OpsConv2dTest, F16) {
  const porta_dtype_t h = PORTA_DTYPE_F16;
  PORTA_OPS_REQUIRE(ctx(), PORTA_OP_CONV2D, h, h, h);
  PORTA_OPS_REQUIRE(ctx(), PORTA_OP_CONV2D, h, h, h, h);
  Run({h, h, h, h});
}

TEST_P(OpsConv2dTest, BF16) {
  const porta_dtype_t b = PORTA_DTYPE_BF16;
  PORTA_OPS_REQUIRE(ctx(), PORTA_OP_CONV2D, b, b, b);
  PORTA_OPS_REQUIRE(ctx(), PORTA_OP_CONV2D, b, b, b, b);
  Run({b, b, b, b});
}

// Weights and biases may have their own float types.
TEST_P(OpsConv2dTest, F32WithF16WeightAndBF16Bias) {
  const porta_dtype_t f = PORTA_DTYPE_F32, h = PORTA_DTYPE_F16, b = PORTA_DTYPE_BF16;
  PORTA_OPS_REQUIRE(ctx(), PORTA_OP_CONV2D, f, h, f);
  PORTA_OPS_REQUIRE(ctx(), PORTA_OP_CONV2D, f, h, b, f);
  Run({f, h, f, b});
}

TEST_P(OpsConv2dTest, BF16WithF32WeightAndF16Bias) {
  const porta_dtype_t f = PORTA_DTYPE_F32, h = PORTA_DTYPE_F16, b = PORTA_DTYPE_BF16;
  PORTA_OPS_REQUIRE(ctx(), PORTA_OP_CONV2D, b, f, b);
  PORTA_OPS_REQUIRE(ctx(), PORTA_OP_CONV2D, b, f, h, b);
  Run({b, f, b, h});
}

PORTA_CTS_INSTANTIATE(OpsConv2dTest);

//===------------------------------------------------------------------------------------------===//
// Pooling
//===------------------------------------------------------------------------------------------===//

struct PoolCase {
  int64_t n, c, h, w;
  uint32_t kh, kw, stride_h, stride_w, pad_h, pad_w, dil_h, dil_w;
};

const PoolCase kPoolCases[] = {
    {1, 2, 8, 8, 2, 2, 2, 2, 0, 0, 1, 1},   {2, 3, 7, 9, 3, 3, 1, 1, 1, 1, 1, 1},
    {1, 2, 9, 9, 3, 3, 2, 2, 1, 1, 1, 1},   {1, 2, 6, 7, 2, 3, 1, 2, 1, 1, 1, 1},
    {1, 1, 5, 5, 3, 3, 2, 2, 1, 1, 1, 1},   {1, 3, 6, 5, 1, 1, 2, 2, 0, 0, 1, 1},
    {1, 4, 33, 33, 2, 2, 2, 2, 0, 0, 1, 1}, {2, 2, 4, 4, 4, 4, 1, 1, 2, 2, 1, 1},
    {0, 2, 5, 5, 2, 2, 2, 2, 0, 0, 1, 1},
};

// Dilated windows, for max pooling only (average needs a dilation of 1).
const PoolCase kDilatedCases[] = {
    {1, 2, 9, 9, 3, 3, 1, 1, 1, 1, 2, 2},
    {1, 1, 7, 8, 2, 3, 2, 1, 1, 1, 3, 2},
};

std::string PoolText(const PoolCase& c, const porta_pool2d_desc_t& desc) {
  return std::string("pool2d ") + (desc.mode == PORTA_POOL_MODE_MAX ? "max" : "avg") +
         (desc.mode == PORTA_POOL_MODE_AVG
              ? (desc.count_include_pad != 0 ? " count_include_pad" : " excluding pad")
              : "") +
         " N " + std::to_string(c.n) + " C " + std::to_string(c.c) + " H " + std::to_string(c.h) +
         " W " + std::to_string(c.w) + " kernel " + std::to_string(c.kh) + "x" +
         std::to_string(c.kw) + " stride " + std::to_string(c.stride_h) + "," +
         std::to_string(c.stride_w) + " pad " + std::to_string(c.pad_h) + "," +
         std::to_string(c.pad_w) + " dilation " + std::to_string(c.dil_h) + "," +
         std::to_string(c.dil_w);
}

class OpsPool2dTest : public OpsTest {
 protected:
  void Check(const PoolCase& c, porta_pool_mode_t mode, bool include_pad, const DeviceTensor& x,
             bool sliced_out, bool exact) {
    porta_pool2d_desc_t desc = PORTA_POOL2D_DESC_INIT;
    desc.mode = mode;
    desc.kernel[0] = c.kh;
    desc.kernel[1] = c.kw;
    desc.stride[0] = c.stride_h;
    desc.stride[1] = c.stride_w;
    desc.padding[0] = c.pad_h;
    desc.padding[1] = c.pad_w;
    desc.dilation[0] = c.dil_h;
    desc.dilation[1] = c.dil_w;
    desc.count_include_pad = include_pad ? 1 : 0;
    const Shape x_shape = {c.n, c.c, c.h, c.w};
    Shape out_shape;
    const std::vector<double> expected = ref::Pool2d(x.Values(), x_shape, desc, &out_shape);
    DeviceTensor out =
        Output(sliced_out ? Sliced(x.dtype(), out_shape) : Contiguous(x.dtype(), out_shape));
    const std::string what = PoolText(c, desc) + ", x " + SpecText(x.spec());
    ASSERT_PORTA_OK(porta_ops_pool2d(ctx(), stream(), &desc, x.get(), out.get())) << what;
    const OpClass op_class =
        mode == PORTA_POOL_MODE_MAX || exact ? OpClass::kExact : OpClass::kPoolAvg;
    EXPECT_TRUE(Verify(what, op_class, out, expected, static_cast<double>(c.kh * c.kw), {&x}));
  }

  void Run(porta_dtype_t dt) {
    int variant = 0;
    for (const PoolCase& c : kPoolCases) {
      const Shape shape = {c.n, c.c, c.h, c.w};
      // Every other case reads x as a view of an NHWC buffer and writes a sliced output.
      const bool strided = (variant++ % 2) == 1;
      DeviceTensor x = Random(strided ? Permuted(dt, shape, {0, 3, 1, 2}) : Contiguous(dt, shape));
      Check(c, PORTA_POOL_MODE_MAX, true, x, strided, false);
      Check(c, PORTA_POOL_MODE_AVG, true, x, strided, false);
      Check(c, PORTA_POOL_MODE_AVG, false, x, strided, false);
    }
    for (const PoolCase& c : kDilatedCases) {
      DeviceTensor x = Random(Contiguous(dt, {c.n, c.c, c.h, c.w}));
      Check(c, PORTA_POOL_MODE_MAX, true, x, false, false);
    }
    // All negative: padding must not take part in the max (a kernel that pads with 0 fails).
    const PoolCase padded = kPoolCases[1];
    DeviceTensor negative =
        Random(Contiguous(dt, {padded.n, padded.c, padded.h, padded.w}), -2.0, -0.5);
    Check(padded, PORTA_POOL_MODE_MAX, true, negative, false, false);
    // NaN propagates through max (and through the average's sum).
    std::vector<double> values = RandomValues(2 * 3 * 7 * 9, NextSeed(), -1.0, 1.0);
    values[10] = kNaN;
    values[100] = kNaN;
    DeviceTensor with_nan = Upload(Contiguous(dt, {2, 3, 7, 9}), values);
    Check(padded, PORTA_POOL_MODE_MAX, true, with_nan, false, false);
    Check(padded, PORTA_POOL_MODE_AVG, false, with_nan, false, false);
    // 2x2 windows without padding divide by 4: integer data gives an exact average.
    const PoolCase quads = kPoolCases[0];
    DeviceTensor ints = Upload(Contiguous(dt, {quads.n, quads.c, quads.h, quads.w}),
                               RandomIntegers(2 * 8 * 8, NextSeed(), -64, 64));
    Check(quads, PORTA_POOL_MODE_AVG, true, ints, false, true);
    Check(quads, PORTA_POOL_MODE_AVG, false, ints, false, true);
  }
};

TEST_P(OpsPool2dTest, F32) {
  PORTA_OPS_REQUIRE(ctx(), PORTA_OP_POOL2D, PORTA_DTYPE_F32, PORTA_DTYPE_F32);
  Run(PORTA_DTYPE_F32);
}

TEST_P(OpsPool2dTest, F16) {
  PORTA_OPS_REQUIRE(ctx(), PORTA_OP_POOL2D, PORTA_DTYPE_F16, PORTA_DTYPE_F16);
  Run(PORTA_DTYPE_F16);
}

TEST_P(OpsPool2dTest, BF16) {
  PORTA_OPS_REQUIRE(ctx(), PORTA_OP_POOL2D, PORTA_DTYPE_BF16, PORTA_DTYPE_BF16);
  Run(PORTA_DTYPE_BF16);
}

PORTA_CTS_INSTANTIATE(OpsPool2dTest);

}  // namespace
}  // namespace porta_cts
