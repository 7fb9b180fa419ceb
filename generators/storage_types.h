// Conversions between float32 and the 1- and 2-byte element types that weights and caches are
// kept in. Only registers hold such elements as float32: memory and caches keep the small type.
#pragma once

#include <cstdint>
#include <type_traits>

#include "Halide.h"

namespace retnet_gen {

using namespace Halide;

// An element as float32: bfloat16 (its bits, uint16) is the top half of a float32, so a 16-bit
// shift widens it exactly; float16 converts (F16C on x86); int8 converts exactly; float32 is
// itself.
inline Expr widened(const Expr &w) {
    if (w.type() == UInt(16)) return reinterpret(Float(32), cast(UInt(32), w) << 16);
    return cast<float>(w);
}

// A float32 as the bits of the nearest bfloat16, ties to even (as torch's .to(torch.bfloat16));
// for finite values, which is all a cache holds: the rounding increment cannot carry a finite
// value past the largest bfloat16 into a NaN pattern, only into infinity.
inline Expr bfloat16_bits(const Expr &x) {
    Expr bits = reinterpret(UInt(32), x);
    Expr rounded = bits + (cast(UInt(32), 0x7fff) + ((bits >> 16) & 1));
    return cast(UInt(16), rounded >> 16);
}

// A float32 in the element type T of a cache: itself, or bfloat16's bits (T = uint16_t).
template<typename T>
Expr stored_as(const Expr &x) {
    if constexpr (std::is_same_v<T, uint16_t>) {
        return bfloat16_bits(x);
    } else {
        static_assert(std::is_same_v<T, float>, "caches are float32 or bfloat16");
        return x;
    }
}

}  // namespace retnet_gen
