// Bad input to the operator library, one test per class of mistake: wrong dtype combinations,
// mismatched and non-broadcastable shapes, tensors reaching outside their buffers or living on
// another device, rank above 8, shape x stride overflow, negative shapes and strides, misaligned
// offsets, partial overlap of out and an input, NULL pointers, a NULL or destroyed context, bad
// axes, i8, an operation the device cannot run, bad descriptors and bad tuning rows. Every
// rejected call must return the documented status with a message naming the offending argument,
// and must enqueue nothing: the output is unchanged after the stream drains.
#include <cstdint>
#include <string>
#include <vector>

#include "conformance/ops/ops_cts.h"

namespace porta_cts {
namespace {

// Ways a message can name tensor |name| as a word ("b.shape", "b[1]", "'b'", " b "), so a
// one-letter name does not match any message that merely contains the letter.
std::string Names(const std::string& name) {
  return name + ".|" + name + "[|" + name + ":|'" + name + "'|\"" + name + "\"| " + name + " | " +
         name + ",|(" + name + ")|" + name + " has|" + name + " is|" + name + "->";
}

// Alternatives joined with '|'.
std::string Any(std::initializer_list<std::string> alternatives) {
  std::string out;
  for (const std::string& a : alternatives) out += (out.empty() ? "" : "|") + a;
  return out;
}

// Expects |call| to fail with |status| and a message containing one of |needles|.
#define EXPECT_OPS_ERROR(status, needles, call) \
  PORTA_CTS_EXPECT_ERROR_IMPL(status, (needles).c_str(), call)

// A dtype combination the op does not define (docs/ops.md, Errors).
#define EXPECT_DTYPE_ERROR(needles, call) \
  EXPECT_OPS_ERROR(PORTA_ERROR_INVALID_ARGUMENT, needles, call)

#define EXPECT_SHAPE_ERROR(needles, call) \
  EXPECT_OPS_ERROR(PORTA_ERROR_INVALID_ARGUMENT, needles, call)

#define EXPECT_RANGE_ERROR(needles, call) EXPECT_OPS_ERROR(PORTA_ERROR_OUT_OF_RANGE, needles, call)

constexpr porta_dtype_t kF32 = PORTA_DTYPE_F32;
constexpr porta_dtype_t kF16 = PORTA_DTYPE_F16;
constexpr porta_dtype_t kBF16 = PORTA_DTYPE_BF16;
constexpr porta_dtype_t kI32 = PORTA_DTYPE_I32;
constexpr porta_dtype_t kI8 = PORTA_DTYPE_I8;

class OpsErrorsTest : public OpsTest {
 protected:
  // Valid operands every test starts from: x and out [4, 6]; a [4, 6] @ b [6, 5] -> mm [4, 5]
  // with bias [5]. Outputs hold random values, so anything a rejected call enqueued shows.
  void SetUp() override {
    OpsTest::SetUp();
    if (HasFatalFailure() || IsSkipped()) return;
    x_ = Random(Contiguous(kF32, {4, 6}));
    out_ = Random(Contiguous(kF32, {4, 6}));
    b_ = Random(Contiguous(kF32, {6, 5}));
    bias_ = Random(Contiguous(kF32, {5}));
    mm_ = Random(Contiguous(kF32, {4, 5}));
    rope_desc_.seq_axis = 0;
  }

  // A tensor of |dtype| and |shape| with random contents.
  DeviceTensor T(porta_dtype_t dtype, Shape shape) { return Random(Contiguous(dtype, shape)); }

