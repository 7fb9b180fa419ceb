#include "retnet/float_formats.h"

#include <cmath>
#include <cstring>

namespace retnet {

float half_to_float(uint16_t h) {
    const uint32_t sign = uint32_t(h & 0x8000u) << 16;
    uint32_t exponent = (h >> 10) & 0x1f, mantissa = h & 0x3ffu, bits;
    if (exponent == 0x1f) {
        bits = sign | 0x7f800000u | (mantissa << 13);  // inf, nan
    } else if (exponent != 0) {
        bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
    } else if (mantissa == 0) {
        bits = sign;  // +-0
    } else {          // subnormal half: normalise
        int e = -1;
        do {
            e++;
            mantissa <<= 1;
        } while ((mantissa & 0x400u) == 0);
        bits = sign | (uint32_t(112 - e) << 23) | ((mantissa & 0x3ffu) << 13);
    }
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}

uint16_t float_to_bfloat16(float f) {
    uint32_t bits;
    std::memcpy(&bits, &f, 4);
    if (std::isnan(f)) return static_cast<uint16_t>((bits >> 16) | 0x40);  // a quiet NaN stays NaN
    // Round to nearest, ties to even: add half of the dropped part, plus one if the kept part is odd.
    bits += 0x7fffu + ((bits >> 16) & 1u);
    return static_cast<uint16_t>(bits >> 16);
}

uint16_t float_to_half(float f) {
    uint32_t bits;
    std::memcpy(&bits, &f, 4);
    const uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000u);
    const uint32_t magnitude = bits & 0x7fffffffu;
    if (magnitude > 0x7f800000u) return sign | 0x7e00u;   // NaN
    if (magnitude >= 0x477ff000u) return sign | 0x7c00u;  // rounds past 65504: infinity
    if (magnitude < 0x38800000u) {
        // A subnormal half (or zero): the value in units of 2^-24, rounded to nearest even.
        if (magnitude < 0x33000000u) return sign;  // below half the smallest subnormal
        const uint32_t exponent = magnitude >> 23, mantissa = (magnitude & 0x7fffffu) | 0x800000u;
        const uint32_t shift = 126 - exponent;  // 14 .. 24
        uint32_t half = mantissa >> shift;
        const uint32_t rest = mantissa & ((1u << shift) - 1), halfway = 1u << (shift - 1);
        if (rest > halfway || (rest == halfway && (half & 1u))) half++;
        return sign | static_cast<uint16_t>(half);
    }
    // Normal: rebias the exponent (127 -> 15), round the mantissa from 23 to 10 bits.
    uint32_t h = ((magnitude >> 13) - (112u << 10));
    const uint32_t rest = magnitude & 0x1fffu;
    if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) h++;  // may carry into the exponent: still right
    return sign | static_cast<uint16_t>(h);
}

}  // namespace retnet
