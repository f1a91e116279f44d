// Block-quantized weights (Q4_0, Q4_1, Q8_0): matmul with a quantized, transposed b (M from 1,
// which takes the matrix-vector kernel, to beyond 64, which takes the GEMM; N no
// multiple of any tile; K = 32, 96, 576; b 2 bytes past a word boundary; batch dimensions that
// broadcast by size and by stride 0; rows with padding between them; f16 and bf16 a; out in f32 and
// in a's type; bias, every activation, alpha and beta), embedding from a quantized table (with
// indices outside the table) and dequantizing casts. The reference decodes the raw bytes itself, in
// double, from the layouts of porta_ops.h; the data are random quants with random f16 scales (and
// mins) of the magnitudes real weights have, plus a block with d = 0 and one with the extreme
// quants. Then the errors: every rule of the tensor layout and of the ops that take (or refuse)
// block types.
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "conformance/ops/ops_cts.h"

namespace porta_cts {
namespace {

constexpr int64_t kBlock = 32;

size_t BlockBytes(porta_dtype_t dtype) {
  return dtype == PORTA_DTYPE_Q4_0 ? 18 : dtype == PORTA_DTYPE_Q4_1 ? 20 : 34;
}

double Half(const uint8_t* p) {
  return F16ToDouble(static_cast<uint16_t>(p[0] | (p[1] << 8)));
}

// The 32 weights of the block at |q|, exactly (porta_ops.h's formulas in double).
void DecodeBlock(porta_dtype_t dtype, const uint8_t* q, double* w) {
  const double d = Half(q);
  if (dtype == PORTA_DTYPE_Q8_0) {
    for (int j = 0; j < 32; ++j) w[j] = d * static_cast<int8_t>(q[2 + j]);
    return;
  }
  const double m = dtype == PORTA_DTYPE_Q4_1 ? Half(q + 2) : 0.0;
  const uint8_t* qs = q + (dtype == PORTA_DTYPE_Q4_1 ? 4 : 2);
  const int bias = dtype == PORTA_DTYPE_Q4_0 ? 8 : 0;
  for (int j = 0; j < 16; ++j) {
    w[j] = d * ((qs[j] & 15) - bias) + m;
    w[j + 16] = d * ((qs[j] >> 4) - bias) + m;
  }
}

void PutHalf(double value, uint8_t* p) {
  const uint16_t bits = F16FromFloat(static_cast<float>(value));
  p[0] = static_cast<uint8_t>(bits & 255);
  p[1] = static_cast<uint8_t>(bits >> 8);
}

// One random block: quants uniform over their range, d of a trained weight's magnitude (a
// 4-bit scale of 2^-9..2^-5, an 8-bit one 16 times smaller), Q4_1's m about -8 d as a
// symmetric weight gives. Block 0 of a tensor has d = 0 (Q4_1: m alone), block 1 the extreme
// quants (0 and 15; -128 and 127).
void RandomBlock(porta_dtype_t dtype, uint64_t index, Rng& rng, uint8_t* q) {
  const double sign = rng.Int(0, 1) == 0 ? 1.0 : -1.0;
  double d = std::ldexp(rng.Uniform(1.0, 2.0), static_cast<int>(rng.Int(-9, -5)));
  if (dtype == PORTA_DTYPE_Q8_0) d /= 16;
  if (dtype != PORTA_DTYPE_Q4_1) d *= sign;
  if (index == 0) d = 0;
  PutHalf(d, q);
  size_t header = 2;
  if (dtype == PORTA_DTYPE_Q4_1) {
    PutHalf(-rng.Uniform(6.0, 10.0) * (index == 0 ? 0.01 : d), q + 2);
    header = 4;
  }
  const size_t count = dtype == PORTA_DTYPE_Q8_0 ? 32 : 16;
  for (size_t j = 0; j < count; ++j) {
    uint8_t byte = static_cast<uint8_t>(rng.Int(0, 255));
    if (index == 1) {
      byte = dtype == PORTA_DTYPE_Q8_0 ? (j % 2 == 0 ? 0x80 : 0x7f) : (j % 2 == 0 ? 0x0f : 0xf0);
    }
    q[header + j] = byte;
  }
}

const char* QuantName(porta_dtype_t dtype) {
  return dtype == PORTA_DTYPE_Q4_0 ? "q4_0" : dtype == PORTA_DTYPE_Q4_1 ? "q4_1" : "q8_0";
}

}  // namespace

std::string QuantText(const QuantTensor& t) {
  return std::string(QuantName(t.tensor.dtype)) + ShapeText(t.shape) + " strides " +
         ShapeText(t.strides) + " offset " + std::to_string(t.tensor.offset);
}

QuantTensor OpsTest::MakeQuant(porta_dtype_t dtype, const Shape& shape, Shape strides,
                               uint64_t offset) {
  QuantTensor t;
  t.shape = shape;
  t.strides = strides.empty() ? ContiguousStrides(shape) : strides;
  const int64_t count = ElementCount(shape);
  int64_t last = 0;
  for (size_t d = 0; d < shape.size(); ++d) last += (shape[d] - 1) * t.strides[d];
  const uint64_t blocks = count > 0 ? static_cast<uint64_t>(last / kBlock + 1) : 0;
  const size_t bb = BlockBytes(dtype);
  const uint64_t start = kGuardBytes + offset;
  t.image.assign(start + blocks * bb + kGuardBytes, 0xa5);
  Rng rng(NextSeed());
  for (uint64_t b = 0; b < blocks; ++b) RandomBlock(dtype, b, rng, t.image.data() + start + b * bb);
  t.values.resize(static_cast<size_t>(count));
  double w[32];
  for (int64_t i = 0; i < count; ++i) {
    const Shape index = Unflatten(shape, i);
    int64_t e = 0;
    for (size_t d = 0; d < shape.size(); ++d) e += index[d] * t.strides[d];
    DecodeBlock(dtype, t.image.data() + start + static_cast<uint64_t>(e / kBlock) * bb, w);
    t.values[static_cast<size_t>(i)] = w[e % kBlock];
  }
  EXPECT_EQ(porta_buffer_alloc(device_, t.image.size(), PORTA_MEMORY_DEVICE, t.buffer.out()),
            PORTA_OK);
  EXPECT_EQ(porta_copy_host_to_device(stream(), t.buffer.get(), 0, t.image.data(), t.image.size()),
            PORTA_OK);
  EXPECT_EQ(porta_stream_synchronize(stream()), PORTA_OK);
  t.tensor.buffer = t.buffer.get();
  t.tensor.offset = start;
  t.tensor.dtype = dtype;
  t.tensor.rank = static_cast<uint32_t>(shape.size());
  for (size_t d = 0; d < shape.size(); ++d) {
    t.tensor.shape[d] = shape[d];
    t.tensor.strides[d] = t.strides[d];
  }
  return t;
}

testing::AssertionResult OpsTest::QuantUnchanged(const QuantTensor& t) {
  std::vector<uint8_t> now(t.image.size());
  testing::AssertionResult read = ReadBuffer(stream(), t.buffer.get(), 0, now.size(), now.data());
  if (!read) return read;
  for (size_t i = 0; i < now.size(); ++i) {
    if (now[i] != t.image[i]) {
      return testing::AssertionFailure() << "byte " << i << " of " << QuantText(t) << " changed";
    }
  }
  return testing::AssertionSuccess();
}

namespace {

class OpsQuantTest : public OpsTest {
 protected:
  struct Case {
    porta_dtype_t b = PORTA_DTYPE_Q4_1;
    porta_dtype_t a = PORTA_DTYPE_F32;
    porta_dtype_t out = PORTA_DTYPE_F32;
    int64_t m = 1, n = 1, k = 32;
    Shape a_batch, b_batch;
    // b's rows this many elements (a multiple of 32) apart beyond K.
    int64_t row_pad = 0;
    // b's batch dimension 0 broadcast by stride 0 (needs b_batch).
    bool b_stride0 = false;
    // b's first block this many bytes past a guard-aligned start.
    uint64_t b_offset = 0;
    bool bias = false;
    float alpha = 1.0f;
    float beta = 0.0f;
    porta_unary_op_t activation = PORTA_UNARY_NONE;
  };

