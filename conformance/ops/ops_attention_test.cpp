// Fused scaled dot-product attention: grouped-query head ratios (MHA, GQA, MQA), the default and
// explicit scales, causal with Lq < Lk, Lq == Lk and Lq > Lk (bottom-right aligned, leaving the
// first rows with no visible key), broadcast masks of any float type with -inf entries and fully
// masked rows, Lk = 0 (zeros), head sizes up to 256, key sequences longer than a work-group,
// [B, L, H, D] views and a non-contiguous head dimension, mixed input types, and empty tensors.
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "conformance/ops/ops_cts.h"

namespace porta_cts {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

struct AttentionCase {
  int64_t batch, hq, hkv, lq, lk, d, dv;
  bool causal;
  float scale;
  // 0: contiguous [B, H, L, D]; 1: views of [B, L, H, D] buffers; 2: q and out with every other
  // element of the head dimension (a stride the kernels do not take as it is).
  int layout;
};

const AttentionCase kCases[] = {
    {1, 1, 1, 1, 1, 1, 1, false, 0.0f, 0},
    {2, 4, 2, 5, 7, 16, 8, false, 0.0f, 0},
    {1, 6, 1, 3, 33, 64, 64, false, 0.0f, 1},
    {1, 3, 3, 2, 5, 256, 256, false, 0.0f, 0},
    {1, 2, 2, 3, 7, 8, 8, true, 0.0f, 0},
    {2, 2, 1, 6, 6, 16, 16, true, 0.3f, 1},
    {1, 1, 1, 5, 3, 8, 4, true, 0.0f, 0},
    {1, 1, 1, 2, 300, 32, 16, false, 0.0f, 0},
    {1, 2, 1, 4, 300, 16, 16, true, 0.0f, 1},
    {2, 3, 3, 4, 9, 3, 5, false, 0.7f, 2},
    {1, 2, 2, 3, 0, 8, 8, false, 0.0f, 0},
    {1, 2, 2, 0, 4, 8, 8, false, 0.0f, 0},
    {0, 2, 2, 3, 4, 8, 8, false, 0.0f, 0},
    // At least 8 query rows (the Vulkan direct variant's subgroup of rows), a partial last group.
    {2, 4, 2, 13, 17, 16, 8, true, 0.0f, 0},
    {1, 3, 1, 9, 9, 20, 12, false, 0.5f, 1},
    {1, 2, 2, 11, 40, 64, 64, true, 0.0f, 2},
};

TensorSpec Layout(porta_dtype_t dt, const Shape& bhld, int layout) {
  if (layout == 1) return Permuted(dt, bhld, {0, 2, 1, 3});
  if (layout == 2) return Sliced(dt, bhld);
  return Contiguous(dt, bhld);
}

class OpsAttentionTest : public OpsTest {
 protected:
  struct Types {
    porta_dtype_t q, k, v, out;
  };

  void RunCase(const AttentionCase& c, const Types& t, const TensorSpec* mask_spec) {
    DeviceTensor q = Random(Layout(t.q, {c.batch, c.hq, c.lq, c.d}, c.layout));
    DeviceTensor k = Random(Layout(t.k, {c.batch, c.hkv, c.lk, c.d}, c.layout == 1 ? 1 : 0));
    DeviceTensor v = Random(Layout(t.v, {c.batch, c.hkv, c.lk, c.dv}, c.layout == 1 ? 1 : 0));
    DeviceTensor out = Output(Layout(t.out, {c.batch, c.hq, c.lq, c.dv}, c.layout));
    DeviceTensor mask;
    std::vector<double> mask_values;
    if (mask_spec != nullptr) {
      // Every fourth entry -inf, and when the mask has several rows its first row entirely -inf
      // (a fully masked row, which gives zeros).
      const auto count = static_cast<size_t>(ElementCount(mask_spec->shape));
      mask_values = RandomValues(count, NextSeed(), -2.0, 2.0);
      for (size_t i = 0; i < count; i += 4) mask_values[i] = -kInf;
      const auto row = static_cast<size_t>(mask_spec->shape.back());
      if (row > 1 && count > row) {
        for (size_t i = 0; i < row && i < count; ++i) mask_values[i] = -kInf;
      }
      mask = Upload(*mask_spec, mask_values);
      mask_values = mask.Values();
    }
    porta_attention_desc_t desc = PORTA_ATTENTION_DESC_INIT;
    desc.scale = c.scale;
    desc.causal = c.causal ? 1 : 0;
    const std::string what =
        "attention B " + std::to_string(c.batch) + " Hq " + std::to_string(c.hq) + " Hkv " +
        std::to_string(c.hkv) + " Lq " + std::to_string(c.lq) + " Lk " + std::to_string(c.lk) +
        " D " + std::to_string(c.d) + " Dv " + std::to_string(c.dv) + (c.causal ? " causal" : "") +
        " scale " + std::to_string(c.scale) + ", q " + SpecText(q.spec()) + ", k " +
        SpecText(k.spec()) + ", v " + SpecText(v.spec()) +
        (mask_spec != nullptr ? ", mask " + SpecText(mask.spec()) : "");
    ASSERT_PORTA_OK(porta_ops_attention(ctx(), stream(), &desc, q.get(), k.get(), v.get(),
                                        mask_spec != nullptr ? mask.get() : nullptr, out.get()))
        << what;
    const double scale =
        c.scale != 0.0f ? static_cast<double>(c.scale) : 1.0 / std::sqrt(static_cast<double>(c.d));
    const std::vector<double> expected =
        ref::Attention(q.Values(), q.shape(), k.Values(), k.shape(), v.Values(), v.shape(),
                       mask_spec != nullptr ? &mask_values : nullptr,
                       mask_spec != nullptr ? mask.shape() : Shape{}, scale, c.causal);
    const auto accumulated = static_cast<double>(c.d + c.lk);
    if (mask_spec != nullptr) {
      EXPECT_TRUE(
          Verify(what, OpClass::kAttention, out, expected, accumulated, {&q, &k, &v, &mask}));
    } else {
      EXPECT_TRUE(Verify(what, OpClass::kAttention, out, expected, accumulated, {&q, &k, &v}));
    }
  }

