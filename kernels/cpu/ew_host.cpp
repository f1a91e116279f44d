// Host kernel porta_ew: element-wise functions, casts and bit-exact copies. Contiguous f32 work
// takes loops compiled for AVX-512, AVX2 and the baseline, chosen at run time by the CPU.
#include "kernels/cpu/host_kernels.h"

#include <algorithm>

#include "kernels/cpu/host_common.h"
#include "kernels/cpu/vector_math.h"

namespace porta::ops::host {
namespace {

PORTA_HOST_CLONES void UnaryF32(uint32_t op, const float* a, float* out, uint64_t count) {
  switch (op) {
    case PORTA_EW_NEG:
      for (uint64_t i = 0; i < count; ++i) out[i] = -a[i];
      return;
    case PORTA_EW_ABS:
      for (uint64_t i = 0; i < count; ++i) out[i] = std::fabs(a[i]);
      return;
    case PORTA_EW_RELU:
      for (uint64_t i = 0; i < count; ++i)
        out[i] = a[i] > 0.0f ? a[i] : (a[i] != a[i] ? a[i] : 0.0f);
      return;
    case PORTA_EW_IDENTITY:
      for (uint64_t i = 0; i < count; ++i) out[i] = a[i];
      return;
    case PORTA_EW_SIGMOID:
    case PORTA_EW_TANH:
    case PORTA_EW_GELU_ERF:
    case PORTA_EW_GELU_TANH:
    case PORTA_EW_SILU:
      // The vectorized activations of the matmul epilogue, in place on out.
      if (out != a) std::memmove(out, a, count * sizeof(float));
      BiasActivateRow(out, count, nullptr, op);
      return;
    default:
      for (uint64_t i = 0; i < count; ++i) out[i] = ApplyUnary(op, a[i]);
      return;
  }
}

PORTA_HOST_CLONES void BinaryF32(uint32_t op, const float* a, const float* b, float* out,
                                 uint64_t count) {
  switch (op) {
    case PORTA_EW_ADD:
      for (uint64_t i = 0; i < count; ++i) out[i] = a[i] + b[i];
      return;
    case PORTA_EW_SUB:
      for (uint64_t i = 0; i < count; ++i) out[i] = a[i] - b[i];
      return;
    case PORTA_EW_MUL:
      for (uint64_t i = 0; i < count; ++i) out[i] = a[i] * b[i];
      return;
    case PORTA_EW_DIV:
      for (uint64_t i = 0; i < count; ++i) out[i] = a[i] / b[i];
      return;
    case PORTA_EW_SWIGLU:
      for (uint64_t i = 0; i < count; ++i) out[i] = a[i] * Sigmoid(a[i]) * b[i];
      return;
    default:
      for (uint64_t i = 0; i < count; ++i) out[i] = ApplyBinary(op, a[i], b[i]);
      return;
  }
}

// True when |strides| walk |shape| as one contiguous run.
bool Contiguous(const unsigned int shape[4], const unsigned int strides[4]) {
  uint64_t expected = 1;
  for (int d = 3; d >= 0; --d) {
    if (shape[d] != 1 && strides[d] != expected) return false;
    expected *= shape[d];
  }
  return true;
}

int32_t EwKernel(const porta_host_group_t* group) {
  const PortaEwParams& p = ParamsOf<PortaEwParams>(group);
  const uint64_t begin = GroupIndex(group) * group->group_size[0];
  if (begin >= p.n) return 0;
  const uint64_t end = std::min<uint64_t>(p.n, begin + group->group_size[0]);
  const void* a = Arg(group, 0);
  const void* b = Arg(group, 1);
  void* out = Arg(group, 2);
  const uint32_t da = Byte(p.dtypes, 0), db = Byte(p.dtypes, 1), dout = Byte(p.dtypes, 2);
  const bool scalar = (p.flags & PORTA_EW_FLAG_SCALAR) != 0;
  const bool left = (p.flags & PORTA_EW_FLAG_SCALAR_LEFT) != 0;
  const bool binary = p.op > PORTA_EW_BINARY && p.op < PORTA_EW_COPY;

  if (p.op == PORTA_EW_COPY) {
    const size_t size = (dout == PORTA_DT_F16 || dout == PORTA_DT_BF16) ? 2 : 4;
    const auto* src = static_cast<const uint8_t*>(a);
    auto* dst = static_cast<uint8_t*>(out);
    if (Contiguous(p.shape, p.a_strides) && Contiguous(p.shape, p.out_strides)) {
      std::memcpy(dst + (p.out_offset + begin) * size, src + (p.a_offset + begin) * size,
                  (end - begin) * size);
      return 0;
    }
    for (uint64_t i = begin; i < end; ++i) {
      std::memcpy(dst + (p.out_offset + Offset4(i, p.shape, p.out_strides)) * size,
                  src + (p.a_offset + Offset4(i, p.shape, p.a_strides)) * size, size);
    }
    return 0;
  }

  const bool all_f32 =
      da == PORTA_DT_F32 && dout == PORTA_DT_F32 && (!binary || scalar || db == PORTA_DT_F32);
  if (all_f32 && Contiguous(p.shape, p.a_strides) && Contiguous(p.shape, p.out_strides) &&
      (!binary || scalar || Contiguous(p.shape, p.b_strides))) {
    const float* fa = static_cast<const float*>(a) + p.a_offset + begin;
    float* fo = static_cast<float*>(out) + p.out_offset + begin;
    if (!binary) {
      UnaryF32(p.op, fa, fo, end - begin);
    } else if (!scalar) {
      BinaryF32(p.op, fa, static_cast<const float*>(b) + p.b_offset + begin, fo, end - begin);
    } else {
      for (uint64_t i = 0; i < end - begin; ++i) {
        fo[i] = left ? ApplyBinary(p.op, p.alpha, fa[i]) : ApplyBinary(p.op, fa[i], p.alpha);
      }
    }
    return 0;
  }

  // f32 operands whose innermost dimension is contiguous (slices of wider rows, such as the
  // halves of a fused projection) take the same loops a row run at a time.
  if (all_f32 && !scalar && p.shape[3] > 1 && p.a_strides[3] == 1 && p.out_strides[3] == 1 &&
      (!binary || p.b_strides[3] == 1)) {
    for (uint64_t i = begin; i < end;) {
      const uint64_t run = std::min<uint64_t>(end - i, p.shape[3] - i % p.shape[3]);
      const float* fa =
          static_cast<const float*>(a) + p.a_offset + Offset4(i, p.shape, p.a_strides);
      float* fo = static_cast<float*>(out) + p.out_offset + Offset4(i, p.shape, p.out_strides);
      if (binary) {
        BinaryF32(p.op, fa,
                  static_cast<const float*>(b) + p.b_offset + Offset4(i, p.shape, p.b_strides), fo,
                  run);
      } else {
        UnaryF32(p.op, fa, fo, run);
      }
      i += run;
    }
    return 0;
  }
  for (uint64_t i = begin; i < end; ++i) {
    const float x = Load(a, da, p.a_offset + Offset4(i, p.shape, p.a_strides));
    float result;
    if (!binary) {
      result = ApplyUnary(p.op, x);
    } else {
      const float y = scalar ? p.alpha : Load(b, db, p.b_offset + Offset4(i, p.shape, p.b_strides));
      result = left ? ApplyBinary(p.op, y, x) : ApplyBinary(p.op, x, y);
    }
    Store(out, dout, p.out_offset + Offset4(i, p.shape, p.out_strides), result);
  }
  return 0;
}

}  // namespace

porta_host_kernel_fn EwHostKernel() {
  return EwKernel;
}

}  // namespace porta::ops::host
