// Implementation of the operator-library suites' infrastructure declared in ops_cts.h: number
// formats, device tensors with guards, the error-bound table and the comparison (the references
// are in ops_reference.cpp).
#include "conformance/ops/ops_cts.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numbers>
#include <sstream>

namespace porta_cts {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

// Every aligned 2- and 4-byte word of the repeated pattern is a NaN in f32, f16 and bf16
// (0x7fffffa5; 0xffa5 and 0x7fff), and 0x7fffffa5 is an i32 index no table reaches.
constexpr uint8_t kSentinel[4] = {0xa5, 0xff, 0xff, 0x7f};

// Rounds the finite |magnitude| >= 0 to nearest even in a binary format with |mantissa_bits|
// stored mantissa bits whose smallest normal exponent is |min_exponent| (subnormals share that
// exponent's quantum). Overflow is left to the caller.
double RoundMagnitude(double magnitude, int mantissa_bits, int min_exponent) {
  if (magnitude == 0.0) return 0.0;
  int exponent = 0;
  std::frexp(magnitude, &exponent);  // magnitude = m * 2^exponent with m in [0.5, 1)
  const int lead = std::max(exponent - 1, min_exponent);
  const double quantum = std::ldexp(1.0, lead - mantissa_bits);
  // Division by a power of two is exact; nearbyint rounds half to even in the default mode.
  return std::nearbyint(magnitude / quantum) * quantum;
}

// |value| rounded to f32, nearest even; beyond the f32 range that is infinity (a plain cast of
// such a double is undefined behaviour).
float ToFloat(double value) {
  constexpr double kMax = std::numeric_limits<float>::max();
  // Halfway between FLT_MAX and 2^128, where rounding to nearest goes to infinity.
  constexpr double kOverflow = 0x1.ffffffp127;
  if (std::isfinite(value) && std::fabs(value) > kMax) {
    const float inf = std::numeric_limits<float>::infinity();
    if (std::fabs(value) >= kOverflow) return value > 0 ? inf : -inf;
    return static_cast<float>(value > 0 ? kMax : -kMax);
  }
  return static_cast<float>(value);
}

uint32_t FloatBits(float value) {
  uint32_t bits = 0;
  std::memcpy(&bits, &value, sizeof bits);
  return bits;
}

float BitsFloat(uint32_t bits) {
  float value = 0;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

uint32_t LoadBits(const uint8_t* src, size_t size) {
  uint32_t bits = 0;
  for (size_t i = 0; i < size; ++i) bits |= uint32_t{src[i]} << (8 * i);
  return bits;
}

void StoreBits(uint32_t bits, size_t size, uint8_t* dst) {
  for (size_t i = 0; i < size; ++i) dst[i] = static_cast<uint8_t>(bits >> (8 * i));
}

// Byte of |spec|'s element |flat| (row-major) inside its buffer.
uint64_t ElementByte(const TensorSpec& spec, int64_t flat) {
  int64_t element = spec.offset;
  for (size_t d = spec.shape.size(); d-- > 0;) {
    const int64_t index = flat % spec.shape[d];
    flat /= spec.shape[d];
    element += index * spec.strides[d];
  }
  return kGuardBytes + static_cast<uint64_t>(element) * DtypeSize(spec.dtype);
}

// AssertionResult formats each value in a fresh stream, so std::hex would not carry over.
std::string Hex(uint32_t value) {
  std::ostringstream out;
  out << "0x" << std::hex << value;
  return out.str();
}

std::string ValueText(double value) {
  std::ostringstream out;
  out.precision(9);
  out << value;
  return out.str();
}

// One row of the bound table: the NMSE an output of |dtype| may show for |op_class| at k = 1,
// and how much more per unit of k (the accumulation length; for kRope the largest angle).
// bound(k) = (sqrt(nmse) + sqrt(nmse_k * k))^2, or (sqrt(nmse) + sqrt(nmse_k) * k)^2 for kRope:
// the relative errors add, and a sum of k f32 terms with random signs drifts like sqrt(k) ulps
// while an angle's f32 error grows linearly with the angle.
//
// The numbers: u32 = 2^-24 (6.0e-8), u16 = 2^-11 (4.9e-4), ub16 = 2^-8 (3.9e-3) are the relative
// rounding errors of a round-to-nearest store; an output can never be closer to the true value
// than that, so each row is (store rounding + the f32 computation's worst error)^2. The f32 errors
// are the loosest the APIs allow: OpenCL's exp/log/tanh/erf within 3-16 ulp, Vulkan's exp within
// 3 + 2|x| ulp and its tanh/pow/sinh "inherited" from exp, i.e. a few times 2^-23: 4e-6 (33 ulp)
// covers every one of them with room. Accumulations get 8 * sqrt(k) * u32 more: a sequential f32
// sum of k random-signed terms drifts by about 0.4 * sqrt(k) ulp of its result, so 8 is a 20x
// margin (400x in NMSE) that a tree or blocked order only widens.
//
// Why a wrong kernel cannot pass: an element taken from a neighbour, a dropped term of k, a
// wrong scale (1/sqrt(D) vs 1/D, n vs n - 1), a missing bias or a wrong activation moves the NMSE
// by 1e-3 or more on the suites' data (e.g. one of k = 4096 terms missing: 2.4e-4), above every
// row, bf16 included. A wrong rounding mode (truncation instead of nearest even) stays inside the
// f16/bf16 rows (its NMSE is about 0.7 u^2), which is why the kExact checks exist: add, mul, cast,
// max and integer-valued matmul/conv/reduce/pool data make the f32 result exact, so the stored
// value is fully determined and compared value for value.
struct BoundRow {
  OpClass op_class;
  porta_dtype_t dtype;
  double nmse;
  double nmse_k;
};

constexpr BoundRow kBounds[] = {
    // Exact: defined bit for bit by IEEE f32 arithmetic and the store's rounding.
    {OpClass::kExact, PORTA_DTYPE_F32, 0, 0},
    {OpClass::kExact, PORTA_DTYPE_F16, 0, 0},
    {OpClass::kExact, PORTA_DTYPE_BF16, 0, 0},
    {OpClass::kExact, PORTA_DTYPE_I32, 0, 0},
    // f32 output of one f32 function: (u32 + 4e-6)^2 = (4.06e-6)^2.
    {OpClass::kElementwise, PORTA_DTYPE_F32, 1.7e-11, 0},
    // f16 output: RNE to 11 bits (2^-11) on top of the f32 error, (4.88e-4 + 4e-6)^2.
    {OpClass::kElementwise, PORTA_DTYPE_F16, 2.43e-7, 0},
    // bf16 output: RNE to 8 bits (2^-8) on top of the f32 error, (3.906e-3 + 4e-6)^2.
    {OpClass::kElementwise, PORTA_DTYPE_BF16, 1.53e-5, 0},
    // f32 sum: the scale multiply and final store, ~1e-6, plus 8 sqrt(k) u32 of summation drift.
    {OpClass::kReduce, PORTA_DTYPE_F32, 1.13e-12, 2.3e-13},
    // f16 sum: store rounding (4.88e-4 + 1e-6)^2 plus the same drift.
    {OpClass::kReduce, PORTA_DTYPE_F16, 2.40e-7, 2.3e-13},
    // bf16 sum: store rounding (3.906e-3 + 1e-6)^2 plus the same drift.
    {OpClass::kReduce, PORTA_DTYPE_BF16, 1.53e-5, 2.3e-13},
    // f32 softmax: exp's error (4e-6) dominates each probability; the row sum drifts with sqrt(k).
    {OpClass::kSoftmax, PORTA_DTYPE_F32, 1.7e-11, 2.3e-13},
    // f16 softmax: store rounding 2^-11 plus exp's 4e-6 plus the row-sum drift.
    {OpClass::kSoftmax, PORTA_DTYPE_F16, 2.43e-7, 2.3e-13},
    // bf16 softmax: store rounding 2^-8 plus exp's 4e-6 plus the row-sum drift.
    {OpClass::kSoftmax, PORTA_DTYPE_BF16, 1.53e-5, 2.3e-13},
    // f32 norm: rsqrt (2-3 ulp), weight and bias (4e-6 in all) plus the mean/variance drift.
    {OpClass::kNorm, PORTA_DTYPE_F32, 1.7e-11, 2.3e-13},
    // f16 norm: store rounding 2^-11 plus the f32 error.
    {OpClass::kNorm, PORTA_DTYPE_F16, 2.43e-7, 2.3e-13},
    // bf16 norm: store rounding 2^-8 plus the f32 error.
    {OpClass::kNorm, PORTA_DTYPE_BF16, 1.53e-5, 2.3e-13},
    // f32 rope: sin/cos (4e-6) plus the angle's own f32 error, 32 u32 per radian (the inverse
    // frequency, exp2 and pos * freq each round: ~27 ulp of the angle), linear in the largest
    // angle.
    {OpClass::kRope, PORTA_DTYPE_F32, 1.7e-11, 3.7e-12},
    // f16 rope: store rounding 2^-11 plus the f32 error.
    {OpClass::kRope, PORTA_DTYPE_F16, 2.43e-7, 3.7e-12},
    // bf16 rope: store rounding 2^-8 plus the f32 error.
    {OpClass::kRope, PORTA_DTYPE_BF16, 1.53e-5, 3.7e-12},
    // f32 attention: exp (4e-6) plus drift of the D-long dot products and the Lk-long sums.
    {OpClass::kAttention, PORTA_DTYPE_F32, 1.7e-11, 2.3e-13},
    // f16 attention: store rounding 2^-11 plus the f32 error.
    {OpClass::kAttention, PORTA_DTYPE_F16, 2.43e-7, 2.3e-13},
    // bf16 attention: store rounding 2^-8 plus the f32 error.
    {OpClass::kAttention, PORTA_DTYPE_BF16, 1.53e-5, 2.3e-13},
    // f32 matmul: the epilogue (alpha, beta, bias, erf/tanh activations: 4e-6) plus K-long drift.
    {OpClass::kMatmul, PORTA_DTYPE_F32, 1.7e-11, 2.3e-13},
    // f16 matmul: store rounding 2^-11 plus the f32 error.
    {OpClass::kMatmul, PORTA_DTYPE_F16, 2.43e-7, 2.3e-13},
    // bf16 matmul: store rounding 2^-8 plus the f32 error.
    {OpClass::kMatmul, PORTA_DTYPE_BF16, 1.53e-5, 2.3e-13},
    // Quantized matmul: as matmul, with ten times the drift per term (NMSE), since a block's
    // dot product is taken as d * (sum q a - 8 sum a) or d * sum q a + m * sum a, two sums some
    // three times the size of their difference on random data.
    {OpClass::kQuantMatmul, PORTA_DTYPE_F32, 1.7e-11, 2.3e-12},
    {OpClass::kQuantMatmul, PORTA_DTYPE_F16, 2.43e-7, 2.3e-12},
    {OpClass::kQuantMatmul, PORTA_DTYPE_BF16, 1.53e-5, 2.3e-12},
    // f32 conv2d: the bias add (1e-6) plus drift of the C/g*KH*KW-long dot products.
    {OpClass::kConv, PORTA_DTYPE_F32, 1.13e-12, 2.3e-13},
    // f16 conv2d: store rounding 2^-11 plus the f32 error.
    {OpClass::kConv, PORTA_DTYPE_F16, 2.40e-7, 2.3e-13},
    // bf16 conv2d: store rounding 2^-8 plus the f32 error.
    {OpClass::kConv, PORTA_DTYPE_BF16, 1.53e-5, 2.3e-13},
    // f32 average pool: the division (2.5 ulp, 1e-6 with room) plus drift of KH*KW terms.
    {OpClass::kPoolAvg, PORTA_DTYPE_F32, 1.13e-12, 2.3e-13},
    // f16 average pool: store rounding 2^-11 plus the f32 error.
    {OpClass::kPoolAvg, PORTA_DTYPE_F16, 2.40e-7, 2.3e-13},
    // bf16 average pool: store rounding 2^-8 plus the f32 error.
    {OpClass::kPoolAvg, PORTA_DTYPE_BF16, 1.53e-5, 2.3e-13},
};

}  // namespace

//===------------------------------------------------------------------------------------------===//
// Number formats
//===------------------------------------------------------------------------------------------===//

size_t DtypeSize(porta_dtype_t dtype) {
  switch (dtype) {
    case PORTA_DTYPE_F32:
    case PORTA_DTYPE_I32:
      return 4;
    case PORTA_DTYPE_F16:
    case PORTA_DTYPE_BF16:
      return 2;
    case PORTA_DTYPE_I8:
      return 1;
    // Block-quantized types: the bytes of one block of 32 elements.
    case PORTA_DTYPE_Q4_0:
      return 18;
    case PORTA_DTYPE_Q4_1:
      return 20;
    case PORTA_DTYPE_Q8_0:
      return 34;
  }
  return 0;
}

const char* DtypeName(porta_dtype_t dtype) {
  switch (dtype) {
    case PORTA_DTYPE_F32:
      return "f32";
    case PORTA_DTYPE_F16:
      return "f16";
    case PORTA_DTYPE_BF16:
      return "bf16";
    case PORTA_DTYPE_I32:
      return "i32";
    case PORTA_DTYPE_I8:
      return "i8";
    case PORTA_DTYPE_Q4_0:
      return "q4_0";
    case PORTA_DTYPE_Q4_1:
      return "q4_1";
    case PORTA_DTYPE_Q8_0:
      return "q8_0";
  }
  return "unknown";
}

uint16_t F16FromFloat(float value) {
  const uint16_t sign = std::signbit(value) ? 0x8000 : 0;
  if (std::isnan(value)) return sign | 0x7e00;
  if (std::isinf(value)) return sign | 0x7c00;
  const double r = RoundMagnitude(std::fabs(static_cast<double>(value)), 10, -14);
  if (r > 65504.0) return sign | 0x7c00;
  if (r < 0x1p-14) return static_cast<uint16_t>(sign | static_cast<uint16_t>(r * 0x1p24));
  int exponent = 0;
  std::frexp(r, &exponent);
  const int e = exponent - 1;
  const auto mantissa = static_cast<uint16_t>((std::ldexp(r, -e) - 1.0) * 1024.0);
  return static_cast<uint16_t>(sign | ((e + 15) << 10) | mantissa);
}

uint16_t Bf16FromFloat(float value) {
  const uint16_t sign = std::signbit(value) ? 0x8000 : 0;
  if (std::isnan(value)) return sign | 0x7fc0;
  if (std::isinf(value)) return sign | 0x7f80;
  const double r = RoundMagnitude(std::fabs(static_cast<double>(value)), 7, -126);
  if (r > 0x1.fep127) return sign | 0x7f80;
  // r has at most 8 significant bits, so it is an f32 whose low 16 bits are zero.
  return static_cast<uint16_t>(sign | (FloatBits(static_cast<float>(r)) >> 16));
}

double F16ToDouble(uint16_t bits) {
  const double sign = (bits & 0x8000) != 0 ? -1.0 : 1.0;
  const int exponent = (bits >> 10) & 0x1f;
  const int mantissa = bits & 0x3ff;
  if (exponent == 31) return mantissa != 0 ? kNaN : sign * kInf;
  if (exponent == 0) return sign * std::ldexp(mantissa, -24);
  return sign * std::ldexp(1024 + mantissa, exponent - 25);
}

double Bf16ToDouble(uint16_t bits) {
  return BitsFloat(uint32_t{bits} << 16);
}

double RoundTo(porta_dtype_t dtype, double value) {
  const float f = ToFloat(value);
  switch (dtype) {
    case PORTA_DTYPE_F32:
      return f;
    case PORTA_DTYPE_F16:
      return F16ToDouble(F16FromFloat(f));
    case PORTA_DTYPE_BF16:
      return Bf16ToDouble(Bf16FromFloat(f));
    case PORTA_DTYPE_I32:
      return std::trunc(static_cast<double>(f));
    case PORTA_DTYPE_I8:
    case PORTA_DTYPE_Q4_0:
    case PORTA_DTYPE_Q4_1:
    case PORTA_DTYPE_Q8_0:
      break;
  }
  return value;
}

uint32_t EncodeElement(porta_dtype_t dtype, double value) {
  switch (dtype) {
    case PORTA_DTYPE_F32:
      return FloatBits(ToFloat(value));
    case PORTA_DTYPE_F16:
      return F16FromFloat(ToFloat(value));
    case PORTA_DTYPE_BF16:
      return Bf16FromFloat(ToFloat(value));
    case PORTA_DTYPE_I32: {
      // Data, not a store: integers are taken as they are (clamped so the cast is defined).
      const double clamped = std::clamp(std::trunc(value), -2147483648.0, 2147483647.0);
      return static_cast<uint32_t>(static_cast<int32_t>(clamped));
    }
    case PORTA_DTYPE_I8:
      return static_cast<uint8_t>(static_cast<int8_t>(std::clamp(value, -128.0, 127.0)));
    // Blocks, not elements: OpsTest::MakeQuant builds them.
    case PORTA_DTYPE_Q4_0:
    case PORTA_DTYPE_Q4_1:
    case PORTA_DTYPE_Q8_0:
      break;
  }
  return 0;
}

double DecodeElement(porta_dtype_t dtype, uint32_t bits) {
  switch (dtype) {
    case PORTA_DTYPE_F32:
      return BitsFloat(bits);
    case PORTA_DTYPE_F16:
      return F16ToDouble(static_cast<uint16_t>(bits));
    case PORTA_DTYPE_BF16:
      return Bf16ToDouble(static_cast<uint16_t>(bits));
    case PORTA_DTYPE_I32:
      return static_cast<int32_t>(bits);
    case PORTA_DTYPE_I8:
      return static_cast<int8_t>(bits);
    case PORTA_DTYPE_Q4_0:
    case PORTA_DTYPE_Q4_1:
    case PORTA_DTYPE_Q8_0:
      break;
  }
  return kNaN;
}

//===------------------------------------------------------------------------------------------===//
// Shapes and layouts
//===------------------------------------------------------------------------------------------===//

int64_t ElementCount(const Shape& shape) {
  int64_t count = 1;
  for (int64_t dim : shape) count *= dim;
  return count;
}

Shape ContiguousStrides(const Shape& shape) {
  Shape strides(shape.size());
  int64_t stride = 1;
  for (size_t d = shape.size(); d-- > 0;) {
    strides[d] = stride;
    stride *= std::max<int64_t>(shape[d], 1);
  }
  return strides;
}

Shape Unflatten(const Shape& shape, int64_t flat) {
  Shape index(shape.size());
  for (size_t d = shape.size(); d-- > 0;) {
    index[d] = shape[d] > 0 ? flat % shape[d] : 0;
    flat = shape[d] > 0 ? flat / shape[d] : 0;
  }
  return index;
}

std::string ShapeText(const Shape& shape) {
  std::string text = "[";
  for (size_t d = 0; d < shape.size(); ++d) {
    if (d > 0) text += ", ";
    text += std::to_string(shape[d]);
  }
  return text + "]";
}

TensorSpec Contiguous(porta_dtype_t dtype, Shape shape) {
  TensorSpec spec;
  spec.dtype = dtype;
  spec.strides = ContiguousStrides(shape);
  spec.shape = std::move(shape);
  return spec;
}

TensorSpec Sliced(porta_dtype_t dtype, Shape shape, int64_t step) {
  Shape parent(shape.size());
  for (size_t d = 0; d < shape.size(); ++d) parent[d] = shape[d] * step + 1;
  const Shape parent_strides = ContiguousStrides(parent);
  TensorSpec spec;
  spec.dtype = dtype;
  spec.strides.resize(shape.size());
  for (size_t d = 0; d < shape.size(); ++d) {
    spec.strides[d] = parent_strides[d] * step;
    spec.offset += parent_strides[d];
  }
  spec.shape = std::move(shape);
  return spec;
}

TensorSpec Permuted(porta_dtype_t dtype, Shape shape, const std::vector<int>& perm) {
  Shape parent(shape.size());
  for (size_t d = 0; d < shape.size(); ++d) parent[static_cast<size_t>(perm[d])] = shape[d];
  const Shape parent_strides = ContiguousStrides(parent);
  TensorSpec spec;
  spec.dtype = dtype;
  spec.strides.resize(shape.size());
  for (size_t d = 0; d < shape.size(); ++d) {
    spec.strides[d] = parent_strides[static_cast<size_t>(perm[d])];
  }
  spec.shape = std::move(shape);
  return spec;
}

TensorSpec Broadcast(porta_dtype_t dtype, Shape shape, const std::vector<int>& dims) {
  Shape stored = shape;
  for (int d : dims) stored[static_cast<size_t>(d)] = 1;
  TensorSpec spec;
  spec.dtype = dtype;
  spec.strides = ContiguousStrides(stored);
  for (int d : dims) spec.strides[static_cast<size_t>(d)] = 0;
  spec.shape = std::move(shape);
  return spec;
}

std::string SpecText(const TensorSpec& spec) {
  std::string text = std::string(DtypeName(spec.dtype)) + ShapeText(spec.shape);
  if (!spec.strides.empty() && spec.strides != ContiguousStrides(spec.shape)) {
    text += " strides " + ShapeText(spec.strides);
  }
  if (spec.offset != 0) text += " offset " + std::to_string(spec.offset);
  return text;
}

//===------------------------------------------------------------------------------------------===//
// Seeded data
//===------------------------------------------------------------------------------------------===//

Rng::Rng(uint64_t seed) : state_(seed * 0x9e3779b97f4a7c15ull + 0x632be59bd9b4e019ull) {}

uint64_t Rng::Next() {
  uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

double Rng::Uniform(double lo, double hi) {
  return lo + (hi - lo) * static_cast<double>(Next() >> 11) * 0x1p-53;
}

int64_t Rng::Int(int64_t lo, int64_t hi) {
  const auto range = static_cast<uint64_t>(hi - lo) + 1;
  return lo + static_cast<int64_t>(Next() % range);
}

std::vector<double> RandomValues(size_t count, uint64_t seed, double lo, double hi) {
  Rng rng(seed);
  std::vector<double> values(count);
  for (double& value : values) value = rng.Uniform(lo, hi);
  return values;
}

std::vector<double> RandomIntegers(size_t count, uint64_t seed, int64_t lo, int64_t hi) {
  Rng rng(seed);
  std::vector<double> values(count);
  for (double& value : values) value = static_cast<double>(rng.Int(lo, hi));
  return values;
}

//===------------------------------------------------------------------------------------------===//
// Device tensors
//===------------------------------------------------------------------------------------------===//

std::vector<double> DeviceTensor::Values() const {
  const std::vector<uint32_t> bits = Bits();
  std::vector<double> values(bits.size());
  for (size_t i = 0; i < bits.size(); ++i) values[i] = DecodeElement(spec_.dtype, bits[i]);
  return values;
}

std::vector<uint32_t> DeviceTensor::Bits() const {
  const int64_t count = ElementCount(spec_.shape);
  std::vector<uint32_t> bits(static_cast<size_t>(std::max<int64_t>(count, 0)));
  for (int64_t i = 0; i < count; ++i) {
    bits[static_cast<size_t>(i)] =
        LoadBits(image_.data() + ElementByte(spec_, i), DtypeSize(spec_.dtype));
  }
  return bits;
}

//===------------------------------------------------------------------------------------------===//
// Bounds and comparison
//===------------------------------------------------------------------------------------------===//

double ErrorBound(OpClass op_class, porta_dtype_t dtype, double k) {
  if (dtype == PORTA_DTYPE_I32) return 0;
  for (const BoundRow& row : kBounds) {
    if (row.op_class != op_class || row.dtype != dtype) continue;
    const double growth = op_class == OpClass::kRope ? std::sqrt(row.nmse_k) * k
                                                     : std::sqrt(row.nmse_k * std::max(k, 0.0));
    const double rel = std::sqrt(row.nmse) + growth;
    return rel * rel;
  }
  ADD_FAILURE() << "no error bound for dtype " << DtypeName(dtype);
  return 0;
}

testing::AssertionResult CompareValues(const std::string& what, porta_dtype_t dtype,
                                       const Shape& shape, const std::vector<double>& out,
                                       const std::vector<double>& ref, double bound) {
  const std::string head = what + ": out " + DtypeName(dtype) + ShapeText(shape);
  if (out.size() != ref.size()) {
    return testing::AssertionFailure()
           << head << ": " << out.size() << " elements, reference " << ref.size();
  }
  const bool exact = bound == 0 || dtype == PORTA_DTYPE_I32;
  std::vector<size_t> mismatches;
  double err2 = 0, ref2 = 0;
  for (size_t i = 0; i < out.size(); ++i) {
    const double expected = RoundTo(dtype, ref[i]);
    const double got = out[i];
    if (std::isnan(expected) || std::isnan(got)) {
      if (std::isnan(expected) != std::isnan(got)) mismatches.push_back(i);
      continue;
    }
    if (std::isinf(expected) || std::isinf(got)) {
      if (expected != got) mismatches.push_back(i);
      continue;
    }
    if (exact) {
      if (got != expected) mismatches.push_back(i);
      continue;
    }
    err2 += (got - ref[i]) * (got - ref[i]);
    ref2 += ref[i] * ref[i];
  }
  // An all-zero reference leaves no scale to normalize by: then only zero error passes.
  const double nmse = ref2 > 0 ? err2 / ref2 : (err2 > 0 ? kInf : 0.0);
  if (mismatches.empty() && (exact || nmse <= bound)) return testing::AssertionSuccess();

  testing::AssertionResult failure = testing::AssertionFailure();
  failure << head;
  auto element = [&](size_t i) {
    std::ostringstream text;
    text << "\n    " << ShapeText(Unflatten(shape, static_cast<int64_t>(i))) << ": out "
         << ValueText(out[i]) << ", expected "
         << ValueText(exact ? RoundTo(dtype, ref[i]) : ref[i]);
    return text.str();
  };
  if (!mismatches.empty()) {
    failure << ": " << mismatches.size() << " of " << out.size() << " elements "
            << (exact ? "differ (exact comparison)" : "differ in NaN or infinity");
    for (size_t j = 0; j < std::min<size_t>(mismatches.size(), 6); ++j) {
      failure << element(mismatches[j]);
    }
  }
  if (!exact) {
    failure << "\n  NMSE " << nmse << " (bound " << bound << "); worst elements:";
    std::vector<size_t> order;
    for (size_t i = 0; i < out.size(); ++i) {
      if (std::isfinite(out[i]) && std::isfinite(ref[i])) order.push_back(i);
    }
    const size_t shown = std::min<size_t>(order.size(), 5);
    std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(shown),
                      order.end(), [&](size_t a, size_t b) {
                        return std::fabs(out[a] - ref[a]) > std::fabs(out[b] - ref[b]);
                      });
    for (size_t j = 0; j < shown; ++j) failure << element(order[j]);
  }
  return failure;
}

testing::AssertionResult CompareBits(const std::string& what, porta_dtype_t dtype,
                                     const Shape& shape, const std::vector<uint32_t>& out,
                                     const std::vector<uint32_t>& ref) {
  const std::string head = what + ": out " + DtypeName(dtype) + ShapeText(shape);
  if (out.size() != ref.size()) {
    return testing::AssertionFailure()
           << head << ": " << out.size() << " elements, reference " << ref.size();
  }
  std::vector<size_t> mismatches;
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] != ref[i]) mismatches.push_back(i);
  }
  if (mismatches.empty()) return testing::AssertionSuccess();
  testing::AssertionResult failure = testing::AssertionFailure();
  failure << head << ": " << mismatches.size() << " of " << out.size()
          << " elements differ (bit-exact comparison)";
  for (size_t j = 0; j < std::min<size_t>(mismatches.size(), 6); ++j) {
    const size_t i = mismatches[j];
    failure << "\n    " << ShapeText(Unflatten(shape, static_cast<int64_t>(i))) << ": out "
            << Hex(out[i]) << ", expected " << Hex(ref[i]);
  }
  return failure;
}

