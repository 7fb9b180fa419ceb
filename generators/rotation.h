// The relative-position rotation of q and k (torchscale's "xpos" without scaling, docs/SEMANTICS.md
// §2), as an expression that a kernel may inline: feature pairs (2i, 2i+1) of each head turn by
// the angle of their position,
//     out[2i]   = x[2i] cos - x[2i+1] sin
//     out[2i+1] = x[2i+1] cos + x[2i] sin
// with cos and sin from the tables that rotation_tables makes once per forward pass.
#pragma once

#include <functional>

#include "Halide.h"

namespace retnet_gen {

using namespace Halide;

// Feature kd of a vector, rotated. feature(j) reads the vector's feature j, and last is its last
// index (K - 1, K even); c and s are the cosine and sine of kd's pair, kd / 2.
inline Expr rotated_feature(const std::function<Expr(Expr)> &feature, Expr kd, Expr last, Expr c, Expr s) {
    Expr is_first = kd % 2 == 0;
    // Clamped: the true partner is always in range (K is even), but bounds inference cannot see it.
    Expr partner = clamp(select(is_first, kd + 1, kd - 1), 0, last);
    return feature(kd) * c + feature(partner) * select(is_first, -s, s);
}

}  // namespace retnet_gen
