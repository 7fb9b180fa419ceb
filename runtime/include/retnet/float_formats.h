// The 16-bit float formats weights come in: IEEE half (float16) and bfloat16, to and from float32.
// Widening is exact; narrowing rounds to nearest, ties to even (as PyTorch does), float16 to
// infinity past its largest finite value (65504).
#pragma once

#include <cstdint>

namespace retnet {

float half_to_float(uint16_t bits);
float bfloat16_to_float(uint16_t bits);
uint16_t float_to_bfloat16(float value);
uint16_t float_to_half(float value);

}  // namespace retnet
