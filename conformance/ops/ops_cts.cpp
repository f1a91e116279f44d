// Implementation of the operator-library suites' infrastructure declared in ops_cts.h: number
// formats, device tensors with guards, the error-bound table, the comparison and the references.
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
  ASSERT_PORTA_OK(porta_ops_context_create(device_, nullptr, ctx_.out()));
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

//===------------------------------------------------------------------------------------------===//
// References
//===------------------------------------------------------------------------------------------===//

namespace ref {
namespace {

// Flat row-major index of |index| in |shape|.
int64_t Flatten(const Shape& shape, const Shape& index) {
  int64_t flat = 0;
  for (size_t d = 0; d < shape.size(); ++d) flat = flat * shape[d] + index[d];
  return flat;
}

}  // namespace

double Unary(porta_unary_op_t op, double x) {
  switch (op) {
    case PORTA_UNARY_NONE:
      return x;
    case PORTA_UNARY_NEG:
      return -x;
    case PORTA_UNARY_ABS:
      return std::fabs(x);
    case PORTA_UNARY_EXP:
      return std::exp(x);
    case PORTA_UNARY_LOG:
      return std::log(x);
    case PORTA_UNARY_SQRT:
      return std::sqrt(x);
    case PORTA_UNARY_RSQRT:
      return 1.0 / std::sqrt(x);
    case PORTA_UNARY_TANH:
      return std::tanh(x);
    case PORTA_UNARY_SIGMOID:
      return 1.0 / (1.0 + std::exp(-x));
    case PORTA_UNARY_RELU:
      return x > 0 ? x : 0.0;
    case PORTA_UNARY_GELU_ERF:
      return 0.5 * x * (1.0 + std::erf(x / std::numbers::sqrt2));
    case PORTA_UNARY_GELU_TANH:
      return 0.5 * x *
             (1.0 + std::tanh(std::sqrt(2.0 / std::numbers::pi) * (x + 0.044715 * x * x * x)));
    case PORTA_UNARY_SILU:
      return x / (1.0 + std::exp(-x));
  }
  return kNaN;
}

double Binary(porta_binary_op_t op, double a, double b) {
  switch (op) {
    case PORTA_BINARY_ADD:
      return a + b;
    case PORTA_BINARY_SUB:
      return a - b;
    case PORTA_BINARY_MUL:
      return a * b;
    case PORTA_BINARY_DIV:
      return a / b;
    case PORTA_BINARY_MAX:
      return std::isnan(a) || std::isnan(b) ? kNaN : std::max(a, b);
    case PORTA_BINARY_MIN:
      return std::isnan(a) || std::isnan(b) ? kNaN : std::min(a, b);
    case PORTA_BINARY_POW:
      return std::pow(a, b);
  }
  return kNaN;
}

int64_t BroadcastIndex(const Shape& in_shape, const Shape& out_index) {
  const size_t lead = out_index.size() - in_shape.size();
  int64_t flat = 0;
  for (size_t d = 0; d < in_shape.size(); ++d) {
    flat = flat * in_shape[d] + (in_shape[d] == 1 ? 0 : out_index[lead + d]);
  }
  return flat;
}

Shape BroadcastShapes(const Shape& a, const Shape& b) {
  const size_t rank = std::max(a.size(), b.size());
  Shape out(rank);
  for (size_t d = 0; d < rank; ++d) {
    const int64_t da = d + a.size() >= rank ? a[d + a.size() - rank] : 1;
    const int64_t db = d + b.size() >= rank ? b[d + b.size() - rank] : 1;
    if (da != db && da != 1 && db != 1) return {};
    out[d] = da == 1 ? db : da;
  }
  return out;
}

std::vector<double> BinaryBroadcast(porta_binary_op_t op, const std::vector<double>& a,
                                    const Shape& a_shape, const std::vector<double>& b,
                                    const Shape& b_shape, const Shape& out_shape) {
  std::vector<double> out(static_cast<size_t>(ElementCount(out_shape)));
  for (size_t i = 0; i < out.size(); ++i) {
    const Shape index = Unflatten(out_shape, static_cast<int64_t>(i));
    out[i] = Binary(op, a[static_cast<size_t>(BroadcastIndex(a_shape, index))],
                    b[static_cast<size_t>(BroadcastIndex(b_shape, index))]);
  }
  return out;
}

std::vector<double> Matmul(const MatmulArgs& args, const Shape& out_shape) {
  const size_t rank = out_shape.size();
  const Shape& as = args.a_shape;
  const Shape& bs = args.b_shape;
  const int64_t k_len = args.transpose_a ? as[as.size() - 2] : as[as.size() - 1];
  // Index of a (or b) for output batch index |out_index| and matrix position (row, col) of the
  // stored (possibly transposed) matrix.
  auto element = [&](const Shape& shape, const Shape& out_index, int64_t row, int64_t col) {
    Shape index(shape.size());
    const size_t batch = shape.size() - 2;
    const size_t lead = (rank - 2) - batch;
    for (size_t d = 0; d < batch; ++d) index[d] = shape[d] == 1 ? 0 : out_index[lead + d];
    index[batch] = row;
    index[batch + 1] = col;
    return static_cast<size_t>(Flatten(shape, index));
  };
  std::vector<double> out(static_cast<size_t>(ElementCount(out_shape)));
  for (size_t o = 0; o < out.size(); ++o) {
    const Shape index = Unflatten(out_shape, static_cast<int64_t>(o));
    const int64_t m = index[rank - 2], n = index[rank - 1];
    double acc = 0;
    for (int64_t k = 0; k < k_len; ++k) {
      const double a =
          (*args.a)[args.transpose_a ? element(as, index, k, m) : element(as, index, m, k)];
      const double b =
          (*args.b)[args.transpose_b ? element(bs, index, n, k) : element(bs, index, k, n)];
      acc += a * b;
    }
    double value = args.alpha * acc;
    if (args.c != nullptr) value += args.beta * (*args.c)[o];
    if (args.bias != nullptr) value += (*args.bias)[static_cast<size_t>(n)];
    out[o] = Unary(args.activation, value);
  }
  return out;
}

std::vector<double> Reduce(porta_reduce_op_t op, const std::vector<double>& x, const Shape& shape,
                           const std::vector<int>& axes, bool keep_dims, Shape* out_shape) {
  std::vector<bool> reduced(shape.size(), axes.empty());
  for (int axis : axes) reduced[static_cast<size_t>(axis)] = true;
  out_shape->clear();
  int64_t count = 1;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (reduced[d]) {
      count *= shape[d];
      if (keep_dims) out_shape->push_back(1);
    } else {
      out_shape->push_back(shape[d]);
    }
  }
  const auto n_out = static_cast<size_t>(ElementCount(*out_shape));
  const double init = op == PORTA_REDUCE_MAX ? -kInf : op == PORTA_REDUCE_MIN ? kInf : 0.0;
  std::vector<double> out(n_out, init);
  // The output index of an input element: its index with the reduced axes removed (or 0).
  Shape kept;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (!reduced[d]) kept.push_back(shape[d]);
  }
  for (size_t i = 0; i < x.size(); ++i) {
    const Shape index = Unflatten(shape, static_cast<int64_t>(i));
    Shape out_index;
    for (size_t d = 0; d < shape.size(); ++d) {
      if (!reduced[d]) out_index.push_back(index[d]);
    }
    double& acc = out[static_cast<size_t>(Flatten(kept, out_index))];
    const double v = x[i];
    switch (op) {
      case PORTA_REDUCE_SUM:
      case PORTA_REDUCE_MEAN:
        acc += v;
        break;
      case PORTA_REDUCE_MAX:
        acc = std::isnan(acc) || std::isnan(v) ? kNaN : std::max(acc, v);
        break;
      case PORTA_REDUCE_MIN:
        acc = std::isnan(acc) || std::isnan(v) ? kNaN : std::min(acc, v);
        break;
    }
  }
  if (op == PORTA_REDUCE_MEAN) {
    for (double& v : out) v = count > 0 ? v / static_cast<double>(count) : kNaN;
  }
  return out;
}