  void CheckMatmul(const Case& c) {
    Shape a_shape = c.a_batch, b_shape = c.b_batch;
    a_shape.insert(a_shape.end(), {c.m, c.k});
    b_shape.insert(b_shape.end(), {c.n, c.k});
    const Shape batch = ref::BroadcastShapes(c.a_batch, c.b_batch);
    Shape out_shape = batch;
    out_shape.insert(out_shape.end(), {c.m, c.n});
    Shape b_strides(b_shape.size());
    int64_t stride = 1;
    for (int d = static_cast<int>(b_shape.size()) - 1; d >= 0; --d) {
      b_strides[static_cast<size_t>(d)] = stride;
      stride *= b_shape[static_cast<size_t>(d)] +
                (d == static_cast<int>(b_shape.size()) - 1 ? c.row_pad : 0);
    }
    if (c.b_stride0) b_strides[0] = 0;
    const QuantTensor b = MakeQuant(c.b, b_shape, b_strides, c.b_offset);
    DeviceTensor a = Random(Contiguous(c.a, a_shape));
    DeviceTensor bias = c.bias ? Random(Contiguous(c.out, {c.n})) : DeviceTensor();
    DeviceTensor out = c.beta != 0.0f ? Random(Contiguous(c.out, out_shape))
                                      : Output(Contiguous(c.out, out_shape));
    const std::vector<double> c_values = out.Values();
    porta_matmul_desc_t desc = PORTA_MATMUL_DESC_INIT;
    desc.transpose_b = 1;
    desc.alpha = c.alpha;
    desc.beta = c.beta;
    desc.activation = c.activation;
    const std::string what = "matmul M " + std::to_string(c.m) + " N " + std::to_string(c.n) +
                             " K " + std::to_string(c.k) + " a " + DtypeName(c.a) +
                             ShapeText(a_shape) + " b " + QuantText(b) + (c.bias ? " bias" : "") +
                             " alpha " + std::to_string(c.alpha) + " beta " +
                             std::to_string(c.beta) + " act " + std::to_string(c.activation);
    ASSERT_PORTA_OK(porta_ops_matmul(ctx(), stream(), &desc, a.get(), &b.tensor,
                                     c.bias ? bias.get() : nullptr, out.get()))
        << what;
    const std::vector<double> a_values = a.Values();
    std::vector<double> bias_values;
    if (c.bias) bias_values = bias.Values();
    ref::MatmulArgs args;
    args.a = &a_values;
    args.a_shape = a_shape;
    args.b = &b.values;
    args.b_shape = b_shape;
    args.transpose_b = true;
    args.alpha = c.alpha;
    args.beta = c.beta;
    args.c = c.beta != 0.0f ? &c_values : nullptr;
    args.bias = c.bias ? &bias_values : nullptr;
    args.activation = c.activation;
    const std::vector<double> expected = ref::Matmul(args, out_shape);
    const auto k = static_cast<double>(c.k);
    if (c.bias) {
      EXPECT_TRUE(Verify(what, OpClass::kQuantMatmul, out, expected, k, {&a, &bias}));
    } else {
      EXPECT_TRUE(Verify(what, OpClass::kQuantMatmul, out, expected, k, {&a}));
    }
    EXPECT_TRUE(QuantUnchanged(b)) << what;
  }

