// What the linear kernels and their schedules share: the weight padding, the loop variables, and
// the activation functions of the RetNet layer (torchscale: F.silu and F.gelu, the exact erf form).
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

#include "Halide.h"

namespace retnet_gen {

using namespace Halide;

// Weight columns are padded to this multiple by the runtime (runtime/src/weight_packing.cpp), so a
// tile whose width divides it may run past the last column without a clamp.
constexpr int kWeightColumnPadding = 64;
// Weights are packed in panels of this many output columns, each panel [K][16] contiguous: a tile
// of a multiple of 16 columns walks K through contiguous memory (a few streams), where a [K][N]
// layout made it read 64 bytes every N (at half the machine's read bandwidth, measured).
constexpr int kWeightPanel = 16;
// The GPU's register-staged products load the inputs of a step as vectors of this many floats (one
// 128-bit load) where each row of x starts at a multiple of it.
constexpr int kInputVector = 4;
// Products with more output columns than this (an output head's vocabulary) start their GPU blocks
// in groups of rows (gpu_row_group; schedules/gpu/linear.h's launch_blocks).
constexpr int kWideProduct = 16384;

struct LinearVars {
    Var n, m;
    RDom over_k;
    Func input;                 // (k, m), as the products read it
    std::vector<Func> weights;  // (n, k), widened to float32; one, or two for the gated FFN
    RDom k_tail;                // where the sum runs over steps of K: the K % step left
    Func sum_squares;           // (m) with the pre-norm folded in (input_norm): sum_k x(k, m)^2
    RDom along_row;             // its sum's RDom over K
};

enum class Activation { swish,
                        gelu };

// swish(x) = x * sigmoid(x).
inline Expr swish(const Expr &x) {
    return x / (1.0f + exp(-x));
}

// erf(x) from Abramowitz & Stegun 7.1.26 (|error| <= 1.5e-7, below float32's resolution of the
// gelu that uses it); Halide has no erf.
inline Expr erf_approx(const Expr &x) {
    Expr a = abs(x);
    Expr t = 1.0f / (1.0f + 0.3275911f * a);
    Expr poly = t * (0.254829592f + t * (-0.284496736f + t * (1.421413741f + t * (-1.453152027f + t * 1.061405429f))));
    Expr e = 1.0f - poly * exp(-a * a);
    return select(x < 0.0f, -e, e);
}

// gelu(x) = x * Phi(x) = 0.5 x (1 + erf(x / sqrt 2)).
inline Expr gelu(const Expr &x) {
    return 0.5f * x * (1.0f + erf_approx(x * 0.70710678118654752f));
}

inline Expr activate(Activation a, const Expr &x) {
    return a == Activation::swish ? swish(x) : gelu(x);
}

}  // namespace retnet_gen
