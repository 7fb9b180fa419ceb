// Pieces shared by the GPU schedules.
#pragma once

#include "Halide.h"

namespace retnet_gen {

using namespace Halide;

// Launches one block per (x[, y], batch x head): fuses h and b (Halide has three block
// dimensions) and maps the given loops to blocks.
inline void gpu_blocks_over_heads(Stage s, const VarOrRVar &x, const Var &h, const Var &b) {
    Var hb("hb");
    s.fuse(h, b, hb).gpu_blocks(x, hb);
}
inline void gpu_blocks_over_heads(Stage s, const VarOrRVar &x, const VarOrRVar &y, const Var &h, const Var &b) {
    Var hb("hb");
    s.fuse(h, b, hb).gpu_blocks(x, y, hb);
}

// The decayed score tile of a chunk or query tile, in shared memory: the block's threads each
// compute a (keys x rows) register tile of scores(j, i) from scores_raw(j, i) = q_i . k_j, reading
// keys from k_transposed, which is computed once into device memory with j innermost so that a
// warp's threads, which differ in j, load nearby addresses (not stride H*K).
// `tile_dim` is the tile index Var of k_transposed (chunk or key tile).
struct ScoreTile {
    Func scores, scores_raw, k_transposed;
    Var j, i, kd, tile_dim, h, b;
    RVar over_keys;
};

inline void schedule_gpu_score_tile(ScoreTile &s, int tile_len, int rows, int value_threads) {
    const int score_cols = std::max(1, tile_len / value_threads);  // keys per thread
    Var jt("jt"), jc("jc"), it("it"), ic("ic");
    s.scores.split(s.j, jt, jc, score_cols)
        .split(s.i, it, ic, rows)
        .reorder(jc, ic, jt, it)
        .unroll(jc)
        .unroll(ic)
        .gpu_threads(jt, it);
    s.scores_raw.compute_at(s.scores, jt).bound_extent(s.j, score_cols).bound_extent(s.i, rows).unroll(s.j).unroll(s.i);
    s.scores_raw.update().reorder(s.j, s.i, s.over_keys).unroll(s.j).unroll(s.i);
    // A block transposes a (value_threads keys x 16 features) patch (blocks of value_threads
    // threads alone ran at 19% occupancy: measured 0.16 ms for 32 MB on the H200).
    Var ko("ko"), ki("ki");
    s.k_transposed.compute_root()
        .split(s.j, jt, jc, value_threads, TailStrategy::GuardWithIf)
        .split(s.kd, ko, ki, 16, TailStrategy::GuardWithIf)
        .reorder(jc, ki, jt, ko, s.tile_dim, s.h, s.b);
    gpu_blocks_over_heads(s.k_transposed, ko, s.tile_dim, s.h, s.b);
    s.k_transposed.gpu_threads(jc, ki);
}

// A K x V state output, one thread per element.
inline void schedule_gpu_state_output(Func state, const Var &vd, const Var &kd, const Var &h, const Var &b,
                                      int value_threads, int key_threads) {
    Var vo("vo"), vi("vi"), ko("ko"), ki("ki"), tile("tile");
    state.split(vd, vo, vi, value_threads, TailStrategy::GuardWithIf)
        .split(kd, ko, ki, key_threads, TailStrategy::GuardWithIf)
        .reorder(vi, ki, vo, ko, h, b)
        .fuse(vo, ko, tile);
    gpu_blocks_over_heads(state, tile, h, b);
    state.gpu_threads(vi, ki);
}

}  // namespace retnet_gen