  // Shapes: M across the matrix-vector and GEMM paths, N no multiple of any tile, every K.
  void RunShapes(porta_dtype_t type) {
    for (int64_t m : {1, 3, 17, 64, 100}) {
      for (int64_t n : {1, 67}) {
        for (int64_t k : {32, 96, 576}) {
          Case c;
          c.b = type;
          c.m = m;
          c.n = n;
          c.k = k;
          CheckMatmul(c);
        }
      }
    }
    Case wide;
    wide.b = type;
    wide.n = 1536;
    wide.k = 576;
    CheckMatmul(wide);
    // b starting 2 bytes past a 4-byte boundary: quants that kernels read as 32-bit words then
    // straddle two of them.
    for (int64_t m : {1, 3}) {
      Case shifted;
      shifted.b = type;
      shifted.m = m;
      shifted.n = 67;
      shifted.k = 96;
      shifted.b_offset = 2;
      CheckMatmul(shifted);
    }
  }

  // Batches broadcast by size and by stride 0, padded rows.
  void RunBatches(porta_dtype_t type) {
    for (int64_t m : {1, 3, 70}) {
      Case c;
      c.b = type;
      c.m = m;
      c.n = 37;
      c.k = 96;
      c.a_batch = {2, 3};
      c.b_batch = {3};
      CheckMatmul(c);
      c.b_batch = {2, 1};
      c.row_pad = 64;
      CheckMatmul(c);
      c.a_batch = {4};
      c.b_batch = {4};
      c.b_stride0 = true;
      c.row_pad = 0;
      CheckMatmul(c);
    }
  }

