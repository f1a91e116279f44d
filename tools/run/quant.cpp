// Dequantization of the block formats the SmolLM2 file uses (and their plain neighbours). Each
// block scale is an f16; every product of a scale and a quant is exact in f32 (11-bit mantissa
// times an at most 8-bit integer), so results do not depend on whether the compiler fuses the
// multiply and add: both round once, like ggml's reference decoder.
#include "tools/run/quant.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <string>
#include <vector>

#include "tools/run/model_error.h"

namespace porta::run {
namespace {

uint16_t LoadU16(const uint8_t* p) {
  return static_cast<uint16_t>(p[0] | (p[1] << 8));
}

void CheckCount(GgmlType type, uint64_t n) {
  const uint64_t block = GgmlBlockElements(type);
  if (block == 0 || n % block != 0) {
    throw ModelError(std::string("dequantize: ") + std::to_string(n) + " elements of " +
                     GgmlTypeName(type) + " is not a multiple of its block of " +
                     std::to_string(block));
  }
}

}  // namespace

float HalfToFloat(uint16_t bits) {
  const uint32_t sign = static_cast<uint32_t>(bits & 0x8000u) << 16;
  const uint32_t exponent = (bits >> 10) & 0x1Fu;
  uint32_t mantissa = bits & 0x3FFu;
  uint32_t out;
  if (exponent == 0x1F) {
    out = sign | 0x7F800000u | (mantissa << 13);
  } else if (exponent != 0) {
    out = sign | ((exponent + 112) << 23) | (mantissa << 13);
  } else if (mantissa == 0) {
    out = sign;
  } else {
    // Subnormal half: shift the leading one into the implicit bit.
    uint32_t shift = 0;
    while ((mantissa & 0x400u) == 0) {
      mantissa <<= 1;
      ++shift;
    }
    out = sign | ((113 - shift) << 23) | ((mantissa & 0x3FFu) << 13);
  }
  return std::bit_cast<float>(out);
}

float Bf16ToFloat(uint16_t bits) {
  return std::bit_cast<float>(static_cast<uint32_t>(bits) << 16);
}

uint16_t FloatToHalf(float value) {
  const uint32_t bits = std::bit_cast<uint32_t>(value);
  const uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000u);
  const uint32_t exponent = (bits >> 23) & 0xFFu;
  const uint32_t mantissa = bits & 0x7FFFFFu;
  if (exponent == 0xFF) {
    // Infinity stays infinity; NaN keeps its top payload bits and is made quiet.
    return mantissa == 0 ? static_cast<uint16_t>(sign | 0x7C00u)
                         : static_cast<uint16_t>(sign | 0x7E00u | (mantissa >> 13));
  }
  const int32_t half_exponent = static_cast<int32_t>(exponent) - 127 + 15;
  if (half_exponent >= 0x1F) return static_cast<uint16_t>(sign | 0x7C00u);
  if (half_exponent <= 0) {
    // Subnormal (or zero) half: the value in units of 2^-24, rounded to nearest even.
    if (half_exponent < -10) return sign;
    const uint32_t full = mantissa | 0x800000u;
    const uint32_t shift = static_cast<uint32_t>(14 - half_exponent);
    uint32_t result = full >> shift;
    const uint32_t remainder = full & ((1u << shift) - 1);
    const uint32_t halfway = 1u << (shift - 1);
    if (remainder > halfway || (remainder == halfway && (result & 1u) != 0)) ++result;
    return static_cast<uint16_t>(sign | result);
  }
  uint32_t result = (static_cast<uint32_t>(half_exponent) << 10) | (mantissa >> 13);
  const uint32_t remainder = mantissa & 0x1FFFu;
  // A carry out of the mantissa correctly bumps the exponent (up to infinity).
  if (remainder > 0x1000u || (remainder == 0x1000u && (result & 1u) != 0)) ++result;
  return static_cast<uint16_t>(sign | result);
}

void DequantizeRow(GgmlType type, const uint8_t* src, uint64_t n, float* dst) {
  CheckCount(type, n);
  switch (type) {
    case GgmlType::F32:
      if (n != 0) std::memcpy(dst, src, n * sizeof(float));
      return;
    case GgmlType::F16:
      for (uint64_t i = 0; i < n; ++i) dst[i] = HalfToFloat(LoadU16(src + 2 * i));
      return;
    case GgmlType::BF16:
      for (uint64_t i = 0; i < n; ++i) dst[i] = Bf16ToFloat(LoadU16(src + 2 * i));
      return;
    case GgmlType::Q4_0:
      for (uint64_t block = 0; block < n / 32; ++block, src += 18, dst += 32) {
        const float d = HalfToFloat(LoadU16(src));
        for (int j = 0; j < 16; ++j) {
          dst[j] = d * static_cast<float>((src[2 + j] & 15) - 8);
          dst[j + 16] = d * static_cast<float>((src[2 + j] >> 4) - 8);
        }
      }
      return;
    case GgmlType::Q4_1:
      for (uint64_t block = 0; block < n / 32; ++block, src += 20, dst += 32) {
        const float d = HalfToFloat(LoadU16(src));
        const float m = HalfToFloat(LoadU16(src + 2));
        for (int j = 0; j < 16; ++j) {
          dst[j] = d * static_cast<float>(src[4 + j] & 15) + m;
          dst[j + 16] = d * static_cast<float>(src[4 + j] >> 4) + m;
        }
      }
      return;
    case GgmlType::Q8_0:
      for (uint64_t block = 0; block < n / 32; ++block, src += 34, dst += 32) {
        const float d = HalfToFloat(LoadU16(src));
        for (int j = 0; j < 32; ++j)
          dst[j] = d * static_cast<float>(static_cast<int8_t>(src[2 + j]));
      }
      return;
    default:
      throw ModelError(std::string("dequantize: ggml type ") + GgmlTypeName(type) + " (" +
                       std::to_string(static_cast<uint32_t>(type)) +
                       ") is not supported (only F32, F16, BF16, Q4_0, Q4_1 and Q8_0)");
  }
}

void DequantizeRowF16(GgmlType type, const uint8_t* src, uint64_t n, uint16_t* dst) {
  if (type == GgmlType::F16) {
    CheckCount(type, n);
    if (n != 0) std::memcpy(dst, src, n * sizeof(uint16_t));
    return;
  }
  // One block-sized chunk at a time keeps the f32 staging small for any row length.
  const uint64_t block = GgmlBlockElements(type);
  CheckCount(type, n);
  float staging[256];
  const uint64_t chunk = block <= 256 ? 256 / block * block : 0;
  const uint64_t bytes_per_chunk = chunk / block * GgmlBlockBytes(type);
  for (uint64_t done = 0; done < n; done += chunk, src += bytes_per_chunk) {
    const uint64_t count = std::min(chunk, n - done);
    DequantizeRow(type, src, count, staging);
    for (uint64_t i = 0; i < count; ++i) dst[done + i] = FloatToHalf(staging[i]);
  }
}

}  // namespace porta::run