//===------------------------------------------------------------------------------------------===//
// Fixture
//===------------------------------------------------------------------------------------------===//

Support QuerySupport(porta_ops_context_t context, porta_op_t op,
                     std::initializer_list<porta_dtype_t> dtypes) {
  const std::vector<porta_dtype_t> list(dtypes);
  Support support;
  support.status =
      porta_ops_supported(context, op, list.data(), static_cast<uint32_t>(list.size()));
  if (support.status != PORTA_OK) support.message = porta_last_error_message();
  return support;
}

void OpsTest::SetUp() {
  StreamTest::SetUp();
  if (HasFatalFailure() || IsSkipped()) return;
  // The suite checks the library as shipped: a tuning file an earlier porta-tune run left in the
  // cache folder must not change what it runs.
  porta_ops_context_options_t options = PORTA_OPS_CONTEXT_OPTIONS_INIT;
  options.flags = PORTA_OPS_CONTEXT_NO_TUNING_FILE;
  ASSERT_PORTA_OK(porta_ops_context_create(device_, &options, ctx_.out()));
  // On a device that accepts none of the library's kernel formats every operation is unsupported,
  // even one with bad arguments (the format is checked first), so no suite can run there: each
  // test skips with the library's message naming both sides. f32 unary runs wherever the library
  // has a format, so its answer tells the two cases apart.
  const Support support =
      QuerySupport(ctx_.get(), PORTA_OP_UNARY, {PORTA_DTYPE_F32, PORTA_DTYPE_F32});
  if (support.status == PORTA_ERROR_UNSUPPORTED) {
    RecordSkipReason("a kernel format the operator library ships");
    GTEST_SKIP() << "the operator library cannot run on this device: " << support.message;
  }
  ASSERT_EQ(support.status, PORTA_OK)
      << "porta_ops_supported(PORTA_OP_UNARY, f32, f32) returned "
      << porta_status_string(support.status) << ": " << support.message;
}