  void Run(const Types& t) {
    for (const AttentionCase& c : kCases) RunCase(c, t, nullptr);
  }

  void RunMasks(const Types& t, porta_dtype_t mask_dt) {
    const AttentionCase c = {2, 4, 2, 5, 7, 16, 8, false, 0.0f, 0};
    const std::vector<TensorSpec> masks = {
        Contiguous(mask_dt, {5, 7}),           Contiguous(mask_dt, {2, 1, 5, 7}),
        Contiguous(mask_dt, {1, 1, 1, 7}),     Contiguous(mask_dt, {2, 4, 5, 7}),
        Broadcast(mask_dt, {2, 4, 5, 7}, {1}), Permuted(mask_dt, {5, 7}, {1, 0}),
    };
    for (const TensorSpec& mask : masks) RunCase(c, t, &mask);
    // A mask together with the causal rule, Lq < Lk, with fewer and with more than 8 query rows.
    const AttentionCase causal = {1, 2, 1, 3, 8, 8, 8, true, 0.0f, 1};
    const TensorSpec mask = Contiguous(mask_dt, {3, 8});
    RunCase(causal, t, &mask);
    const AttentionCase causal_rows = {2, 2, 1, 10, 12, 8, 8, true, 0.0f, 0};
    const TensorSpec rows_mask = Contiguous(mask_dt, {2, 1, 10, 12});
    RunCase(causal_rows, t, &rows_mask);
  }
};

TEST_P(OpsAttentionTest, F32) {
  const porta_dtype_t f = PORTA_DTYPE_F32;
  PORTA_OPS_REQUIRE(ctx(), PORTA_OP_ATTENTION, f, f, f, f);
  PORTA_OPS_REQUIRE(ctx(), PORTA_OP_ATTENTION, f, f, f, f, f);
  Run({f, f, f, f});
  RunMasks({f, f, f, f}, f);
}

TEST_P(OpsAttentionTest, F16) {
  const porta_dtype_t h = PORTA_DTYPE_F16;
  PORTA_OPS_REQUIRE(ctx(), PORTA_OP_ATTENTION, h, h, h, h);
  PORTA_OPS_REQUIRE(ctx(), PORTA_OP_ATTENTION, h, h, h, h, h);
  Run({h, h, h, h});
  RunMasks({h, h, h, h}, h);
}

TEST_P(OpsAttentionTest, BF16) {
  const porta_dtype_t b = PORTA_DTYPE_BF16;
  PORTA_OPS_REQUIRE(ctx(), PORTA_OP_ATTENTION, b, b, b, b);
  PORTA_OPS_REQUIRE(ctx(), PORTA_OP_ATTENTION, b, b, b, b, b);
  Run({b, b, b, b});
  RunMasks({b, b, b, b}, b);
}

// q, k and v of different types; the output in f32.
TEST_P(OpsAttentionTest, MixedInputsIntoF32) {
  const porta_dtype_t f = PORTA_DTYPE_F32, h = PORTA_DTYPE_F16, b = PORTA_DTYPE_BF16;
  PORTA_OPS_REQUIRE(ctx(), PORTA_OP_ATTENTION, h, b, f, f);
  Run({h, b, f, f});
}

TEST_P(OpsAttentionTest, MixedInputsIntoBF16) {
  const porta_dtype_t h = PORTA_DTYPE_F16, b = PORTA_DTYPE_BF16;
  PORTA_OPS_REQUIRE(ctx(), PORTA_OP_ATTENTION, b, h, h, b);
  Run({b, h, h, b});
}

// The mask's type is independent of the others'.
TEST_P(OpsAttentionTest, F32WithF16Mask) {
  const porta_dtype_t f = PORTA_DTYPE_F32, h = PORTA_DTYPE_F16;
  PORTA_OPS_REQUIRE(ctx(), PORTA_OP_ATTENTION, f, f, f, h, f);
  RunMasks({f, f, f, f}, h);
}

TEST_P(OpsAttentionTest, F16WithBF16Mask) {
  const porta_dtype_t h = PORTA_DTYPE_F16, b = PORTA_DTYPE_BF16;
  PORTA_OPS_REQUIRE(ctx(), PORTA_OP_ATTENTION, h, h, h, b, h);
  RunMasks({h, h, h, h}, b);
}

PORTA_CTS_INSTANTIATE(OpsAttentionTest);

}  // namespace
}  // namespace porta_cts