  // f16 and bf16 a, out in a's type and in f32; bias, every activation, alpha, beta.
  void RunEpilogues(porta_dtype_t type) {
    for (porta_dtype_t a : {PORTA_DTYPE_F32, PORTA_DTYPE_F16, PORTA_DTYPE_BF16}) {
      for (porta_dtype_t out : {a, PORTA_DTYPE_F32}) {
        for (int64_t m : {1, 17, 65}) {
          int variant = 0;
          for (porta_unary_op_t act : {PORTA_UNARY_NONE, PORTA_UNARY_RELU, PORTA_UNARY_GELU_ERF,
                                       PORTA_UNARY_GELU_TANH, PORTA_UNARY_SILU}) {
            Case c;
            c.b = type;
            c.a = a;
            c.out = out;
            c.m = m;
            c.n = 45;
            c.k = 96;
            c.activation = act;
            c.bias = variant % 2 == 0;
            c.alpha = variant == 1 ? 0.5f : 1.0f;
            c.beta = variant == 2 ? 0.75f : 0.0f;
            CheckMatmul(c);
            ++variant;
          }
          if (a == out) break;
        }
      }
    }
  }

  void CheckEmbedding(porta_dtype_t type, porta_dtype_t out_type, int64_t vocab, int64_t dim,
                      const Shape& idx_shape) {
    const QuantTensor table = MakeQuant(type, {vocab, dim}, {dim + 32, 1}, 64);
    const auto count = static_cast<size_t>(ElementCount(idx_shape));
    std::vector<double> idx = RandomIntegers(count, NextSeed(), 0, vocab - 1);
    // Indices outside the table give rows of zeros.
    idx[0] = -1;
    if (count > 2) idx[2] = static_cast<double>(vocab);
    if (count > 3) idx[3] = static_cast<double>(vocab + 1000);
    DeviceTensor indices = Upload(Contiguous(PORTA_DTYPE_I32, idx_shape), idx);
    Shape out_shape = idx_shape;
    out_shape.push_back(dim);
    DeviceTensor out = Output(Contiguous(out_type, out_shape));
    const std::string what = "embedding from " + QuantText(table) + " by indices " +
                             ShapeText(idx_shape) + " into " + DtypeName(out_type);
    ASSERT_PORTA_OK(porta_ops_embedding(ctx(), stream(), &table.tensor, indices.get(), out.get()))
        << what;
    EXPECT_TRUE(Verify(what, OpClass::kElementwise, out,
                       ref::Embedding(table.values, vocab, dim, indices.Values()), 1, {&indices}));
    EXPECT_TRUE(QuantUnchanged(table)) << what;
  }