void OpsTest::TearDown() {
  // Work still queued may use the context's kernels; the stream is drained before they go.
  if (stream_) porta_stream_synchronize(stream_.get());
  if (ctx_) {
    EXPECT_PORTA_OK(porta_ops_context_destroy(ctx_.release()));
  }
  StreamTest::TearDown();
}

DeviceTensor OpsTest::Create(const TensorSpec& in_spec, const std::vector<uint32_t>* bits) {
  DeviceTensor t;
  t.spec_ = in_spec;
  if (t.spec_.strides.empty()) t.spec_.strides = ContiguousStrides(t.spec_.shape);
  const TensorSpec& spec = t.spec_;
  if (spec.shape.size() > PORTA_TENSOR_MAX_RANK || spec.strides.size() != spec.shape.size()) {
    ADD_FAILURE() << "bad test tensor " << SpecText(spec);
    return t;
  }
  const size_t size = DtypeSize(spec.dtype);
  const int64_t count = ElementCount(spec.shape);
  if (bits != nullptr && bits->size() != static_cast<size_t>(count)) {
    ADD_FAILURE() << "test data for " << SpecText(spec) << " has " << bits->size() << " elements";
    return t;
  }
  int64_t span = spec.offset;
  if (count > 0) {
    int64_t last = 0;
    for (size_t d = 0; d < spec.shape.size(); ++d) last += (spec.shape[d] - 1) * spec.strides[d];
    span += last + 1;
  }
  const uint64_t bytes = 2 * kGuardBytes + static_cast<uint64_t>(span) * size;
  t.image_.resize(bytes);
  for (uint64_t i = 0; i < bytes; ++i) t.image_[i] = kSentinel[i % 4];
  t.covered_.assign(bytes, 0);
  for (int64_t i = 0; i < count; ++i) {
    const uint64_t at = ElementByte(spec, i);
    if (bits != nullptr) StoreBits((*bits)[static_cast<size_t>(i)], size, t.image_.data() + at);
    std::fill_n(t.covered_.begin() + static_cast<std::ptrdiff_t>(at), size, uint8_t{1});
  }
  porta_status_t status = porta_buffer_alloc(device_, bytes, PORTA_MEMORY_DEVICE, t.buffer_.out());
  if (status == PORTA_OK) {
    status = porta_copy_host_to_device(stream(), t.buffer_.get(), 0, t.image_.data(), bytes);
  }
  if (status == PORTA_OK) status = porta_stream_synchronize(stream());
  if (status != PORTA_OK) {
    ADD_FAILURE() << "uploading " << SpecText(spec) << " (" << bytes
                  << " bytes) failed: " << porta_status_string(status) << ": "
                  << porta_last_error_message();
  }
  t.tensor_.buffer = t.buffer_.get();
  t.tensor_.offset = kGuardBytes + static_cast<uint64_t>(spec.offset) * size;
  t.tensor_.dtype = spec.dtype;
  t.tensor_.rank = static_cast<uint32_t>(spec.shape.size());
  for (size_t d = 0; d < spec.shape.size(); ++d) {
    t.tensor_.shape[d] = spec.shape[d];
    t.tensor_.strides[d] = spec.strides[d];
  }
  return t;
}

