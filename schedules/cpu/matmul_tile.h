// The register-blocked inner product every retention form is made of: an accumulator Func
// acc(x, y) = 0; acc(x, y) += lhs(r, y) * rhs(x, r) (one or more updates), computed inside a tile of
// its consumer so that Halide keeps the whole tile (cols x rows) in vector registers.
#pragma once

#include "Halide.h"

namespace retnet_gen {

using namespace Halide;

struct RegisterTile {
    int vector_width;  // floats per SIMD vector
    int cols;          // tile width along x, a multiple of vector_width
    int rows;          // tile height along y, unrolled
};

// Schedules `acc` (pure dims x, y first) at `at`, with x vectorised and y unrolled in every stage.
// `reductions` holds the reduction variable of each update that has one, in order: it goes
// outside the tile, so that each step of it is one rank-1 update of the accumulators held in
// registers. (An update without one, such as a scaling of the tile, is elementwise.)
inline void schedule_register_tile(Func acc, const Var &x, const Var &y, const LoopLevel &at,
                                   const RegisterTile &tile, const std::vector<RVar> &reductions) {
    // A constant-size tile (even at the ragged edges, where the extra lanes are computed and
    // dropped) lives on the stack and is promoted to registers; a variable one goes to the heap.
    acc.compute_at(at).bound_extent(x, tile.cols).bound_extent(y, tile.rows);
    acc.vectorize(x, tile.vector_width).unroll(x).unroll(y);
    size_t next_reduction = 0;
    for (int u = 0; u < acc.num_update_definitions(); u++) {
        Stage update = acc.update(u);
        if (acc.rvars(u).empty()) {
            update.reorder(x, y);
        } else {
            update.reorder(x, y, reductions.at(next_reduction++));
        }
        update.vectorize(x, tile.vector_width).unroll(x).unroll(y);
    }
}

// The register tile for a target: `vectors` SIMD vectors across, `rows` rows down, never wider
// than `max_cols` (a short chunk or a small head dimension).
inline RegisterTile register_tile_for(const Target &target, int vector_width_param, int vectors,
                                      int rows, int max_cols) {
    int vec = vector_width_param > 0 ? vector_width_param : target.natural_vector_size<float>();
    vec = std::max(1, std::min(vec, max_cols));
    int cols = std::max(vec, std::min(vec * vectors, max_cols / vec * vec));
    return RegisterTile{vec, cols, rows};
}

// Computes a copy of an input (a wrapper made by Func::in) at `at`, vectorised along its innermost
// dimension: the consumers then read dense scratch memory.
inline void stage_input(Func copy, const LoopLevel &at, int vector_width) {
    copy.compute_at(at).vectorize(copy.args()[0], vector_width, TailStrategy::GuardWithIf);
}

}  // namespace retnet_gen