  void CheckCast(porta_dtype_t type, porta_dtype_t out_type, const Shape& shape, bool padded) {
    Shape strides = ContiguousStrides(shape);
    if (padded && shape.size() >= 2) {
      // Rows 64 elements apart beyond the last dimension, the outer dimensions on top.
      int64_t stride = 1;
      for (int d = static_cast<int>(shape.size()) - 1; d >= 0; --d) {
        strides[static_cast<size_t>(d)] = stride;
        stride *=
            shape[static_cast<size_t>(d)] + (d == static_cast<int>(shape.size()) - 1 ? 64 : 0);
      }
    }
    const QuantTensor x = MakeQuant(type, shape, strides, 2);
    DeviceTensor out = Output(Contiguous(out_type, shape));
    const std::string what = "cast of " + QuantText(x) + " to " + DtypeName(out_type);
    ASSERT_PORTA_OK(porta_ops_cast(ctx(), stream(), &x.tensor, out.get())) << what;
    EXPECT_TRUE(Verify(what, OpClass::kElementwise, out, x.values));
    EXPECT_TRUE(QuantUnchanged(x)) << what;
  }

  void RunAll(porta_dtype_t type) {
    PORTA_OPS_REQUIRE(ctx(), PORTA_OP_MATMUL, PORTA_DTYPE_F32, type, PORTA_DTYPE_F32);
    RunShapes(type);
    RunBatches(type);
    const bool f16 =
        QuerySupport(ctx(), PORTA_OP_MATMUL, {PORTA_DTYPE_F16, type, PORTA_DTYPE_F16}).status ==
        PORTA_OK;
    if (f16) RunEpilogues(type);
    for (porta_dtype_t out : {PORTA_DTYPE_F32, PORTA_DTYPE_F16, PORTA_DTYPE_BF16}) {
      if (out != PORTA_DTYPE_F32 && !f16) continue;
      CheckEmbedding(type, out, 50, 64, {2, 3});
      CheckCast(type, out, {3, 5, 64}, out == PORTA_DTYPE_F32);
    }
    CheckEmbedding(type, PORTA_DTYPE_F32, 1000, 576, {7});
    CheckCast(type, PORTA_DTYPE_F32, {96}, false);
    CheckCast(type, PORTA_DTYPE_F32, {2, 1, 3, 2, 2, 32}, true);
  }
};

TEST_P(OpsQuantTest, Q4_0) {
  RunAll(PORTA_DTYPE_Q4_0);
}

// desc.quantize_a: the device may round a to Q8 blocks (scale max|a| / 127 per 32 values along K,
// values rounded to nearest) before the products. Each result must then lie within the bound
// that rounding allows around the exact product: half a step of each block's scale times the
// weights' magnitudes, plus f32 accumulation. A device that ignores the flag meets it too. A row
// of a with an infinity must give non-finite results, as without the flag.
TEST_P(OpsQuantTest, QuantizedActivations) {
  for (porta_dtype_t type : {PORTA_DTYPE_Q4_0, PORTA_DTYPE_Q4_1, PORTA_DTYPE_Q8_0}) {
    for (int64_t m : {1, 3, 17}) {
      for (int64_t n : {1, 67, 300}) {
        for (int64_t k : {32, 96, 576}) {
          const QuantTensor b = MakeQuant(type, {n, k}, {}, 0);
          // a spans several magnitudes, so the blocks' scales differ.
          std::vector<double> a_values(static_cast<size_t>(m * k));
          Rng rng(NextSeed());
          for (double& v : a_values)
            v = rng.Uniform(-1.0, 1.0) * std::ldexp(1.0, static_cast<int>(rng.Int(-4, 3)));
          const bool with_inf = m > 1 && n == 67;
          if (with_inf) a_values[static_cast<size_t>(k + k / 2)] = HUGE_VAL;  // row 1
          DeviceTensor a = Upload(Contiguous(PORTA_DTYPE_F32, {m, k}), a_values);
          a_values = a.Values();  // as stored (f32)
          DeviceTensor out = Output(Contiguous(PORTA_DTYPE_F32, {m, n}));
          porta_matmul_desc_t desc = PORTA_MATMUL_DESC_INIT;
          desc.transpose_b = 1;
          desc.quantize_a = 1;
          const std::string what = std::string("quantize_a matmul ") + QuantText(b) + " M " +
                                   std::to_string(m) + (with_inf ? " (row 1 has an inf)" : "");
          ASSERT_PORTA_OK(
              porta_ops_matmul(ctx(), stream(), &desc, a.get(), &b.tensor, nullptr, out.get()))
              << what;
          std::vector<double> got;
          ASSERT_TRUE(Read(out, &got)) << what;
          EXPECT_TRUE(QuantUnchanged(b)) << what;
          int reported = 0;
          for (int64_t i = 0; i < m; ++i) {
            for (int64_t j = 0; j < n; ++j) {
              const double value = got[static_cast<size_t>(i * n + j)];
              if (with_inf && i == 1) {
                EXPECT_FALSE(std::isfinite(value)) << what << ": out[1][" << j << "] = " << value;
                continue;
              }
              double exact = 0.0, bound = 0.0, magnitude = 0.0;
              for (int64_t k0 = 0; k0 < k; k0 += kBlock) {
                double amax = 0.0, weights = 0.0;
                for (int64_t t = k0; t < k0 + kBlock; ++t) {
                  const double x = a_values[static_cast<size_t>(i * k + t)];
                  const double w = b.values[static_cast<size_t>(j * k + t)];
                  amax = std::max(amax, std::fabs(x));
                  weights += std::fabs(w);
                  exact += x * w;
                  magnitude += std::fabs(x * w);
                }
                // Half a step, with slack for the scale and its inverse computed in f32.
                bound += (0.5 * amax / 127.0) * (1.0 + 1e-5) * weights;
              }
              bound += (static_cast<double>(k / kBlock) + 16.0) * 0x1p-23 * magnitude + 1e-30;
              if (!(std::fabs(value - exact) <= bound) && reported++ < 5) {
                ADD_FAILURE() << what << ": out[" << i << "][" << j << "] = " << value << ", exact "
                              << exact << ", allowed error " << bound;
              }
            }
          }
          EXPECT_EQ(reported, 0) << what;
        }
      }
    }
  }
}

TEST_P(OpsQuantTest, Q4_1) {
  RunAll(PORTA_DTYPE_Q4_1);
}

TEST_P(OpsQuantTest, Q8_0) {
  RunAll(PORTA_DTYPE_Q8_0);
}

// The dtype helpers of porta_ops.h.
TEST_P(OpsQuantTest, DtypeHelpers) {
  EXPECT_EQ(porta_dtype_size(PORTA_DTYPE_Q4_0), 18u);
  EXPECT_EQ(porta_dtype_size(PORTA_DTYPE_Q4_1), 20u);
  EXPECT_EQ(porta_dtype_size(PORTA_DTYPE_Q8_0), 34u);
  EXPECT_EQ(porta_dtype_block_elements(PORTA_DTYPE_Q4_1), 32u);
  EXPECT_EQ(porta_dtype_block_elements(PORTA_DTYPE_F16), 1u);
  EXPECT_EQ(porta_dtype_block_elements(99), 0u);
  EXPECT_STREQ(porta_dtype_name(PORTA_DTYPE_Q4_0), "q4_0");
  EXPECT_STREQ(porta_dtype_name(PORTA_DTYPE_Q4_1), "q4_1");
  EXPECT_STREQ(porta_dtype_name(PORTA_DTYPE_Q8_0), "q8_0");
  // A slice moves the offset by whole blocks; a start inside a block is refused.
  porta_tensor_t t = {};
  t.dtype = PORTA_DTYPE_Q8_0;
  t.rank = 2;
  t.shape[0] = 4;
  t.shape[1] = 64;
  t.strides[0] = 64;
  t.strides[1] = 1;
  porta_tensor_t view = {};
  ASSERT_EQ(porta_tensor_slice(&t, 0, 1, 3, 1, &view), PORTA_OK);
  EXPECT_EQ(view.offset, 2u * 34u);
  ASSERT_EQ(porta_tensor_slice(&t, 1, 32, 64, 1, &view), PORTA_OK);
  EXPECT_EQ(view.offset, 34u);
  EXPECT_EQ(porta_tensor_slice(&t, 1, 1, 64, 1, &view), PORTA_ERROR_INVALID_ARGUMENT);
}

// Every violation is refused with a message naming what is wrong, and nothing is written.
TEST_P(OpsQuantTest, Errors) {
  const QuantTensor w = MakeQuant(PORTA_DTYPE_Q4_1, {8, 64});
  DeviceTensor a = Random(Contiguous(PORTA_DTYPE_F32, {2, 64}));
  DeviceTensor out = Output(Contiguous(PORTA_DTYPE_F32, {2, 8}));
  porta_matmul_desc_t desc = PORTA_MATMUL_DESC_INIT;
  desc.transpose_b = 1;
  auto expect = [&](porta_status_t status, porta_status_t want, const char* fragment,
                    const std::string& what) {
    EXPECT_EQ(status, want) << what << ": " << porta_last_error_message();
    if (status != PORTA_OK) {
      EXPECT_NE(std::string(porta_last_error_message()).find(fragment), std::string::npos)
          << what << ": the message '" << porta_last_error_message() << "' lacks '" << fragment
          << "'";
    }
  };
  // b without the transpose flag.
  {
    porta_matmul_desc_t plain = PORTA_MATMUL_DESC_INIT;
    expect(porta_ops_matmul(ctx(), stream(), &plain, a.get(), &w.tensor, nullptr, out.get()),
           PORTA_ERROR_INVALID_ARGUMENT, "transpose_b", "quantized b without transpose_b");
  }
  // A quantized a.
  {
    const QuantTensor qa = MakeQuant(PORTA_DTYPE_Q8_0, {2, 64});
    expect(porta_ops_matmul(ctx(), stream(), &desc, &qa.tensor, &w.tensor, nullptr, out.get()),
           PORTA_ERROR_INVALID_ARGUMENT, "matmul does not take a block-quantized a", "quantized a");
  }
  // K not a multiple of 32.
  {
    porta_tensor_t bad = w.tensor;
    bad.shape[1] = 48;
    DeviceTensor a48 = Random(Contiguous(PORTA_DTYPE_F32, {2, 48}));
    expect(porta_ops_matmul(ctx(), stream(), &desc, a48.get(), &bad, nullptr, out.get()),
           PORTA_ERROR_INVALID_ARGUMENT, "multiple of 32", "K = 48");
  }
  // Last stride not 1.
  {
    porta_tensor_t bad = w.tensor;
    bad.shape[0] = 4;
    bad.shape[1] = 32;
    bad.strides[0] = 32;
    bad.strides[1] = 2;
    DeviceTensor a32 = Random(Contiguous(PORTA_DTYPE_F32, {2, 32}));
    DeviceTensor out4 = Output(Contiguous(PORTA_DTYPE_F32, {2, 4}));
    expect(porta_ops_matmul(ctx(), stream(), &desc, a32.get(), &bad, nullptr, out4.get()),
           PORTA_ERROR_INVALID_ARGUMENT, "stride 1", "last stride 2");
    EXPECT_TRUE(Unchanged(out4));
  }
  // A row stride that is no whole number of blocks.
  {
    porta_tensor_t bad = w.tensor;
    bad.shape[0] = 4;
    bad.strides[0] = 80;
    expect(porta_ops_matmul(ctx(), stream(), &desc, a.get(), &bad, nullptr, out.get()),
           PORTA_ERROR_INVALID_ARGUMENT, "multiples of 32", "row stride 80");
  }
  // An odd byte offset.
  {
    porta_tensor_t bad = w.tensor;
    bad.shape[0] = 4;
    bad.offset += 1;
    expect(porta_ops_matmul(ctx(), stream(), &desc, a.get(), &bad, nullptr, out.get()),
           PORTA_ERROR_INVALID_ARGUMENT, "even byte offset", "odd offset");
  }
  // Past the end of the buffer.
  {
    porta_tensor_t bad = w.tensor;
    bad.shape[0] = 40;
    DeviceTensor out40 = Output(Contiguous(PORTA_DTYPE_F32, {2, 40}));
    expect(porta_ops_matmul(ctx(), stream(), &desc, a.get(), &bad, nullptr, out40.get()),
           PORTA_ERROR_OUT_OF_RANGE, "bytes", "rows past the buffer");
  }
  // A quantized out (cast into a block type, and a matmul into one).
  {
    const QuantTensor qo = MakeQuant(PORTA_DTYPE_Q8_0, {2, 64});
    DeviceTensor x = Random(Contiguous(PORTA_DTYPE_F32, {2, 64}));
    expect(porta_ops_cast(ctx(), stream(), x.get(), &qo.tensor), PORTA_ERROR_INVALID_ARGUMENT,
           "cast does not take a block-quantized out", "cast into q8_0");
    const QuantTensor w32 = MakeQuant(PORTA_DTYPE_Q4_1, {32, 64});
    const QuantTensor q8 = MakeQuant(PORTA_DTYPE_Q8_0, {2, 32});
    expect(porta_ops_matmul(ctx(), stream(), &desc, a.get(), &w32.tensor, nullptr, &q8.tensor),
           PORTA_ERROR_INVALID_ARGUMENT, "matmul does not take a block-quantized out",
           "matmul into q8_0");
    EXPECT_TRUE(QuantUnchanged(q8));
    EXPECT_TRUE(QuantUnchanged(qo));
  }
  // A cast from a block type into i32, an embedding into a block type.
  {
    DeviceTensor i = Output(Contiguous(PORTA_DTYPE_I32, {8, 64}));
    expect(porta_ops_cast(ctx(), stream(), &w.tensor, i.get()), PORTA_ERROR_INVALID_ARGUMENT,
           "must be f32, f16 or bf16", "cast q4_1 to i32");
    DeviceTensor idx = Upload(Contiguous(PORTA_DTYPE_I32, {2}), {1, 2});
    DeviceTensor eo = Output(Contiguous(PORTA_DTYPE_I32, {2, 64}));
    expect(porta_ops_embedding(ctx(), stream(), &w.tensor, idx.get(), eo.get()),
           PORTA_ERROR_INVALID_ARGUMENT, "must be f32, f16 or bf16", "embedding into i32");
  }
  // Operations that take no block type: the op and the dtype are named.
  {
    DeviceTensor x = Output(Contiguous(PORTA_DTYPE_F32, {8, 64}));
    expect(porta_ops_unary(ctx(), stream(), PORTA_UNARY_EXP, &w.tensor, x.get()),
           PORTA_ERROR_INVALID_ARGUMENT, "unary does not take a block-quantized x (q4_1)",
           "unary on q4_1");
    expect(porta_ops_copy(ctx(), stream(), &w.tensor, &w.tensor), PORTA_ERROR_INVALID_ARGUMENT,
           "copy does not take", "copy of q4_1");
    EXPECT_TRUE(Unchanged(x));
    const Support unary = QuerySupport(ctx(), PORTA_OP_UNARY, {PORTA_DTYPE_Q4_1, PORTA_DTYPE_Q4_1});
    EXPECT_EQ(unary.status, PORTA_ERROR_UNSUPPORTED);
    EXPECT_NE(unary.message.find("unary does not take"), std::string::npos) << unary.message;
    const Support matmul_a =
        QuerySupport(ctx(), PORTA_OP_MATMUL, {PORTA_DTYPE_Q4_0, PORTA_DTYPE_Q4_0, PORTA_DTYPE_F32});
    EXPECT_EQ(matmul_a.status, PORTA_ERROR_UNSUPPORTED) << matmul_a.message;
  }
  EXPECT_TRUE(Unchanged(out));
  EXPECT_TRUE(Unchanged(a));
  EXPECT_TRUE(QuantUnchanged(w));
}

PORTA_CTS_INSTANTIATE(OpsQuantTest);

}  // namespace
}  // namespace porta_cts