DeviceTensor OpsTest::Upload(const TensorSpec& spec, const std::vector<double>& values) {
  std::vector<uint32_t> bits(values.size());
  for (size_t i = 0; i < values.size(); ++i) bits[i] = EncodeElement(spec.dtype, values[i]);
  return Create(spec, &bits);
}

DeviceTensor OpsTest::UploadBits(const TensorSpec& spec, const std::vector<uint32_t>& bits) {
  return Create(spec, &bits);
}

DeviceTensor OpsTest::Random(const TensorSpec& spec, double lo, double hi) {
  const auto count = static_cast<size_t>(ElementCount(spec.shape));
  return Upload(spec, RandomValues(count, NextSeed(), lo, hi));
}

DeviceTensor OpsTest::Output(const TensorSpec& spec) {
  return Create(spec, nullptr);
}

testing::AssertionResult OpsTest::ReadBits(const DeviceTensor& tensor,
                                           std::vector<uint32_t>* bits) {
  const std::string name = SpecText(tensor.spec_);
  if (!tensor.buffer_) return testing::AssertionFailure() << name << " was never uploaded";
  std::vector<uint8_t> now(tensor.image_.size());
  testing::AssertionResult read =
      ReadBuffer(stream(), tensor.buffer_.get(), 0, now.size(), now.data());
  if (!read) return read << " (reading " << name << ")";
  for (size_t i = 0; i < now.size(); ++i) {
    if (tensor.covered_[i] != 0 || now[i] == tensor.image_[i]) continue;
    const char* where = i < kGuardBytes                 ? "the guard before"
                        : i >= now.size() - kGuardBytes ? "the guard after"
                                                        : "a hole between elements of";
    return testing::AssertionFailure()
           << "byte " << i << " of the buffer, in " << where << " the view " << name
           << ", was overwritten (" << Hex(tensor.image_[i]) << " -> " << Hex(now[i])
           << "): the operation wrote outside its output";
  }
  const int64_t count = ElementCount(tensor.spec_.shape);
  bits->assign(static_cast<size_t>(std::max<int64_t>(count, 0)), 0);
  for (int64_t i = 0; i < count; ++i) {
    (*bits)[static_cast<size_t>(i)] =
        LoadBits(now.data() + ElementByte(tensor.spec_, i), DtypeSize(tensor.spec_.dtype));
  }
  return testing::AssertionSuccess();
}