std::vector<double> Argmax(const std::vector<double>& x, const Shape& shape, int axis,
                           bool keep_dims, Shape* out_shape) {
  const auto a = static_cast<size_t>(axis);
  out_shape->clear();
  Shape kept;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (d == a) {
      if (keep_dims) out_shape->push_back(1);
    } else {
      out_shape->push_back(shape[d]);
      kept.push_back(shape[d]);
    }
  }
  const auto n_out = static_cast<size_t>(ElementCount(kept));
  std::vector<double> out(n_out, 0.0);
  std::vector<double> best(n_out, kNaN);
  std::vector<bool> seen(n_out, false);
  for (size_t i = 0; i < x.size(); ++i) {
    const Shape index = Unflatten(shape, static_cast<int64_t>(i));
    Shape out_index;
    for (size_t d = 0; d < shape.size(); ++d) {
      if (d != a) out_index.push_back(index[d]);
    }
    const auto o = static_cast<size_t>(Flatten(kept, out_index));
    const double v = x[i];
    // Elements arrive in increasing index along the axis; strict comparisons keep the first.
    const bool better = !seen[o] || (!std::isnan(best[o]) && (std::isnan(v) || v > best[o]));
    if (better) {
      seen[o] = true;
      best[o] = v;
      out[o] = static_cast<double>(index[a]);
    }
  }
  return out;
}

