// Infrastructure of the operator-library suites (the "Ops*" suites of porta-cts): the OpsTest
// fixture and its porta_ops context, host-side f16/bf16 conversion, device tensors surrounded by
// guard regions, seeded data, the double-precision references every suite compares with, and the
// comparison with its one table of error bounds.
#ifndef PORTA_CONFORMANCE_OPS_OPS_CTS_H_
#define PORTA_CONFORMANCE_OPS_OPS_CTS_H_

#include <gtest/gtest.h>

#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include "conformance/cts.h"
#include "porta/porta_ops.h"

namespace porta_cts {

using OpsContextHandle = Handle<porta_ops_context_t, porta_ops_context_destroy>;
using Shape = std::vector<int64_t>;

//===------------------------------------------------------------------------------------------===//
// Host number formats (the suite's own code, so that a conversion bug in the library cannot hide
// behind the same bug in the reference)
//===------------------------------------------------------------------------------------------===//

size_t DtypeSize(porta_dtype_t dtype);
const char* DtypeName(porta_dtype_t dtype);

// f32 -> f16 / bf16, round to nearest even; NaN stays a quiet NaN, overflow gives infinity.
uint16_t F16FromFloat(float value);
uint16_t Bf16FromFloat(float value);
double F16ToDouble(uint16_t bits);
double Bf16ToDouble(uint16_t bits);

// What a kernel's store makes of the f32 result |value|: |value| is first rounded to f32 (the
// kernels compute in f32), then to |dtype| (f16, bf16: nearest even; i32: toward zero).
double RoundTo(porta_dtype_t dtype, double value);

// Bits of one element of |dtype| holding RoundTo(dtype, value) (low 16 bits for f16 and bf16).
uint32_t EncodeElement(porta_dtype_t dtype, double value);
double DecodeElement(porta_dtype_t dtype, uint32_t bits);

//===------------------------------------------------------------------------------------------===//
// Shapes and layouts
//===------------------------------------------------------------------------------------------===//

int64_t ElementCount(const Shape& shape);
Shape ContiguousStrides(const Shape& shape);
// Row-major multi-index of element |flat| of |shape|.
Shape Unflatten(const Shape& shape, int64_t flat);
std::string ShapeText(const Shape& shape);

// Where a tensor's elements lie: strides in elements (empty: row-major contiguous), and |offset|
// elements between the start of its storage and element 0.
struct TensorSpec {
  porta_dtype_t dtype = PORTA_DTYPE_F32;
  Shape shape;
  Shape strides;
  int64_t offset = 0;
};

TensorSpec Contiguous(porta_dtype_t dtype, Shape shape);
// A view that takes every |step|-th element of each dimension of a larger parent, starting at
// index 1: holes between elements and an element offset, as a sliced tensor has.
TensorSpec Sliced(porta_dtype_t dtype, Shape shape, int64_t step = 2);
// The view with |shape| of a contiguous parent whose dimension perm[d] is dimension d of the view
// (what porta_tensor_permute(parent, perm) returns).
TensorSpec Permuted(porta_dtype_t dtype, Shape shape, const std::vector<int>& perm);
// A contiguous layout whose dimensions |dims| have stride 0 (one stored element broadcast).
TensorSpec Broadcast(porta_dtype_t dtype, Shape shape, const std::vector<int>& dims);
std::string SpecText(const TensorSpec& spec);

//===------------------------------------------------------------------------------------------===//
// Seeded data
//===------------------------------------------------------------------------------------------===//

// SplitMix64: the same numbers on every platform and standard library (std distributions are not).
class Rng {
 public:
  explicit Rng(uint64_t seed);
  uint64_t Next();
  // Uniform in [lo, hi).
  double Uniform(double lo, double hi);
  // Uniform integer in [lo, hi].
  int64_t Int(int64_t lo, int64_t hi);

 private:
  uint64_t state_;
};

// |count| values uniform in [lo, hi). Uploading rounds them to the tensor's dtype; references
// read the rounded values back from the tensor (DeviceTensor::Values), never from this vector.
std::vector<double> RandomValues(size_t count, uint64_t seed, double lo, double hi);
// |count| integers uniform in [lo, hi], as doubles.
std::vector<double> RandomIntegers(size_t count, uint64_t seed, int64_t lo, int64_t hi);

//===------------------------------------------------------------------------------------------===//
// Device tensors
//===------------------------------------------------------------------------------------------===//

// Bytes of sentinel before and after every tensor's storage.
constexpr uint64_t kGuardBytes = 256;

// A tensor in a buffer of its own: kGuardBytes of sentinel, the bytes the view spans, kGuardBytes
// of sentinel. Bytes that are not an element of the view (guards and holes) hold the sentinel,
// whose every 2- and 4-byte word is a NaN (and an out-of-range i32 index), so a kernel that reads
// outside its view poisons its result and one that writes outside it is caught by Read.
class DeviceTensor {
 public:
  DeviceTensor() = default;
  DeviceTensor(DeviceTensor&&) = default;
  DeviceTensor& operator=(DeviceTensor&&) = default;

