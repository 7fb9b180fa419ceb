// The 16-bit float formats weights come in: IEEE half (float16) and bfloat16, to and from float32.
// Widening is exact; narrowing rounds to nearest, ties to even (as PyTorch does), float16 to
// infinity past its largest finite value (65504).
#pragma once

#include <cstdint>
#include <cstring>

namespace retnet {

float half_to_float(uint16_t bits);
// bfloat16 is the top half of a float32.
inline float bfloat16_to_float(uint16_t bits) {
    const uint32_t word = uint32_t(bits) << 16;
    float f;
    std::memcpy(&f, &word, 4);
    return f;
}
uint16_t float_to_bfloat16(float value);
uint16_t float_to_half(float value);

}  // namespace retnet