std::vector<double> Softmax(const std::vector<double>& x, const Shape& shape, double scale,
                            const std::vector<double>* mask, const Shape& mask_shape, bool causal,
                            bool log) {
  const size_t rank = shape.size();
  const int64_t cols = rank > 0 ? shape[rank - 1] : 1;
  const int64_t rows_l = rank >= 2 ? shape[rank - 2] : 1;
  std::vector<double> out(x.size());
  if (cols == 0) return out;
  std::vector<double> v(static_cast<size_t>(cols));
  for (size_t start = 0; start < x.size(); start += static_cast<size_t>(cols)) {
    const int64_t row = static_cast<int64_t>(start) / cols;
    const int64_t i = row % rows_l;
    double max = -kInf;
    for (int64_t c = 0; c < cols; ++c) {
      const size_t e = start + static_cast<size_t>(c);
      double value = x[e] * scale;
      if (mask != nullptr) {
        const Shape index = Unflatten(shape, static_cast<int64_t>(e));
        value += (*mask)[static_cast<size_t>(BroadcastIndex(mask_shape, index))];
      }
      if (causal && c > i + (cols - rows_l)) value = -kInf;
      v[static_cast<size_t>(c)] = value;
      max = std::max(max, value);
    }
    if (max == -kInf) {
      for (int64_t c = 0; c < cols; ++c) out[start + static_cast<size_t>(c)] = log ? -kInf : 0.0;
      continue;
    }
    double sum = 0;
    for (double value : v) sum += std::exp(value - max);
    for (int64_t c = 0; c < cols; ++c) {
      const double value = v[static_cast<size_t>(c)];
      out[start + static_cast<size_t>(c)] =
          log ? value - max - std::log(sum) : std::exp(value - max) / sum;
    }
  }
  return out;
}

std::vector<double> Norm(bool rms, const std::vector<double>& x, const Shape& shape,
                         const std::vector<double>* weight, const std::vector<double>* bias,
                         double eps) {
  const int64_t cols = shape.empty() ? 1 : shape.back();
  std::vector<double> out(x.size());
  if (cols == 0) return out;
  const auto n = static_cast<size_t>(cols);
  for (size_t start = 0; start < x.size(); start += n) {
    double mean = 0, sq = 0;
    for (size_t c = 0; c < n; ++c) mean += x[start + c];
    mean /= static_cast<double>(n);
    for (size_t c = 0; c < n; ++c) {
      const double centered = rms ? x[start + c] : x[start + c] - mean;
      sq += centered * centered;
    }
    const double inv = 1.0 / std::sqrt(sq / static_cast<double>(n) + eps);
    for (size_t c = 0; c < n; ++c) {
      double y = (rms ? x[start + c] : x[start + c] - mean) * inv;
      if (weight != nullptr) y *= (*weight)[c];
      if (bias != nullptr) y += (*bias)[c];
      out[start + c] = y;
    }
  }
  return out;
}

std::vector<double> Embedding(const std::vector<double>& table, int64_t vocab, int64_t dim,
                              const std::vector<double>& indices) {
  std::vector<double> out(indices.size() * static_cast<size_t>(dim), 0.0);
  for (size_t j = 0; j < indices.size(); ++j) {
    const double v = indices[j];
    if (v < 0 || v >= static_cast<double>(vocab)) continue;
    for (int64_t c = 0; c < dim; ++c) {
      out[j * static_cast<size_t>(dim) + static_cast<size_t>(c)] =
          table[static_cast<size_t>(v) * static_cast<size_t>(dim) + static_cast<size_t>(c)];
    }
  }
  return out;
}