  const porta_tensor_t* get() const { return &tensor_; }
  const porta_tensor_t& tensor() const { return tensor_; }
  const TensorSpec& spec() const { return spec_; }
  porta_dtype_t dtype() const { return spec_.dtype; }
  const Shape& shape() const { return spec_.shape; }
  porta_buffer_t buffer() const { return buffer_.get(); }

  // The elements as uploaded (after rounding to the dtype), row-major over the shape.
  std::vector<double> Values() const;
  // The same as raw element bits (low 16 bits for 2-byte types).
  std::vector<uint32_t> Bits() const;

 private:
  friend class OpsTest;

  TensorSpec spec_;
  porta_tensor_t tensor_ = {};
  BufferHandle buffer_;
  // The whole buffer as uploaded, and which of its bytes belong to an element of the view.
  std::vector<uint8_t> image_;
  std::vector<uint8_t> covered_;
};

// A block-quantized tensor (Q4_0, Q4_1, Q8_0) in a buffer of its own: kGuardBytes, |offset| more
// bytes, the blocks its view spans (every one random, holes included), kGuardBytes. Made by
// OpsTest::MakeQuant (ops_quant_test.cpp, with the suite that tests these types).
struct QuantTensor {
  BufferHandle buffer;
  porta_tensor_t tensor = {};
  Shape shape;
  Shape strides;
  // The whole buffer as uploaded.
  std::vector<uint8_t> image;
  // The elements dequantized in double from the bytes by porta_ops.h's formulas, row-major.
  std::vector<double> values;
};

// "q4_1[8, 64] strides [64, 1] offset 256".
std::string QuantText(const QuantTensor& tensor);

//===------------------------------------------------------------------------------------------===//
// Error bounds and comparison
//===------------------------------------------------------------------------------------------===//

// What an operation's error bound is derived from (see the table in ops_cts.cpp).
enum class OpClass {
  // Defined exactly by f32 arithmetic and the store's rounding: compared value for value.
  kExact,
  // One f32 function or division per element (exp, log, tanh, erf, pow, division...).
  kElementwise,
  // Sums over k elements (reduce SUM/MEAN).
  kReduce,
  // exp, a sum over k = row length and a division.
  kSoftmax,
  // Mean and variance over k = row length, rsqrt, weight and bias.
  kNorm,
  // sin/cos of angles up to k radians.
  kRope,
  // Dot products of length D and a softmax-weighted sum over Lk: k = D + Lk.
  kAttention,
  // Dot products of length k = K, then alpha, beta, bias and the activation.
  kMatmul,
  // The same with block-quantized weights: the kernels fold each block's scale (and min) into
  // sums over its quants, whose cancellation costs a few more ulps per term.
  kQuantMatmul,
  // Dot products of length k = C / groups * KH * KW, then the bias.
  kConv,
  // Average of k = KH * KW values.
  kPoolAvg,
};

// The NMSE bound of |op_class| for an output of |dtype| and accumulation length |k|; 0 means the
// output must equal the reference exactly.
double ErrorBound(OpClass op_class, porta_dtype_t dtype, double k = 1);

// Compares |out| with |ref| (row-major over |shape|): NaN where the reference (rounded to |dtype|)
// is NaN and nowhere else, the same infinities, i32 outputs and |bound| 0 exactly, otherwise
// NMSE = sum (out - ref)^2 / sum ref^2 over the finite elements must not exceed |bound|. The
// failure names |what|, the dtype, the shape, the NMSE and the worst elements.
testing::AssertionResult CompareValues(const std::string& what, porta_dtype_t dtype,
                                       const Shape& shape, const std::vector<double>& out,
                                       const std::vector<double>& ref, double bound);

// Bit-for-bit comparison of element bits (copies, concatenation).
testing::AssertionResult CompareBits(const std::string& what, porta_dtype_t dtype,
                                     const Shape& shape, const std::vector<uint32_t>& out,
                                     const std::vector<uint32_t>& ref);

//===------------------------------------------------------------------------------------------===//
// Fixture
//===------------------------------------------------------------------------------------------===//

// Answer of porta_ops_supported with the library's message.
struct Support {
  porta_status_t status = PORTA_OK;
  std::string message;
};
Support QuerySupport(porta_ops_context_t context, porta_op_t op,
                     std::initializer_list<porta_dtype_t> dtypes);

// Skips the running test when the context's device cannot run |op| with the dtypes that follow
// (in the order porta_ops_supported takes them); any answer other than OK or UNSUPPORTED fails.
#define PORTA_OPS_REQUIRE(context, op, ...)                                                      \
  do {                                                                                           \
    const ::porta_cts::Support porta_ops_support_ =                                              \
        ::porta_cts::QuerySupport((context), (op), {__VA_ARGS__});                               \
    if (porta_ops_support_.status == PORTA_ERROR_UNSUPPORTED) {                                  \
      ::porta_cts::RecordSkipReason("op unsupported");                                           \
      GTEST_SKIP() << "porta_ops_supported(" #op ", " #__VA_ARGS__                               \
                   << "): " << porta_ops_support_.message;                                       \
    }                                                                                            \
    ASSERT_EQ(porta_ops_support_.status, PORTA_OK)                                               \
        << "porta_ops_supported(" #op ", " #__VA_ARGS__ ") returned "                            \
        << porta_status_string(porta_ops_support_.status) << ": " << porta_ops_support_.message; \
  } while (0)

// A test of the operator library on one device: the device's stream (StreamTest) and a
// porta_ops context created for the test and destroyed after it.
class OpsTest : public StreamTest {
 protected:
  void SetUp() override;
  void TearDown() override;