  DeviceTensor x_, out_, b_, bias_, mm_;
  const porta_matmul_desc_t mm_desc_ = PORTA_MATMUL_DESC_INIT;
  const porta_softmax_desc_t sm_desc_ = PORTA_SOFTMAX_DESC_INIT;
  // Sequence axis 0: x_ is [S, D].
  porta_rope_desc_t rope_desc_ = PORTA_ROPE_DESC_INIT;
  const porta_attention_desc_t attn_desc_ = PORTA_ATTENTION_DESC_INIT;
  const porta_conv2d_desc_t conv_desc_ = PORTA_CONV2D_DESC_INIT;
  const porta_pool2d_desc_t pool_desc_ = PORTA_POOL2D_DESC_INIT;
};

TEST_P(OpsErrorsTest, WrongDtypeCombinations) {
  const porta_stream_t s = stream();
  const porta_ops_context_t c = ctx();
  DeviceTensor out16 = T(kF16, {4, 6});
  DeviceTensor x16 = T(kF16, {4, 6});
  DeviceTensor xi = T(kI32, {4, 6});
  DeviceTensor outi = T(kI32, {4, 6});
  EXPECT_DTYPE_ERROR(Any({"out", "f16"}),
                     porta_ops_unary(c, s, PORTA_UNARY_EXP, x_.get(), out16.get()));
  EXPECT_DTYPE_ERROR(Any({Names("x"), "i32"}),
                     porta_ops_unary(c, s, PORTA_UNARY_NEG, xi.get(), outi.get()));
  EXPECT_DTYPE_ERROR(Any({Names("b"), "f16"}),
                     porta_ops_binary(c, s, PORTA_BINARY_ADD, x_.get(), x16.get(), out_.get()));
  EXPECT_DTYPE_ERROR(Any({"out", "f32"}), porta_ops_binary_scalar(c, s, PORTA_BINARY_MUL, x16.get(),
                                                                  2.0, 0, out_.get()));
  // Matmul: out is f32 or a's type, and bias has out's type.
  DeviceTensor a16 = T(kF16, {4, 6}), b16 = T(kF16, {6, 5}), mm_bf16 = T(kBF16, {4, 5});
  DeviceTensor bias16 = T(kF16, {5}), ai = T(kI32, {4, 6});
  EXPECT_DTYPE_ERROR(Any({"out", "bf16"}), porta_ops_matmul(c, s, &mm_desc_, a16.get(), b16.get(),
                                                            nullptr, mm_bf16.get()));
  EXPECT_DTYPE_ERROR(Any({"bias"}), porta_ops_matmul(c, s, &mm_desc_, x_.get(), b_.get(),
                                                     bias16.get(), mm_.get()));
  EXPECT_DTYPE_ERROR(Any({Names("a"), "i32"}),
                     porta_ops_matmul(c, s, &mm_desc_, ai.get(), b_.get(), nullptr, mm_.get()));
  // Reduce: out is x's type or f32. Argmax: out is i32.
  DeviceTensor red_bf16 = T(kBF16, {4});
  const int32_t axis = 1;
  EXPECT_DTYPE_ERROR(Any({"out", "bf16"}), porta_ops_reduce(c, s, PORTA_REDUCE_SUM, x16.get(),
                                                            &axis, 1, 0, red_bf16.get()));
  DeviceTensor arg_f32 = T(kF32, {4});
  EXPECT_DTYPE_ERROR(Any({"out", "i32", "f32"}),
                     porta_ops_argmax(c, s, x_.get(), 1, 0, arg_f32.get()));
  // Copy and concat: one type.
  EXPECT_DTYPE_ERROR(Any({"dst", "f16"}), porta_ops_copy(c, s, x_.get(), out16.get()));
  const porta_tensor_t mixed[] = {x_.tensor(), x16.tensor()};
  DeviceTensor cat = T(kF32, {8, 6});
  EXPECT_DTYPE_ERROR(Any({"inputs", "f16"}), porta_ops_concat(c, s, mixed, 2, 0, cat.get()));
  // Softmax and norms: x and out of one type.
  EXPECT_DTYPE_ERROR(Any({"out", "f16"}),
                     porta_ops_softmax(c, s, &sm_desc_, x_.get(), nullptr, out16.get()));
  DeviceTensor out_bf16 = T(kBF16, {4, 6});
  EXPECT_DTYPE_ERROR(Any({"out", "bf16"}),
                     porta_ops_layernorm(c, s, x_.get(), nullptr, nullptr, 1e-5f, out_bf16.get()));
  EXPECT_DTYPE_ERROR(Any({"out", "bf16"}),
                     porta_ops_rmsnorm(c, s, x_.get(), nullptr, nullptr, 1e-5f, out_bf16.get()));
  // Embedding: out has the table's type; indices are i32. Rope: positions are i32.
  DeviceTensor table = T(kF32, {10, 6}), indices = Upload(Contiguous(kI32, {4}), {0, 1, 2, 3});
  DeviceTensor findices = T(kF32, {4}), emb16 = T(kF16, {4, 6});
  EXPECT_DTYPE_ERROR(Any({"out", "f16"}),
                     porta_ops_embedding(c, s, table.get(), indices.get(), emb16.get()));
  EXPECT_DTYPE_ERROR(Any({"indices"}),
                     porta_ops_embedding(c, s, table.get(), findices.get(), out_.get()));
  DeviceTensor fpositions = T(kF32, {4});
  EXPECT_DTYPE_ERROR(Any({"positions"}),
                     porta_ops_rope(c, s, &rope_desc_, x_.get(), fpositions.get(), out_.get()));
  // Attention, conv2d and pool2d take float tensors only.
  DeviceTensor q = T(kI32, {1, 1, 2, 4}), k = T(kF32, {1, 1, 3, 4}), v = T(kF32, {1, 1, 3, 4});
  DeviceTensor attn_out = T(kF32, {1, 1, 2, 4});
  EXPECT_DTYPE_ERROR(
      Any({Names("q"), "i32"}),
      porta_ops_attention(c, s, &attn_desc_, q.get(), k.get(), v.get(), nullptr, attn_out.get()));
  DeviceTensor img = T(kI32, {1, 1, 4, 4}), w = T(kF32, {1, 1, 1, 1});
  DeviceTensor img_out = T(kF32, {1, 1, 4, 4}), pooled16 = T(kF16, {1, 1, 2, 2});
  EXPECT_DTYPE_ERROR(Any({Names("x"), "i32"}), porta_ops_conv2d(c, s, &conv_desc_, img.get(),
                                                                w.get(), nullptr, img_out.get()));
  DeviceTensor fimg = T(kF32, {1, 1, 4, 4});
  EXPECT_DTYPE_ERROR(Any({"out", "f16"}),
                     porta_ops_pool2d(c, s, &pool_desc_, fimg.get(), pooled16.get()));
  // porta_ops_supported calls undefined combinations unsupported.
  const porta_dtype_t unary_mixed[] = {kF32, kF16};
  EXPECT_PORTA_ERROR(PORTA_ERROR_UNSUPPORTED, "f16|f32|dtype|type|combination",
                     porta_ops_supported(c, PORTA_OP_UNARY, unary_mixed, 2));
  const porta_dtype_t argmax_f32[] = {kF32, kF32};
  EXPECT_PORTA_ERROR(PORTA_ERROR_UNSUPPORTED, "i32|f32|dtype|type|combination",
                     porta_ops_supported(c, PORTA_OP_ARGMAX, argmax_f32, 2));
  for (const DeviceTensor* t : {&out_, &out16, &outi, &mm_, &mm_bf16, &red_bf16, &arg_f32, &cat,
                                &out_bf16, &emb16, &attn_out, &img_out, &pooled16}) {
    EXPECT_TRUE(Unchanged(*t));
  }
}

TEST_P(OpsErrorsTest, MismatchedAndNonBroadcastableShapes) {
  const porta_stream_t s = stream();
  const porta_ops_context_t c = ctx();
  // The message names the tensor (or the dimension) at fault, not just "shape".
  const std::string shape = "dimension";
  DeviceTensor out45 = T(kF32, {4, 5}), b5 = T(kF32, {5}), out16 = T(kF32, {1, 6});
  EXPECT_SHAPE_ERROR(Any({"out", shape}),
                     porta_ops_unary(c, s, PORTA_UNARY_EXP, x_.get(), out45.get()));
  EXPECT_SHAPE_ERROR(Any({Names("a"), Names("b")}),
                     porta_ops_binary(c, s, PORTA_BINARY_ADD, x_.get(), b5.get(), out_.get()));
  // As in NumPy, the operands broadcast to out's shape (out may be larger than both), so an
  // out smaller than an operand is the error, named after that operand.
  DeviceTensor row = T(kF32, {6});
  EXPECT_SHAPE_ERROR(Any({Names("a"), shape}),
                     porta_ops_binary(c, s, PORTA_BINARY_ADD, x_.get(), row.get(), out16.get()));
  EXPECT_SHAPE_ERROR(Any({"out", shape}), porta_ops_cast(c, s, x_.get(), out45.get()));
  EXPECT_SHAPE_ERROR(Any({"dst", shape}), porta_ops_copy(c, s, x_.get(), out45.get()));
  // Matmul: inner dimensions, output shape, batch broadcast, bias length.
  DeviceTensor b56 = T(kF32, {5, 6}), mm46 = T(kF32, {4, 6});
  EXPECT_SHAPE_ERROR(Any({Names("a"), Names("b"), "inner", shape}),
                     porta_ops_matmul(c, s, &mm_desc_, x_.get(), b56.get(), nullptr, mm_.get()));
  EXPECT_SHAPE_ERROR(Any({"out", shape}),
                     porta_ops_matmul(c, s, &mm_desc_, x_.get(), b_.get(), nullptr, mm46.get()));
  DeviceTensor a3 = T(kF32, {2, 4, 6}), b3 = T(kF32, {3, 6, 5}), mm3 = T(kF32, {3, 4, 5});
  EXPECT_SHAPE_ERROR(Any({"batch", Names("a"), Names("b"), shape}),
                     porta_ops_matmul(c, s, &mm_desc_, a3.get(), b3.get(), nullptr, mm3.get()));
  DeviceTensor bias6 = T(kF32, {6});
  EXPECT_SHAPE_ERROR(Any({"bias", shape}),
                     porta_ops_matmul(c, s, &mm_desc_, x_.get(), b_.get(), bias6.get(), mm_.get()));
  // Concat: other dimensions must agree, out's axis must be the sum, ranks must match.
  DeviceTensor x45 = T(kF32, {4, 5}), cat = T(kF32, {8, 6}), cat_bad = T(kF32, {9, 6});
  const porta_tensor_t unequal[] = {x_.tensor(), x45.tensor()};
  EXPECT_SHAPE_ERROR(Any({"inputs", shape}), porta_ops_concat(c, s, unequal, 2, 0, cat.get()));
  const porta_tensor_t pair[] = {x_.tensor(), x_.tensor()};
  EXPECT_SHAPE_ERROR(Any({"out", shape}), porta_ops_concat(c, s, pair, 2, 0, cat_bad.get()));
  const porta_tensor_t ranks[] = {x_.tensor(), row.tensor()};
  EXPECT_SHAPE_ERROR(Any({"inputs", "rank", shape}),
                     porta_ops_concat(c, s, ranks, 2, 0, cat.get()));
  // Reduce and argmax: out's shape must follow keep_dims.
  DeviceTensor r4 = T(kF32, {4}), r41 = T(kF32, {4, 1}), ai4 = T(kI32, {4, 1});
  const int32_t axis = 1;
  EXPECT_SHAPE_ERROR(Any({"out", shape}),
                     porta_ops_reduce(c, s, PORTA_REDUCE_SUM, x_.get(), &axis, 1, 1, r4.get()));
  EXPECT_SHAPE_ERROR(Any({"out", shape}),
                     porta_ops_reduce(c, s, PORTA_REDUCE_SUM, x_.get(), &axis, 1, 0, r41.get()));
  EXPECT_SHAPE_ERROR(Any({"out", shape}), porta_ops_argmax(c, s, x_.get(), 1, 0, ai4.get()));
  // Softmax: the mask must broadcast; causal needs rank 2.
  EXPECT_SHAPE_ERROR(Any({"mask", shape}),
                     porta_ops_softmax(c, s, &sm_desc_, x_.get(), b5.get(), out_.get()));
  porta_softmax_desc_t causal = PORTA_SOFTMAX_DESC_INIT;
  causal.causal = 1;
  DeviceTensor out6 = T(kF32, {6});
  EXPECT_SHAPE_ERROR(Any({"causal", "rank", Names("x")}),
                     porta_ops_softmax(c, s, &causal, row.get(), nullptr, out6.get()));
  // Norms: weight and bias are [last dimension].
  EXPECT_SHAPE_ERROR(Any({"weight", shape}),
                     porta_ops_layernorm(c, s, x_.get(), b5.get(), nullptr, 1e-5f, out_.get()));
  EXPECT_SHAPE_ERROR(Any({"bias", shape}),
                     porta_ops_rmsnorm(c, s, x_.get(), nullptr, b5.get(), 1e-5f, out_.get()));
  DeviceTensor w2 = T(kF32, {1, 6});
  EXPECT_SHAPE_ERROR(Any({"weight", "rank", shape}),
                     porta_ops_layernorm(c, s, x_.get(), w2.get(), nullptr, 1e-5f, out_.get()));
  // Embedding: table is [V, D]; out is indices' shape plus D.
  DeviceTensor table = T(kF32, {10, 6}), indices = Upload(Contiguous(kI32, {4}), {0, 1, 2, 3});
  DeviceTensor table1 = T(kF32, {60});
  EXPECT_SHAPE_ERROR(Any({"table", "rank", shape}),
                     porta_ops_embedding(c, s, table1.get(), indices.get(), out_.get()));
  EXPECT_SHAPE_ERROR(Any({"out", shape}),
                     porta_ops_embedding(c, s, table.get(), indices.get(), out45.get()));
  // Rope: positions has x.shape[seq_axis] entries; rank 2 to 4; rotary_dims even and at most
  // the head size; an even head.
  DeviceTensor x3 = T(kF32, {2, 4, 6}), out3 = T(kF32, {2, 4, 6});
  DeviceTensor pos4 = Upload(Contiguous(kI32, {4}), {0, 1, 2, 3});
  DeviceTensor pos3 = Upload(Contiguous(kI32, {3}), {0, 1, 2});
  const porta_rope_desc_t seq1 = PORTA_ROPE_DESC_INIT;
  EXPECT_SHAPE_ERROR(Any({"positions", shape}),
                     porta_ops_rope(c, s, &seq1, x3.get(), pos3.get(), out3.get()));
  DeviceTensor x1 = T(kF32, {6}), x5 = T(kF32, {1, 1, 1, 4, 6});
  DeviceTensor out5 = T(kF32, {1, 1, 1, 4, 6});
  porta_rope_desc_t seq0 = PORTA_ROPE_DESC_INIT;
  seq0.seq_axis = 0;
  DeviceTensor pos6 = Upload(Contiguous(kI32, {6}), {0, 1, 2, 3, 4, 5});
  EXPECT_SHAPE_ERROR(Any({"rank", Names("x")}),
                     porta_ops_rope(c, s, &seq0, x1.get(), pos6.get(), out6.get()));
  porta_rope_desc_t seq3 = PORTA_ROPE_DESC_INIT;
  seq3.seq_axis = 3;
  EXPECT_SHAPE_ERROR(Any({"rank", Names("x")}),
                     porta_ops_rope(c, s, &seq3, x5.get(), pos4.get(), out5.get()));
  porta_rope_desc_t odd = PORTA_ROPE_DESC_INIT;
  odd.rotary_dims = 3;
  EXPECT_SHAPE_ERROR(Any({"rotary_dims"}),
                     porta_ops_rope(c, s, &odd, x3.get(), pos4.get(), out3.get()));
  porta_rope_desc_t wide = PORTA_ROPE_DESC_INIT;
  wide.rotary_dims = 8;
  EXPECT_SHAPE_ERROR(Any({"rotary_dims"}),
                     porta_ops_rope(c, s, &wide, x3.get(), pos4.get(), out3.get()));
  DeviceTensor x_odd = T(kF32, {2, 4, 5}), out_odd = T(kF32, {2, 4, 5});
  EXPECT_SHAPE_ERROR(Any({"head", "rotary_dims", "even", Names("x")}),
                     porta_ops_rope(c, s, &seq1, x_odd.get(), pos4.get(), out_odd.get()));
  // Attention: Hq a multiple of Hkv, q and k of one head size, k and v of one length, D <= 256.
  DeviceTensor q = T(kF32, {1, 3, 2, 8}), k2 = T(kF32, {1, 2, 5, 8}), v2 = T(kF32, {1, 2, 5, 8});
  DeviceTensor attn_out = T(kF32, {1, 3, 2, 8});
  EXPECT_SHAPE_ERROR(
      Any({"head", "Hq", "Hkv", "multiple", Names("k")}),
      porta_ops_attention(c, s, &attn_desc_, q.get(), k2.get(), v2.get(), nullptr, attn_out.get()));
  DeviceTensor k1 = T(kF32, {1, 1, 5, 7}), v1 = T(kF32, {1, 1, 5, 8}), v1s = T(kF32, {1, 1, 4, 8});
  DeviceTensor k1ok = T(kF32, {1, 1, 5, 8});
  EXPECT_SHAPE_ERROR(
      Any({Names("k"), "head size", shape}),
      porta_ops_attention(c, s, &attn_desc_, q.get(), k1.get(), v1.get(), nullptr, attn_out.get()));
  EXPECT_SHAPE_ERROR(Any({Names("v"), shape}),
                     porta_ops_attention(c, s, &attn_desc_, q.get(), k1ok.get(), v1s.get(), nullptr,
                                         attn_out.get()));
  DeviceTensor mask_bad = T(kF32, {3, 5});
  EXPECT_SHAPE_ERROR(Any({"mask", shape}),
                     porta_ops_attention(c, s, &attn_desc_, q.get(), k1ok.get(), v1.get(),
                                         mask_bad.get(), attn_out.get()));
  DeviceTensor q_big = T(kF32, {1, 1, 1, 257}), k_big = T(kF32, {1, 1, 2, 257});
  DeviceTensor v_small = T(kF32, {1, 1, 2, 4}), out_small = T(kF32, {1, 1, 1, 4});
  // A head size over the limit is a shape the op does not take: the message names the size given
  // and the limit.
  EXPECT_SHAPE_ERROR(std::string("head size"),
                     porta_ops_attention(c, s, &attn_desc_, q_big.get(), k_big.get(), v_small.get(),
                                         nullptr, out_small.get()));
  EXPECT_TRUE(LastErrorNamesNumber(257));
  EXPECT_TRUE(LastErrorNamesNumber(256));
  // Conv2d: weight's input channels are C / groups; groups divide C and Co; out's shape.
  DeviceTensor img = T(kF32, {1, 4, 5, 5}), w_bad = T(kF32, {2, 3, 3, 3});
  DeviceTensor img_out = T(kF32, {1, 2, 3, 3}), w = T(kF32, {2, 4, 3, 3});
  EXPECT_SHAPE_ERROR(
      Any({"weight", "channel", shape}),
      porta_ops_conv2d(c, s, &conv_desc_, img.get(), w_bad.get(), nullptr, img_out.get()));
  porta_conv2d_desc_t groups3 = PORTA_CONV2D_DESC_INIT;
  groups3.groups = 3;
  DeviceTensor w_g3 = T(kF32, {3, 1, 3, 3}), out_g3 = T(kF32, {1, 3, 3, 3});
  EXPECT_SHAPE_ERROR(Any({"groups"}), porta_ops_conv2d(c, s, &groups3, img.get(), w_g3.get(),
                                                       nullptr, out_g3.get()));
  DeviceTensor img_out_bad = T(kF32, {1, 2, 5, 5});
  EXPECT_SHAPE_ERROR(Any({"out", shape}), porta_ops_conv2d(c, s, &conv_desc_, img.get(), w.get(),
                                                           nullptr, img_out_bad.get()));
  EXPECT_SHAPE_ERROR(Any({"bias", shape}), porta_ops_conv2d(c, s, &conv_desc_, img.get(), w.get(),
                                                            b5.get(), img_out.get()));
  // Pool2d: out's shape.
  DeviceTensor pooled_bad = T(kF32, {1, 4, 3, 3});
  EXPECT_SHAPE_ERROR(Any({"out", shape}),
                     porta_ops_pool2d(c, s, &pool_desc_, img.get(), pooled_bad.get()));
  for (const DeviceTensor* t :
       {&out_,     &out45,     &mm_,     &mm46,   &mm3,         &cat,       &cat_bad,
        &r4,       &r41,       &ai4,     &out6,   &out3,        &out5,      &out_odd,
        &attn_out, &out_small, &img_out, &out_g3, &img_out_bad, &pooled_bad}) {
    EXPECT_TRUE(Unchanged(*t));
  }
}

TEST_P(OpsErrorsTest, BadDescriptors) {
  const porta_stream_t s = stream();
  const porta_ops_context_t c = ctx();
  porta_matmul_desc_t mm = PORTA_MATMUL_DESC_INIT;
  mm.struct_size = 0;
  EXPECT_SHAPE_ERROR(std::string("struct_size"),
                     porta_ops_matmul(c, s, &mm, x_.get(), b_.get(), nullptr, mm_.get()));
  mm = PORTA_MATMUL_DESC_INIT;
  mm.activation = PORTA_UNARY_EXP;
  EXPECT_SHAPE_ERROR(std::string("activation"),
                     porta_ops_matmul(c, s, &mm, x_.get(), b_.get(), nullptr, mm_.get()));
  EXPECT_SHAPE_ERROR(
      Any({Names("op"), " op", "operation"}),
      porta_ops_unary(c, s, static_cast<porta_unary_op_t>(99), x_.get(), out_.get()));
  EXPECT_SHAPE_ERROR(Any({Names("op"), " op", "operation"}),
                     porta_ops_unary(c, s, PORTA_UNARY_NONE, x_.get(), out_.get()));
  EXPECT_SHAPE_ERROR(
      Any({Names("op"), " op", "operation"}),
      porta_ops_binary(c, s, static_cast<porta_binary_op_t>(0), x_.get(), x_.get(), out_.get()));
  const int32_t axis = 1;
  DeviceTensor r4 = T(kF32, {4});
  EXPECT_SHAPE_ERROR(
      Any({Names("op"), " op", "operation"}),
      porta_ops_reduce(c, s, static_cast<porta_reduce_op_t>(9), x_.get(), &axis, 1, 0, r4.get()));
  porta_softmax_desc_t sm = PORTA_SOFTMAX_DESC_INIT;
  sm.struct_size = 1;
  EXPECT_SHAPE_ERROR(std::string("struct_size"),
                     porta_ops_softmax(c, s, &sm, x_.get(), nullptr, out_.get()));
  porta_rope_desc_t rope = PORTA_ROPE_DESC_INIT;
  rope.mode = static_cast<porta_rope_mode_t>(7);
  DeviceTensor pos = Upload(Contiguous(kI32, {4}), {0, 1, 2, 3});
  rope.seq_axis = 0;
  EXPECT_SHAPE_ERROR(std::string("mode"),
                     porta_ops_rope(c, s, &rope, x_.get(), pos.get(), out_.get()));
  // Conv2d: zero stride, dilation or groups; a kernel larger than the padded input.
  DeviceTensor img = T(kF32, {1, 2, 5, 5}), w = T(kF32, {2, 2, 3, 3});
  DeviceTensor img_out = T(kF32, {1, 2, 3, 3});
  for (int field = 0; field < 3; ++field) {
    porta_conv2d_desc_t conv = PORTA_CONV2D_DESC_INIT;
    if (field == 0) conv.stride[1] = 0;
    if (field == 1) conv.dilation[0] = 0;
    if (field == 2) conv.groups = 0;
    EXPECT_SHAPE_ERROR(Any({"stride", "dilation", "groups"}),
                       porta_ops_conv2d(c, s, &conv, img.get(), w.get(), nullptr, img_out.get()));
  }
  DeviceTensor w_big = T(kF32, {2, 2, 6, 6}), img_out0 = T(kF32, {1, 2, 0, 0});
  EXPECT_SHAPE_ERROR(
      Any({"weight", "kernel", "out"}),
      porta_ops_conv2d(c, s, &conv_desc_, img.get(), w_big.get(), nullptr, img_out0.get()));
  // Pool2d: padding above half the kernel, average with dilation, zero kernel or stride, an
  // unknown mode.
  DeviceTensor pooled = T(kF32, {1, 2, 2, 2});
  porta_pool2d_desc_t pool = PORTA_POOL2D_DESC_INIT;
  pool.padding[0] = 2;
  EXPECT_SHAPE_ERROR(std::string("padding"),
                     porta_ops_pool2d(c, s, &pool, img.get(), pooled.get()));
  pool = PORTA_POOL2D_DESC_INIT;
  pool.mode = PORTA_POOL_MODE_AVG;
  pool.dilation[1] = 2;
  EXPECT_SHAPE_ERROR(std::string("dilation"),
                     porta_ops_pool2d(c, s, &pool, img.get(), pooled.get()));
  pool = PORTA_POOL2D_DESC_INIT;
  pool.kernel[0] = 0;
  EXPECT_SHAPE_ERROR(std::string("kernel"), porta_ops_pool2d(c, s, &pool, img.get(), pooled.get()));
  pool = PORTA_POOL2D_DESC_INIT;
  pool.stride[1] = 0;
  EXPECT_SHAPE_ERROR(std::string("stride"), porta_ops_pool2d(c, s, &pool, img.get(), pooled.get()));
  pool = PORTA_POOL2D_DESC_INIT;
  pool.mode = static_cast<porta_pool_mode_t>(5);
  EXPECT_SHAPE_ERROR(std::string("mode"), porta_ops_pool2d(c, s, &pool, img.get(), pooled.get()));
  for (const DeviceTensor* t : {&out_, &mm_, &r4, &img_out, &img_out0, &pooled}) {
    EXPECT_TRUE(Unchanged(*t));
  }
}

TEST_P(OpsErrorsTest, TensorOutsideItsBuffer) {
  const porta_stream_t s = stream();
  const porta_ops_context_t c = ctx();
  uint64_t size = 0;
  ASSERT_PORTA_OK(porta_buffer_size(x_.buffer(), &size));
  const std::string x_names = Any({Names("x"), "buffer"});
  // Reductions of everything into a scalar, where x's shape can change without out's.
  DeviceTensor scalar = T(kF32, {});
  porta_tensor_t t = x_.tensor();
  t.shape[0] = 100;
  EXPECT_RANGE_ERROR(x_names,
                     porta_ops_reduce(c, s, PORTA_REDUCE_SUM, &t, nullptr, 0, 0, scalar.get()));
  t = x_.tensor();
  t.offset = size - 4;
  EXPECT_RANGE_ERROR(x_names, porta_ops_unary(c, s, PORTA_UNARY_NEG, &t, out_.get()));
  t = x_.tensor();
  t.offset = size + 64;
  EXPECT_RANGE_ERROR(x_names, porta_ops_unary(c, s, PORTA_UNARY_NEG, &t, out_.get()));
  t = x_.tensor();
  t.strides[0] = 1000;
  EXPECT_RANGE_ERROR(x_names, porta_ops_unary(c, s, PORTA_UNARY_NEG, &t, out_.get()));
  // The output, and optional operands, are checked as well.
  DeviceTensor small = T(kF32, {2, 6});
  porta_tensor_t o = small.tensor();
  o.shape[0] = 4;
  o.strides[0] = 200;
  EXPECT_RANGE_ERROR(Any({"out", "buffer"}), porta_ops_unary(c, s, PORTA_UNARY_NEG, x_.get(), &o));
  porta_tensor_t bias = bias_.tensor();
  bias.offset += 4096;
  EXPECT_RANGE_ERROR(Any({"bias", "buffer"}),
                     porta_ops_matmul(c, s, &mm_desc_, x_.get(), b_.get(), &bias, mm_.get()));
  porta_tensor_t mask = x_.tensor();
  mask.strides[1] = 64;
  EXPECT_RANGE_ERROR(Any({"mask", "buffer"}),
                     porta_ops_softmax(c, s, &sm_desc_, x_.get(), &mask, out_.get()));
  EXPECT_TRUE(Unchanged(out_));
  EXPECT_TRUE(Unchanged(scalar));
  EXPECT_TRUE(Unchanged(small));
  EXPECT_TRUE(Unchanged(mm_));
}

// A tensor inside its buffer that a kernel still could not reach: one that spans more than the
// device's kernel buffer range (Vulkan's maxStorageBufferRange; lavapipe's is 128 MiB). Computing
// it anyway would silently read garbage past the range.
TEST_P(OpsErrorsTest, TensorBeyondTheKernelBufferRange) {
  const uint64_t range = info_.max_kernel_buffer_range_bytes;
  if (range >= info_.max_allocation_bytes || range > (uint64_t{1} << 30)) {
    porta_cts::RecordSkipReason("a kernel buffer range below the allocation limit");
    GTEST_SKIP() << "max_kernel_buffer_range_bytes " << range
                 << " does not cap a buffer of this device below 1 GiB";
  }
  BufferHandle big;
  ASSERT_PORTA_OK(porta_buffer_alloc(device_, range + 1024, PORTA_MEMORY_DEVICE, big.out()));
  const int64_t shape[1] = {static_cast<int64_t>(range / 4 + 64)};
  const porta_tensor_t t = porta_tensor_contiguous(big.get(), 0, kF32, 1, shape);
  EXPECT_PORTA_ERROR(PORTA_ERROR_OUT_OF_RANGE, "max_kernel_buffer_range_bytes",
                     porta_ops_unary(ctx(), stream(), PORTA_UNARY_NEG, &t, &t));
  // A tensor within the range is fine wherever it starts in the buffer: its binding starts next
  // to it, not at the buffer's start.
  const int64_t inner[1] = {static_cast<int64_t>(range / 8)};
  const porta_tensor_t late = porta_tensor_contiguous(big.get(), range / 2 + 512, kF32, 1, inner);
  EXPECT_PORTA_OK(porta_ops_unary(ctx(), stream(), PORTA_UNARY_NEG, &late, &late));
  EXPECT_PORTA_OK(porta_stream_synchronize(stream()));
}

TEST_P(OpsErrorsTest, BufferOfAnotherDevice) {
  PORTA_CTS_REQUIRE_DEVICES(2);
  const porta_device_t other = OtherDevices(device_).front();
  BufferHandle foreign;
  ASSERT_PORTA_OK(porta_buffer_alloc(other, 4096, PORTA_MEMORY_DEVICE, foreign.out()));
  porta_tensor_t t = x_.tensor();
  t.buffer = foreign.get();
  t.offset = 0;
  EXPECT_SHAPE_ERROR(Any({"device", Names("x")}),
                     porta_ops_unary(ctx(), stream(), PORTA_UNARY_NEG, &t, out_.get()));
  porta_tensor_t o = out_.tensor();
  o.buffer = foreign.get();
  o.offset = 0;
  EXPECT_SHAPE_ERROR(Any({"device", "out"}),
                     porta_ops_unary(ctx(), stream(), PORTA_UNARY_NEG, x_.get(), &o));
  // A stream of another device.
  StreamHandle foreign_stream;
  ASSERT_PORTA_OK(porta_stream_create(other, foreign_stream.out()));
  EXPECT_SHAPE_ERROR(
      Any({"device", "stream"}),
      porta_ops_unary(ctx(), foreign_stream.get(), PORTA_UNARY_NEG, x_.get(), out_.get()));
  EXPECT_PORTA_OK(porta_stream_synchronize(foreign_stream.get()));
  EXPECT_TRUE(Unchanged(out_));
}

TEST_P(OpsErrorsTest, RankAboveEight) {
  porta_tensor_t t = x_.tensor();
  t.rank = PORTA_TENSOR_MAX_RANK + 1;
  // The message says "rank" and names both the rank given and the limit, as whole numbers.
  EXPECT_SHAPE_ERROR(std::string("rank"),
                     porta_ops_unary(ctx(), stream(), PORTA_UNARY_NEG, &t, out_.get()));
  EXPECT_TRUE(LastErrorNamesNumber(PORTA_TENSOR_MAX_RANK + 1));
  EXPECT_TRUE(LastErrorNamesNumber(PORTA_TENSOR_MAX_RANK));
  porta_tensor_t o = out_.tensor();
  o.rank = 100;
  EXPECT_SHAPE_ERROR(std::string("rank"),
                     porta_ops_unary(ctx(), stream(), PORTA_UNARY_NEG, x_.get(), &o));
  EXPECT_TRUE(LastErrorNamesNumber(100));
  EXPECT_TRUE(LastErrorNamesNumber(PORTA_TENSOR_MAX_RANK));
  EXPECT_TRUE(Unchanged(out_));
}

TEST_P(OpsErrorsTest, ShapeTimesStrideOverflow) {
  const porta_stream_t s = stream();
  const porta_ops_context_t c = ctx();
  const std::string names = Any({Names("x"), "overflow", "range", "buffer", "2^32", "4294967296"});
  // Reductions of everything into a scalar, where x's shape can change without out's.
  DeviceTensor scalar = T(kF32, {});
  // The extent (shape - 1) * stride overflows int64.
  porta_tensor_t t = x_.tensor();
  t.shape[0] = int64_t{1} << 40;
  t.strides[0] = int64_t{1} << 40;
  EXPECT_RANGE_ERROR(names,
                     porta_ops_reduce(c, s, PORTA_REDUCE_SUM, &t, nullptr, 0, 0, scalar.get()));
  t = x_.tensor();
  t.rank = 1;
  t.shape[0] = (int64_t{1} << 62) + 1;
  t.strides[0] = 4;
  EXPECT_RANGE_ERROR(names,
                     porta_ops_reduce(c, s, PORTA_REDUCE_SUM, &t, nullptr, 0, 0, scalar.get()));
  // The furthest element is past 2^32 elements: beyond what the kernels can index (and beyond
  // the buffer: a buffer of 16 GiB to separate the two checks is more than CI devices have).
  t = x_.tensor();
  t.strides[0] = int64_t{1} << 32;
  EXPECT_RANGE_ERROR(names, porta_ops_unary(c, s, PORTA_UNARY_NEG, &t, out_.get()));
  // The element count overflows int64 (2^64 wraps to 0) while every element is the same one.
  t = x_.tensor();
  t.rank = 2;
  t.shape[0] = t.shape[1] = int64_t{1} << 32;
  t.strides[0] = t.strides[1] = 0;
  EXPECT_RANGE_ERROR(Any({names, "elements", "count"}),
                     porta_ops_reduce(c, s, PORTA_REDUCE_SUM, &t, nullptr, 0, 0, scalar.get()));
  EXPECT_TRUE(Unchanged(out_));
  EXPECT_TRUE(Unchanged(scalar));
}

TEST_P(OpsErrorsTest, NegativeShapesAndStrides) {
  const porta_stream_t s = stream();
  const porta_ops_context_t c = ctx();
  DeviceTensor scalar = T(kF32, {});
  porta_tensor_t t = x_.tensor();
  t.shape[1] = -6;
  EXPECT_SHAPE_ERROR(Any({"shape", "negative"}),
                     porta_ops_reduce(c, s, PORTA_REDUCE_SUM, &t, nullptr, 0, 0, scalar.get()));
  t = x_.tensor();
  t.strides[0] = -6;
  EXPECT_SHAPE_ERROR(Any({"stride", "negative"}),
                     porta_ops_unary(c, s, PORTA_UNARY_NEG, &t, out_.get()));
  porta_tensor_t o = out_.tensor();
  o.strides[1] = -1;
  EXPECT_SHAPE_ERROR(Any({"stride", "negative"}),
                     porta_ops_unary(c, s, PORTA_UNARY_NEG, x_.get(), &o));
  EXPECT_TRUE(Unchanged(out_));
  EXPECT_TRUE(Unchanged(scalar));
}

TEST_P(OpsErrorsTest, OffsetNotAMultipleOfTheElementSize) {
  porta_tensor_t t = x_.tensor();
  t.offset += 2;
  EXPECT_SHAPE_ERROR(Any({"offset", "align"}),
                     porta_ops_unary(ctx(), stream(), PORTA_UNARY_NEG, &t, out_.get()));
  DeviceTensor h = T(kF16, {4, 6}), h_out = T(kF16, {4, 6});
  porta_tensor_t o = h_out.tensor();
  o.offset += 1;
  EXPECT_SHAPE_ERROR(Any({"offset", "align"}), porta_ops_copy(ctx(), stream(), h.get(), &o));
  EXPECT_TRUE(Unchanged(out_));
  EXPECT_TRUE(Unchanged(h_out));
}

TEST_P(OpsErrorsTest, PartialOverlapOfOutAndAnInput) {
  // out starts one element into x: neither the same view nor disjoint.
  DeviceTensor big = T(kF32, {30});
  porta_tensor_t in = big.tensor(), shifted = big.tensor();
  in.shape[0] = 24;
  shifted.shape[0] = 24;
  shifted.offset += 4;
  EXPECT_SHAPE_ERROR(Any({"overlap", "alias"}),
                     porta_ops_unary(ctx(), stream(), PORTA_UNARY_NEG, &in, &shifted));
  EXPECT_SHAPE_ERROR(Any({"overlap", "alias"}),
                     porta_ops_binary(ctx(), stream(), PORTA_BINARY_ADD, &in, &in, &shifted));
  EXPECT_TRUE(Unchanged(big));
}

TEST_P(OpsErrorsTest, NullPointers) {
  const porta_stream_t s = stream();
  const porta_ops_context_t c = ctx();
  EXPECT_SHAPE_ERROR(Names("x"), porta_ops_unary(c, s, PORTA_UNARY_NEG, nullptr, out_.get()));
  EXPECT_SHAPE_ERROR(std::string("out"), porta_ops_unary(c, s, PORTA_UNARY_NEG, x_.get(), nullptr));
  EXPECT_SHAPE_ERROR(Names("a"),
                     porta_ops_binary(c, s, PORTA_BINARY_ADD, nullptr, x_.get(), out_.get()));
  EXPECT_SHAPE_ERROR(Names("b"),
                     porta_ops_binary(c, s, PORTA_BINARY_ADD, x_.get(), nullptr, out_.get()));
  EXPECT_SHAPE_ERROR(std::string("desc"),
                     porta_ops_matmul(c, s, nullptr, x_.get(), b_.get(), nullptr, mm_.get()));
  EXPECT_SHAPE_ERROR(Names("b"),
                     porta_ops_matmul(c, s, &mm_desc_, x_.get(), nullptr, nullptr, mm_.get()));
  EXPECT_SHAPE_ERROR(std::string("out"),
                     porta_ops_matmul(c, s, &mm_desc_, x_.get(), b_.get(), nullptr, nullptr));
  EXPECT_SHAPE_ERROR(std::string("src"), porta_ops_copy(c, s, nullptr, out_.get()));
  EXPECT_SHAPE_ERROR(std::string("inputs"), porta_ops_concat(c, s, nullptr, 2, 0, out_.get()));
  EXPECT_SHAPE_ERROR(std::string("count"), porta_ops_concat(c, s, x_.get(), 0, 0, out_.get()));
  DeviceTensor r4 = T(kF32, {4});
  EXPECT_SHAPE_ERROR(Any({"axes"}),
                     porta_ops_reduce(c, s, PORTA_REDUCE_SUM, x_.get(), nullptr, 1, 0, r4.get()));
  EXPECT_SHAPE_ERROR(std::string("desc"),
                     porta_ops_softmax(c, s, nullptr, x_.get(), nullptr, out_.get()));
  EXPECT_SHAPE_ERROR(std::string("positions"),
                     porta_ops_rope(c, s, &rope_desc_, x_.get(), nullptr, out_.get()));
  EXPECT_SHAPE_ERROR(std::string("indices"),
                     porta_ops_embedding(c, s, x_.get(), nullptr, out_.get()));
  DeviceTensor q = T(kF32, {1, 1, 2, 4}), kv = T(kF32, {1, 1, 3, 4});
  DeviceTensor attn_out = T(kF32, {1, 1, 2, 4});
  EXPECT_SHAPE_ERROR(std::string("desc"), porta_ops_attention(c, s, nullptr, q.get(), kv.get(),
                                                              kv.get(), nullptr, attn_out.get()));
  DeviceTensor img = T(kF32, {1, 1, 4, 4}), img_out = T(kF32, {1, 1, 4, 4});
  DeviceTensor pooled = T(kF32, {1, 1, 2, 2});
  EXPECT_SHAPE_ERROR(std::string("weight"), porta_ops_conv2d(c, s, &conv_desc_, img.get(), nullptr,
                                                             nullptr, img_out.get()));
  EXPECT_SHAPE_ERROR(std::string("desc"), porta_ops_pool2d(c, s, nullptr, img.get(), pooled.get()));
  // A tensor without a buffer, or with a freed one.
  porta_tensor_t t = x_.tensor();
  t.buffer = nullptr;
  EXPECT_OPS_ERROR(PORTA_ERROR_INVALID_HANDLE, Any({"buffer", Names("x")}),
                   porta_ops_unary(c, s, PORTA_UNARY_NEG, &t, out_.get()));
  porta_buffer_t freed = nullptr;
  ASSERT_PORTA_OK(porta_buffer_alloc(device_, 1024, PORTA_MEMORY_DEVICE, &freed));
  ASSERT_PORTA_OK(porta_buffer_free(freed));
  t.buffer = freed;
  t.offset = 0;
  EXPECT_OPS_ERROR(PORTA_ERROR_INVALID_HANDLE, Any({"buffer", Names("x")}),
                   porta_ops_unary(c, s, PORTA_UNARY_NEG, &t, out_.get()));
  // Streams.
  EXPECT_OPS_ERROR(PORTA_ERROR_INVALID_HANDLE, std::string("stream"),
                   porta_ops_unary(c, nullptr, PORTA_UNARY_NEG, x_.get(), out_.get()));
  porta_stream_t destroyed = nullptr;
  ASSERT_PORTA_OK(porta_stream_create(device_, &destroyed));
  ASSERT_PORTA_OK(porta_stream_destroy(destroyed));
  EXPECT_OPS_ERROR(PORTA_ERROR_INVALID_HANDLE, std::string("stream"),
                   porta_ops_unary(c, destroyed, PORTA_UNARY_NEG, x_.get(), out_.get()));
  // porta_ops_supported: NULL dtypes, a wrong count, an unknown op.
  const porta_dtype_t two[] = {kF32, kF32};
  const porta_dtype_t three[] = {kF32, kF32, kF32};
  EXPECT_SHAPE_ERROR(std::string("dtypes"), porta_ops_supported(c, PORTA_OP_UNARY, nullptr, 2));
  EXPECT_SHAPE_ERROR(Any({"dtype_count", "count"}),
                     porta_ops_supported(c, PORTA_OP_UNARY, three, 3));
  EXPECT_SHAPE_ERROR(Any({"dtype_count", "count"}),
                     porta_ops_supported(c, PORTA_OP_MATMUL, two, 2));
  EXPECT_SHAPE_ERROR(Any({Names("op"), " op", "operation"}),
                     porta_ops_supported(c, static_cast<porta_op_t>(99), two, 2));
  EXPECT_SHAPE_ERROR(Any({Names("op"), " op", "operation"}),
                     porta_ops_supported(c, static_cast<porta_op_t>(0), two, 2));
  // Views.
  porta_tensor_t view = {};
  EXPECT_SHAPE_ERROR(std::string("tensor"), porta_tensor_slice(nullptr, 0, 0, 1, 1, &view));
  EXPECT_SHAPE_ERROR(std::string("out"), porta_tensor_slice(x_.get(), 0, 0, 1, 1, nullptr));
  EXPECT_SHAPE_ERROR(std::string("perm"), porta_tensor_permute(x_.get(), nullptr, &view));
  // Context creation.
  OpsContextHandle other;
  EXPECT_SHAPE_ERROR(std::string("out_context"),
                     porta_ops_context_create(device_, nullptr, nullptr));
  porta_ops_context_options_t options = PORTA_OPS_CONTEXT_OPTIONS_INIT;
  options.struct_size = 0;
  EXPECT_SHAPE_ERROR(std::string("struct_size"),
                     porta_ops_context_create(device_, &options, other.out()));
  EXPECT_OPS_ERROR(PORTA_ERROR_INVALID_HANDLE, std::string("device"),
                   porta_ops_context_create(nullptr, nullptr, other.out()));
  EXPECT_FALSE(other) << "a failed create must not hand out a context";
  for (const DeviceTensor* t : {&out_, &mm_, &r4, &attn_out, &img_out, &pooled}) {
    EXPECT_TRUE(Unchanged(*t));
  }
}

TEST_P(OpsErrorsTest, NullAndDestroyedContext) {
  const porta_stream_t s = stream();
  const std::string needle = "context";
  const porta_dtype_t two[] = {kF32, kF32};
  // Nothing is allocated between the destroy and the calls, so the address cannot be reused.
  porta_ops_context_t destroyed = nullptr;
  ASSERT_PORTA_OK(porta_ops_context_create(device_, nullptr, &destroyed));
  ASSERT_PORTA_OK(porta_ops_context_destroy(destroyed));
  for (porta_ops_context_t c : {static_cast<porta_ops_context_t>(nullptr), destroyed}) {
    EXPECT_OPS_ERROR(PORTA_ERROR_INVALID_HANDLE, needle,
                     porta_ops_unary(c, s, PORTA_UNARY_NEG, x_.get(), out_.get()));
    EXPECT_OPS_ERROR(PORTA_ERROR_INVALID_HANDLE, needle,
                     porta_ops_matmul(c, s, &mm_desc_, x_.get(), b_.get(), nullptr, mm_.get()));
    EXPECT_OPS_ERROR(PORTA_ERROR_INVALID_HANDLE, needle,
                     porta_ops_supported(c, PORTA_OP_UNARY, two, 2));
    EXPECT_OPS_ERROR(PORTA_ERROR_INVALID_HANDLE, needle, porta_ops_set_tuning_overlay(c, ""));
    EXPECT_OPS_ERROR(PORTA_ERROR_INVALID_HANDLE, needle, porta_ops_context_destroy(c));
  }
  EXPECT_TRUE(Unchanged(out_));
  EXPECT_TRUE(Unchanged(mm_));
}

TEST_P(OpsErrorsTest, BadAxes) {
  const porta_stream_t s = stream();
  const porta_ops_context_t c = ctx();
  const std::string axis = "axis|axes";
  DeviceTensor x3 = T(kF32, {2, 3, 4}), r = T(kF32, {2, 3});
  for (const std::vector<int32_t>& axes :
       {std::vector<int32_t>{3}, std::vector<int32_t>{-4}, std::vector<int32_t>{1, 1},
        std::vector<int32_t>{0, -3}}) {
    EXPECT_SHAPE_ERROR(axis, porta_ops_reduce(c, s, PORTA_REDUCE_SUM, x3.get(), axes.data(),
                                              static_cast<uint32_t>(axes.size()), 0, r.get()));
  }
  // MAX and MIN over an empty axis have no value.
  DeviceTensor empty = T(kF32, {3, 0}), r3 = T(kF32, {3});
  const int32_t last = 1;
  EXPECT_SHAPE_ERROR(Any({axis, "empty"}),
                     porta_ops_reduce(c, s, PORTA_REDUCE_MAX, empty.get(), &last, 1, 0, r3.get()));
  EXPECT_SHAPE_ERROR(Any({axis, "empty"}),
                     porta_ops_reduce(c, s, PORTA_REDUCE_MIN, empty.get(), &last, 1, 0, r3.get()));
  DeviceTensor ai = T(kI32, {4});
  EXPECT_SHAPE_ERROR(axis, porta_ops_argmax(c, s, x_.get(), 2, 0, ai.get()));
  EXPECT_SHAPE_ERROR(axis, porta_ops_argmax(c, s, x_.get(), -3, 0, ai.get()));
  const porta_tensor_t pair[] = {x_.tensor(), x_.tensor()};
  DeviceTensor cat = T(kF32, {8, 6});
  EXPECT_SHAPE_ERROR(axis, porta_ops_concat(c, s, pair, 2, 2, cat.get()));
  EXPECT_SHAPE_ERROR(axis, porta_ops_concat(c, s, pair, 2, -3, cat.get()));
  // Rope's sequence axis is not the head axis and lies inside x.
  DeviceTensor pos = Upload(Contiguous(kI32, {4}), {0, 1, 2, 3});
  DeviceTensor rx = T(kF32, {2, 3, 4}), rout = T(kF32, {2, 3, 4});
  for (int32_t seq_axis : {2, 3, -1}) {
    porta_rope_desc_t desc = PORTA_ROPE_DESC_INIT;
    desc.seq_axis = seq_axis;
    EXPECT_SHAPE_ERROR(Any({"seq_axis", "axis"}),
                       porta_ops_rope(c, s, &desc, rx.get(), pos.get(), rout.get()));
  }
  // Views: slice's axis, step and range; permute's permutation.
  porta_tensor_t view = {};
  EXPECT_SHAPE_ERROR(axis, porta_tensor_slice(x_.get(), 2, 0, 1, 1, &view));
  EXPECT_SHAPE_ERROR(axis, porta_tensor_slice(x_.get(), -3, 0, 1, 1, &view));
  EXPECT_SHAPE_ERROR(std::string("step"), porta_tensor_slice(x_.get(), 0, 0, 2, 0, &view));
  EXPECT_SHAPE_ERROR(std::string("start"), porta_tensor_slice(x_.get(), 0, 3, 2, 1, &view));
  EXPECT_OPS_ERROR(PORTA_ERROR_OUT_OF_RANGE, std::string("stop"),
                   porta_tensor_slice(x_.get(), 1, 0, 7, 1, &view));
  // A view whose offset arithmetic would overflow is an error, not undefined behaviour.
  porta_tensor_t huge = x_.tensor();
  huge.strides[0] = INT64_MAX / 2;
  EXPECT_OPS_ERROR(PORTA_ERROR_OUT_OF_RANGE, std::string("overflow"),
                   porta_tensor_slice(&huge, 0, 3, 4, 1, &view));
  const int32_t repeated[] = {0, 0};
  const int32_t outside[] = {0, 2};
  EXPECT_SHAPE_ERROR(std::string("perm"), porta_tensor_permute(x_.get(), repeated, &view));
  EXPECT_SHAPE_ERROR(std::string("perm"), porta_tensor_permute(x_.get(), outside, &view));
  for (const DeviceTensor* t : {&r, &r3, &ai, &cat, &rout}) EXPECT_TRUE(Unchanged(*t));
}

TEST_P(OpsErrorsTest, I8IsRefusedEverywhere) {
  const porta_stream_t s = stream();
  const porta_ops_context_t c = ctx();
  const std::string i8 = "i8";
  const porta_dtype_t i8_pair[] = {kI8, kI8};
  EXPECT_PORTA_ERROR(PORTA_ERROR_UNSUPPORTED, "i8",
                     porta_ops_supported(c, PORTA_OP_UNARY, i8_pair, 2));
  const porta_dtype_t cast_to_i8[] = {kF32, kI8};
  EXPECT_PORTA_ERROR(PORTA_ERROR_UNSUPPORTED, "i8",
                     porta_ops_supported(c, PORTA_OP_CAST, cast_to_i8, 2));
  DeviceTensor q = T(kI8, {4, 6}), q_out = T(kI8, {4, 6}), qb = T(kI8, {6, 5});
  const auto refused = PORTA_ERROR_UNSUPPORTED;
  EXPECT_OPS_ERROR(refused, i8, porta_ops_unary(c, s, PORTA_UNARY_NEG, q.get(), q_out.get()));
  EXPECT_OPS_ERROR(refused, i8,
                   porta_ops_binary(c, s, PORTA_BINARY_ADD, q.get(), q.get(), q_out.get()));
  EXPECT_OPS_ERROR(refused, i8,
                   porta_ops_binary_scalar(c, s, PORTA_BINARY_ADD, q.get(), 1.0, 0, q_out.get()));
  EXPECT_OPS_ERROR(refused, i8, porta_ops_cast(c, s, x_.get(), q_out.get()));
  EXPECT_OPS_ERROR(refused, i8, porta_ops_cast(c, s, q.get(), out_.get()));
  EXPECT_OPS_ERROR(refused, i8, porta_ops_copy(c, s, q.get(), q_out.get()));
  const porta_tensor_t inputs[] = {q.tensor()};
  EXPECT_OPS_ERROR(refused, i8, porta_ops_concat(c, s, inputs, 1, 0, q_out.get()));
  EXPECT_OPS_ERROR(refused, i8,
                   porta_ops_matmul(c, s, &mm_desc_, x_.get(), qb.get(), nullptr, mm_.get()));
  const int32_t axis = 1;
  DeviceTensor r4 = T(kF32, {4}), ai = T(kI32, {4});
  EXPECT_OPS_ERROR(refused, i8,
                   porta_ops_reduce(c, s, PORTA_REDUCE_SUM, q.get(), &axis, 1, 0, r4.get()));
  EXPECT_OPS_ERROR(refused, i8, porta_ops_argmax(c, s, q.get(), 1, 0, ai.get()));
  EXPECT_OPS_ERROR(refused, i8, porta_ops_softmax(c, s, &sm_desc_, x_.get(), q.get(), out_.get()));
  DeviceTensor w8 = T(kI8, {6});
  EXPECT_OPS_ERROR(refused, i8,
                   porta_ops_layernorm(c, s, x_.get(), w8.get(), nullptr, 1e-5f, out_.get()));
  EXPECT_OPS_ERROR(refused, i8,
                   porta_ops_rmsnorm(c, s, x_.get(), nullptr, w8.get(), 1e-5f, out_.get()));
  DeviceTensor table8 = T(kI8, {10, 6}), idx8 = T(kI8, {4});
  DeviceTensor idx = Upload(Contiguous(kI32, {4}), {0, 1, 2, 3});
  EXPECT_OPS_ERROR(refused, i8, porta_ops_embedding(c, s, table8.get(), idx.get(), q_out.get()));
  DeviceTensor table = T(kF32, {10, 6});
  EXPECT_OPS_ERROR(refused, i8, porta_ops_embedding(c, s, table.get(), idx8.get(), out_.get()));
  EXPECT_OPS_ERROR(refused, i8,
                   porta_ops_rope(c, s, &rope_desc_, x_.get(), idx8.get(), out_.get()));
  DeviceTensor q8 = T(kI8, {1, 1, 2, 4}), k = T(kF32, {1, 1, 3, 4}), v = T(kF32, {1, 1, 3, 4});
  DeviceTensor attn_out = T(kF32, {1, 1, 2, 4});
  EXPECT_OPS_ERROR(
      refused, i8,
      porta_ops_attention(c, s, &attn_desc_, q8.get(), k.get(), v.get(), nullptr, attn_out.get()));
  DeviceTensor img = T(kF32, {1, 1, 4, 4}), w8c = T(kI8, {1, 1, 1, 1});
  DeviceTensor img_out = T(kF32, {1, 1, 4, 4}), img8 = T(kI8, {1, 1, 4, 4});
  DeviceTensor pooled = T(kI8, {1, 1, 2, 2});
  EXPECT_OPS_ERROR(
      refused, i8,
      porta_ops_conv2d(c, s, &conv_desc_, img.get(), w8c.get(), nullptr, img_out.get()));
  EXPECT_OPS_ERROR(refused, i8, porta_ops_pool2d(c, s, &pool_desc_, img8.get(), pooled.get()));
  for (const DeviceTensor* t : {&q_out, &out_, &mm_, &r4, &ai, &attn_out, &img_out, &pooled}) {
    EXPECT_TRUE(Unchanged(*t));
  }
}

TEST_P(OpsErrorsTest, UnsupportedOperation) {
  // Device-independent: a type combination no operation defines is unsupported everywhere.
  const porta_dtype_t float_to_int[] = {kF32, kI32};
  EXPECT_PORTA_ERROR(PORTA_ERROR_UNSUPPORTED, "i32|f32|dtype|type|combination",
                     porta_ops_supported(ctx(), PORTA_OP_UNARY, float_to_int, 2));
  const porta_dtype_t i32_softmax[] = {kI32, kI32};
  EXPECT_PORTA_ERROR(PORTA_ERROR_UNSUPPORTED, "i32|dtype|type|combination",
                     porta_ops_supported(ctx(), PORTA_OP_SOFTMAX, i32_softmax, 2));
  // Where the device lacks a type (f16 or bf16 without the capability), the operation is refused
  // with UNSUPPORTED naming what is missing, as porta_ops_supported says.
  for (porta_dtype_t dt : {kF16, kBF16}) {
    const Support support = QuerySupport(ctx(), PORTA_OP_UNARY, {dt, dt});
    if (support.status == PORTA_OK) continue;
    EXPECT_EQ(support.status, PORTA_ERROR_UNSUPPORTED) << support.message;
    DeviceTensor x = T(dt, {4, 6}), out = T(dt, {4, 6});
    EXPECT_OPS_ERROR(PORTA_ERROR_UNSUPPORTED,
                     Any({DtypeName(dt), "fp16", "capability", "PORTA_CAP"}),
                     porta_ops_unary(ctx(), stream(), PORTA_UNARY_EXP, x.get(), out.get()));
    EXPECT_TRUE(Unchanged(out));
  }
}

TEST_P(OpsErrorsTest, BadTuningOverlayRow) {
  struct BadRow {
    const char* text;
    const char* line;
  };
  // Each text's bad row is on the line named; comments and blank lines count.
  const BadRow rows[] = {
      {"# a comment\n\n* * * * matmul * * tm=abc tn=64 tk=16 wm=4 wn=4\n", "line 3"},
      {"cpu * *\n", "line 1"},
      {"* * * * ew * * wg=64\n* * * * nosuchfamily * * wg=64\n", "line 2"},
      {"* * * * ew * * bogus=1\n", "line 1"},
      {"* * * * ew * * wg\n", "line 1"},
      {"* \"unterminated * * ew * * wg=64\n", "line 1"},
      {"# ok\n* * * * reduce * * wg=-4\n", "line 2"},
  };
  for (const BadRow& row : rows) {
    SCOPED_TRACE(row.text);
    EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, row.line,
                       porta_ops_set_tuning_overlay(ctx(), row.text));
    porta_ops_context_options_t options = PORTA_OPS_CONTEXT_OPTIONS_INIT;
    options.tuning_overlay = row.text;
    OpsContextHandle context;
    EXPECT_PORTA_ERROR(PORTA_ERROR_INVALID_ARGUMENT, row.line,
                       porta_ops_context_create(device_, &options, context.out()));
    EXPECT_FALSE(context) << "a failed create must not hand out a context";
  }
  // Removing the overlay always works.
  EXPECT_PORTA_OK(porta_ops_set_tuning_overlay(ctx(), nullptr));
  EXPECT_PORTA_OK(porta_ops_set_tuning_overlay(ctx(), ""));
  EXPECT_PORTA_OK(porta_ops_set_tuning_overlay(ctx(), "# only a comment\n\n"));
}

PORTA_CTS_INSTANTIATE(OpsErrorsTest);

}  // namespace
}  // namespace porta_cts