std::vector<double> Rope(const std::vector<double>& x, const Shape& shape,
                         const std::vector<double>& positions, int seq_axis, porta_rope_mode_t mode,
                         int64_t rotary_dims, double theta_base, double freq_scale) {
  const int64_t head = shape.back();
  const int64_t rot = rotary_dims == 0 ? head : rotary_dims;
  std::vector<double> out(x.size());
  if (head == 0) return out;
  for (size_t start = 0; start < x.size(); start += static_cast<size_t>(head)) {
    const Shape index = Unflatten(shape, static_cast<int64_t>(start));
    const double pos = positions[static_cast<size_t>(index[static_cast<size_t>(seq_axis)])];
    for (int64_t k = 0; k < head / 2; ++k) {
      if (k < rot / 2) {
        const int64_t e0 = mode == PORTA_ROPE_MODE_NEOX ? k : 2 * k;
        const int64_t e1 = mode == PORTA_ROPE_MODE_NEOX ? k + rot / 2 : 2 * k + 1;
        const double theta =
            pos * freq_scale *
            std::pow(theta_base, -2.0 * static_cast<double>(k) / static_cast<double>(rot));
        const double x0 = x[start + static_cast<size_t>(e0)];
        const double x1 = x[start + static_cast<size_t>(e1)];
        out[start + static_cast<size_t>(e0)] = x0 * std::cos(theta) - x1 * std::sin(theta);
        out[start + static_cast<size_t>(e1)] = x0 * std::sin(theta) + x1 * std::cos(theta);
      } else {
        out[start + static_cast<size_t>(2 * k)] = x[start + static_cast<size_t>(2 * k)];
        out[start + static_cast<size_t>(2 * k + 1)] = x[start + static_cast<size_t>(2 * k + 1)];
      }
    }
  }
  return out;
}

std::vector<double> Attention(const std::vector<double>& q, const Shape& q_shape,
                              const std::vector<double>& k, const Shape& k_shape,
                              const std::vector<double>& v, const Shape& v_shape,
                              const std::vector<double>* mask, const Shape& mask_shape,
                              double scale, bool causal) {
  const int64_t batch = q_shape[0], hq = q_shape[1], lq = q_shape[2], d = q_shape[3];
  const int64_t hkv = k_shape[1], lk = k_shape[2], dv = v_shape[3];
  const int64_t group = hkv > 0 ? hq / hkv : 1;
  std::vector<double> out(static_cast<size_t>(batch * hq * lq * dv), 0.0);
  std::vector<double> s(static_cast<size_t>(lk));
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t h = 0; h < hq; ++h) {
      const int64_t hk = h / group;
      for (int64_t i = 0; i < lq; ++i) {
        double max = -kInf;
        for (int64_t j = 0; j < lk; ++j) {
          double dot = 0;
          for (int64_t e = 0; e < d; ++e) {
            dot += q[static_cast<size_t>(((b * hq + h) * lq + i) * d + e)] *
                   k[static_cast<size_t>(((b * hkv + hk) * lk + j) * d + e)];
          }
          double score = scale * dot;
          if (mask != nullptr) {
            score += (*mask)[static_cast<size_t>(BroadcastIndex(mask_shape, {b, h, i, j}))];
          }
          if (causal && j > i + (lk - lq)) score = -kInf;
          s[static_cast<size_t>(j)] = score;
          max = std::max(max, score);
        }
        if (max == -kInf) continue;
        double sum = 0;
        for (double score : s) sum += std::exp(score - max);
        for (int64_t j = 0; j < lk; ++j) {
          const double p = std::exp(s[static_cast<size_t>(j)] - max) / sum;
          for (int64_t e = 0; e < dv; ++e) {
            out[static_cast<size_t>(((b * hq + h) * lq + i) * dv + e)] +=
                p * v[static_cast<size_t>(((b * hkv + hk) * lk + j) * dv + e)];
          }
        }
      }
    }
  }
  return out;
}

int64_t WindowOutputSize(int64_t in, int64_t kernel, int64_t stride, int64_t pad, int64_t dil) {
  const int64_t span = in + 2 * pad - dil * (kernel - 1) - 1;
  return span < 0 ? 0 : span / stride + 1;
}