testing::AssertionResult OpsTest::Read(const DeviceTensor& tensor, std::vector<double>* values) {
  std::vector<uint32_t> bits;
  testing::AssertionResult read = ReadBits(tensor, &bits);
  if (!read) return read;
  values->resize(bits.size());
  for (size_t i = 0; i < bits.size(); ++i) (*values)[i] = DecodeElement(tensor.dtype(), bits[i]);
  return testing::AssertionSuccess();
}

testing::AssertionResult OpsTest::Unchanged(const DeviceTensor& tensor) {
  const std::string name = SpecText(tensor.spec_);
  if (!tensor.buffer_) return testing::AssertionFailure() << name << " was never uploaded";
  std::vector<uint8_t> now(tensor.image_.size());
  testing::AssertionResult read =
      ReadBuffer(stream(), tensor.buffer_.get(), 0, now.size(), now.data());
  if (!read) return read << " (reading " << name << ")";
  for (size_t i = 0; i < now.size(); ++i) {
    if (now[i] == tensor.image_[i]) continue;
    return testing::AssertionFailure()
           << "byte " << i << " of the buffer of " << name << " changed (" << Hex(tensor.image_[i])
           << " -> " << Hex(now[i]) << "): something wrote to a tensor it must not touch";
  }
  return testing::AssertionSuccess();
}