  porta_ops_context_t ctx() const { return ctx_.get(); }
  porta_stream_t stream() const { return stream_.get(); }

  // A seed no other data of the running test used.
  uint64_t NextSeed() { return seed_++; }

  // Uploads |values| (row-major over spec.shape, rounded to spec.dtype) into a new buffer laid out
  // as DeviceTensor describes. Waits for the upload, so |values| may go away at once.
  DeviceTensor Upload(const TensorSpec& spec, const std::vector<double>& values);
  // The same with raw element bits.
  DeviceTensor UploadBits(const TensorSpec& spec, const std::vector<uint32_t>& bits);
  // Seeded values uniform in [lo, hi).
  DeviceTensor Random(const TensorSpec& spec, double lo = -1.0, double hi = 1.0);
  // An output: every element holds the sentinel (NaN; a huge i32), so an element the operation
  // fails to write shows up.
  DeviceTensor Output(const TensorSpec& spec);

  // Downloads |tensor| and checks that no byte outside its elements changed.
  testing::AssertionResult Read(const DeviceTensor& tensor, std::vector<double>* values);
  testing::AssertionResult ReadBits(const DeviceTensor& tensor, std::vector<uint32_t>* bits);
  // Checks that no byte of |tensor|'s buffer changed (inputs; outputs of a rejected call).
  testing::AssertionResult Unchanged(const DeviceTensor& tensor);

  // A block-quantized tensor of |shape| (strides in elements, empty: contiguous) at |offset|
  // bytes past the guard, filled with seeded random blocks: quants over their whole range, f16
  // scales of a trained weight's magnitude, Q4_1 mins near -8 d; block 0 has d = 0 and block 1
  // the extreme quants.
  QuantTensor MakeQuant(porta_dtype_t dtype, const Shape& shape, Shape strides = {},
                        uint64_t offset = 0);
  testing::AssertionResult QuantUnchanged(const QuantTensor& tensor);

  // Reads |out|, checks that |inputs| are unchanged, and compares |out| with |ref| within
  // ErrorBound(op_class, out.dtype(), k). |what| names the operation and its inputs.
  testing::AssertionResult Verify(const std::string& what, OpClass op_class,
                                  const DeviceTensor& out, const std::vector<double>& ref,
                                  double k = 1,
                                  std::initializer_list<const DeviceTensor*> inputs = {});
  // The same for bit-exact outputs.
  testing::AssertionResult VerifyBits(const std::string& what, const DeviceTensor& out,
                                      const std::vector<uint32_t>& ref,
                                      std::initializer_list<const DeviceTensor*> inputs = {});

  OpsContextHandle ctx_;

 private:
  DeviceTensor Create(const TensorSpec& spec, const std::vector<uint32_t>* bits);

