// Host dequantization of GGUF tensor data (the runner's --dequantize option and its tests): the
// block layouts of ggml-common.h decoded to f32 or to f16 bits.
#ifndef PORTA_TOOLS_RUN_QUANT_H_
#define PORTA_TOOLS_RUN_QUANT_H_

#include <cstdint>

#include "tools/run/gguf.h"

namespace porta::run {

// IEEE half and bfloat16 bits to float (exact), and float to half bits rounded to nearest even
// (overflow to infinity, NaN kept a quiet NaN with the sign).
float HalfToFloat(uint16_t bits);
float Bf16ToFloat(uint16_t bits);
uint16_t FloatToHalf(float value);

// Decodes |n| elements (a multiple of the type's block size) of |type| from |src| into |dst|.
// Types: F32, F16, BF16, Q4_0, Q4_1, Q8_0; ModelError for others and for a bad |n|.
void DequantizeRow(GgmlType type, const uint8_t* src, uint64_t n, float* dst);
// The same into f16 bits, each value rounded to nearest even from its exact f32 decoding.
void DequantizeRowF16(GgmlType type, const uint8_t* src, uint64_t n, uint16_t* dst);

}  // namespace porta::run

#endif  // PORTA_TOOLS_RUN_QUANT_H_