testing::AssertionResult OpsTest::Verify(const std::string& what, OpClass op_class,
                                         const DeviceTensor& out, const std::vector<double>& ref,
                                         double k,
                                         std::initializer_list<const DeviceTensor*> inputs) {
  std::vector<double> values;
  testing::AssertionResult read = Read(out, &values);
  if (!read) return read << " [" << what << "]";
  for (const DeviceTensor* input : inputs) {
    if (input->buffer() == out.buffer()) continue;
    testing::AssertionResult unchanged = Unchanged(*input);
    if (!unchanged) return unchanged << " [" << what << "]";
  }
  return CompareValues(what, out.dtype(), out.shape(), values, ref,
                       ErrorBound(op_class, out.dtype(), k));
}

testing::AssertionResult OpsTest::VerifyBits(const std::string& what, const DeviceTensor& out,
                                             const std::vector<uint32_t>& ref,
                                             std::initializer_list<const DeviceTensor*> inputs) {
  std::vector<uint32_t> bits;
  testing::AssertionResult read = ReadBits(out, &bits);
  if (!read) return read << " [" << what << "]";
  for (const DeviceTensor* input : inputs) {
    if (input->buffer() == out.buffer()) continue;
    testing::AssertionResult unchanged = Unchanged(*input);
    if (!unchanged) return unchanged << " [" << what << "]";
  }
  return CompareBits(what, out.dtype(), out.shape(), bits, ref);
}

}  // namespace porta_cts