std::vector<double> Conv2d(const std::vector<double>& x, const Shape& x_shape,
                           const std::vector<double>& w, const Shape& w_shape,
                           const std::vector<double>* bias, const porta_conv2d_desc_t& desc,
                           Shape* out_shape) {
  const int64_t n_batch = x_shape[0], c_in = x_shape[1], h = x_shape[2], wd = x_shape[3];
  const int64_t c_out = w_shape[0], c_group = w_shape[1], kh = w_shape[2], kw = w_shape[3];
  const int64_t groups = desc.groups;
  const int64_t ho = WindowOutputSize(h, kh, desc.stride[0], desc.padding[0], desc.dilation[0]);
  const int64_t wo = WindowOutputSize(wd, kw, desc.stride[1], desc.padding[1], desc.dilation[1]);
  *out_shape = {n_batch, c_out, ho, wo};
  std::vector<double> out(static_cast<size_t>(ElementCount(*out_shape)));
  const int64_t per_group = c_out / groups;
  size_t o = 0;
  for (int64_t n = 0; n < n_batch; ++n) {
    for (int64_t co = 0; co < c_out; ++co) {
      const int64_t g = co / per_group;
      for (int64_t oy = 0; oy < ho; ++oy) {
        for (int64_t ox = 0; ox < wo; ++ox) {
          double acc = bias != nullptr ? (*bias)[static_cast<size_t>(co)] : 0.0;
          for (int64_t c = 0; c < c_group; ++c) {
            for (int64_t ky = 0; ky < kh; ++ky) {
              const int64_t iy = oy * desc.stride[0] - desc.padding[0] + ky * desc.dilation[0];
              if (iy < 0 || iy >= h) continue;
              for (int64_t kx = 0; kx < kw; ++kx) {
                const int64_t ix = ox * desc.stride[1] - desc.padding[1] + kx * desc.dilation[1];
                if (ix < 0 || ix >= wd) continue;
                acc += x[static_cast<size_t>(((n * c_in + g * c_group + c) * h + iy) * wd + ix)] *
                       w[static_cast<size_t>(((co * c_group + c) * kh + ky) * kw + kx)];
              }
            }
          }
          out[o++] = acc;
        }
      }
    }
  }
  return out;
}

std::vector<double> Pool2d(const std::vector<double>& x, const Shape& x_shape,
                           const porta_pool2d_desc_t& desc, Shape* out_shape) {
  const int64_t n_batch = x_shape[0], channels = x_shape[1], h = x_shape[2], wd = x_shape[3];
  const int64_t kh = desc.kernel[0], kw = desc.kernel[1];
  const int64_t ho = WindowOutputSize(h, kh, desc.stride[0], desc.padding[0], desc.dilation[0]);
  const int64_t wo = WindowOutputSize(wd, kw, desc.stride[1], desc.padding[1], desc.dilation[1]);
  *out_shape = {n_batch, channels, ho, wo};
  std::vector<double> out(static_cast<size_t>(ElementCount(*out_shape)));
  size_t o = 0;
  for (int64_t nc = 0; nc < n_batch * channels; ++nc) {
    for (int64_t oy = 0; oy < ho; ++oy) {
      for (int64_t ox = 0; ox < wo; ++ox) {
        double max = -kInf, sum = 0;
        bool nan = false;
        int64_t inside = 0;
        for (int64_t ky = 0; ky < kh; ++ky) {
          const int64_t iy = oy * desc.stride[0] - desc.padding[0] + ky * desc.dilation[0];
          if (iy < 0 || iy >= h) continue;
          for (int64_t kx = 0; kx < kw; ++kx) {
            const int64_t ix = ox * desc.stride[1] - desc.padding[1] + kx * desc.dilation[1];
            if (ix < 0 || ix >= wd) continue;
            const double v = x[static_cast<size_t>((nc * h + iy) * wd + ix)];
            nan = nan || std::isnan(v);
            max = std::max(max, v);
            sum += v;
            ++inside;
          }
        }
        if (desc.mode == PORTA_POOL_MODE_MAX) {
          out[o++] = nan ? kNaN : max;
        } else {
          const int64_t count = desc.count_include_pad != 0 ? kh * kw : inside;
          out[o++] = sum / static_cast<double>(count);
        }
      }
    }
  }
  return out;
}

}  // namespace ref

}  // namespace porta_cts