  uint64_t seed_ = 1;
};

//===------------------------------------------------------------------------------------------===//
// References, in double, on the values the device sees (DeviceTensor::Values). Shapes are
// row-major; every result is row-major over the output shape.
//===------------------------------------------------------------------------------------------===//

namespace ref {

// f(x) of porta_unary_op_t (PORTA_UNARY_NONE: x).
double Unary(porta_unary_op_t op, double x);
// f(a, b) of porta_binary_op_t (MAX, MIN propagate NaN; POW is C's pow).
double Binary(porta_binary_op_t op, double a, double b);

// Flat index into a tensor of |in_shape| broadcast (NumPy, aligned at the last dimension) to the
// element |out_index| of the output.
int64_t BroadcastIndex(const Shape& in_shape, const Shape& out_index);
// NumPy broadcast of two shapes (empty when they do not broadcast).
Shape BroadcastShapes(const Shape& a, const Shape& b);

std::vector<double> BinaryBroadcast(porta_binary_op_t op, const std::vector<double>& a,
                                    const Shape& a_shape, const std::vector<double>& b,
                                    const Shape& b_shape, const Shape& out_shape);

// out = act(alpha * op(a) @ op(b) + beta * c + bias); |c| and |bias| may be null.
struct MatmulArgs {
  const std::vector<double>* a = nullptr;
  Shape a_shape;
  const std::vector<double>* b = nullptr;
  Shape b_shape;
  bool transpose_a = false;
  bool transpose_b = false;
  double alpha = 1.0;
  double beta = 0.0;
  const std::vector<double>* c = nullptr;
  const std::vector<double>* bias = nullptr;
  porta_unary_op_t activation = PORTA_UNARY_NONE;
};
std::vector<double> Matmul(const MatmulArgs& args, const Shape& out_shape);

// Reduction of |x| over |axes| (normalized, distinct); the output keeps the reduced axes as 1 or
// drops them, and its shape is written to |out_shape|.
std::vector<double> Reduce(porta_reduce_op_t op, const std::vector<double>& x, const Shape& shape,
                           const std::vector<int>& axes, bool keep_dims, Shape* out_shape);
std::vector<double> Argmax(const std::vector<double>& x, const Shape& shape, int axis,
                           bool keep_dims, Shape* out_shape);

// Softmax over the last axis of x * scale + mask (|mask| may be null; it broadcasts to |shape|).
std::vector<double> Softmax(const std::vector<double>& x, const Shape& shape, double scale,
                            const std::vector<double>* mask, const Shape& mask_shape, bool causal,
                            bool log);

// Layer or RMS normalization over the last axis; |weight| and |bias| may be null.
std::vector<double> Norm(bool rms, const std::vector<double>& x, const Shape& shape,
                         const std::vector<double>* weight, const std::vector<double>* bias,
                         double eps);

// table [V, D] gathered by |indices| (any shape); an index outside [0, V) gives zeros.
std::vector<double> Embedding(const std::vector<double>& table, int64_t vocab, int64_t dim,
                              const std::vector<double>& indices);

std::vector<double> Rope(const std::vector<double>& x, const Shape& shape,
                         const std::vector<double>& positions, int seq_axis, porta_rope_mode_t mode,
                         int64_t rotary_dims, double theta_base, double freq_scale);

// q [B, Hq, Lq, D], k [B, Hkv, Lk, D], v [B, Hkv, Lk, Dv]; mask broadcasts to [B, Hq, Lq, Lk].
std::vector<double> Attention(const std::vector<double>& q, const Shape& q_shape,
                              const std::vector<double>& k, const Shape& k_shape,
                              const std::vector<double>& v, const Shape& v_shape,
                              const std::vector<double>* mask, const Shape& mask_shape,
                              double scale, bool causal);

// NCHW; |bias| may be null. |out_shape| receives [N, Co, Ho, Wo].
std::vector<double> Conv2d(const std::vector<double>& x, const Shape& x_shape,
                           const std::vector<double>& w, const Shape& w_shape,
                           const std::vector<double>* bias, const porta_conv2d_desc_t& desc,
                           Shape* out_shape);
std::vector<double> Pool2d(const std::vector<double>& x, const Shape& x_shape,
                           const porta_pool2d_desc_t& desc, Shape* out_shape);

// Output size of a convolution or pooling window along one dimension.
int64_t WindowOutputSize(int64_t in, int64_t kernel, int64_t stride, int64_t pad, int64_t dil);

}  // namespace ref

}  // namespace porta_cts

#endif  // PORTA_CONFORMANCE_OPS_OPS_CTS_H_
