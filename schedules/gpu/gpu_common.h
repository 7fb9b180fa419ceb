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

// Unrolls a register tile's reduction loop by `factor` (its inner part), so that the compiler
// folds the per-step address arithmetic into constant offsets. Returns the loop over the steps
// (r itself when factor <= 1).
inline RVar unroll_reduction(Stage s, const RVar &r, int factor) {
    if (factor <= 1) return r;
    RVar ro(r.name() + "_o"), ri(r.name() + "_i");
    s.split(r, ro, ri, factor, TailStrategy::GuardWithIf).unroll(ri);
    return ro;
}

// A register tile's query rows, loaded as vectors: at each step of the consumer's unrolled loop
// over keys (`key_steps`, `unroll` features a step), every row the thread owns reads its
// `unroll` consecutive features of the dense query copy into registers in one load
// (ld.global.v4 at unroll 4) instead of `unroll` scalar loads. The vector loads need rows that
// start at multiples of 4 floats: dense_padded_copy pads them. A step past the last feature (K
// not a multiple of unroll) reads clamped features that the guarded reduction never uses.
inline void query_rows_in_registers(Func padded_queries, Func consumer, const RVar &key_steps, int unroll) {
    if (unroll <= 1) return;
    Func rows = padded_queries.in().in(consumer);
    const Var feature = rows.args()[0], token = rows.args()[2];
    rows.compute_at(consumer, key_steps).bound_extent(feature, unroll).vectorize(feature).unroll(token);
}

// Makes every consumer of `padded` (an input (a, h, t, b) read inline with a clamp and an
// end-of-sequence select per element, zero_past_end) read one dense copy of it instead, computed
// by a kernel of its own: the inner loops then load it with no clamp or select.
inline void dense_padded_copy(Func padded) {
    Func copy = padded.in();
    const Var a = copy.args()[0], h = copy.args()[1], t = copy.args()[2], b = copy.args()[3];
    Var ao("ao"), ai("ai"), av("av"), to("to"), ti("ti");
    // Rows padded to multiples of 4 floats, for query_rows_in_registers' vector loads. Each
    // thread copies 4 consecutive features (one 4-float store): a thread per float made the copy
    // bound by its index arithmetic (ncu, B4 T2048 H16 K128: 86 us for 134 MB moved, 79% of the
    // SMs' issue rate). The rounded-up features past K read clamped inputs into the padding.
    copy.compute_root()
        .align_storage(a, 4)
        .split(a, ao, ai, 32, TailStrategy::RoundUp)
        .split(ai, ai, av, 4)
        .split(t, to, ti, 32, TailStrategy::GuardWithIf)
        .reorder(av, ai, ti, ao, to, h, b)
        .vectorize(av);
    gpu_blocks_over_heads(copy, ao, to, h, b);
    copy.gpu_threads(ai, ti);
}

// Computes `tile` (a chunk's or key tile's inputs) at the block loop `at`, into shared memory: the
// block's threads, a grid of threads_x along its first dimension (coalesced) by threads_y along
// `rows`, load it together, once, for every thread of the block to read.
inline void stage_in_shared(Func tile, const Var &rows, const LoopLevel &at, int threads_x, int threads_y) {
    Var xo("xo"), xi("xi"), yo("yo"), yi("yi");
    tile.compute_at(at)
        .split(tile.args()[0], xo, xi, threads_x, TailStrategy::GuardWithIf)
        .split(rows, yo, yi, threads_y, TailStrategy::GuardWithIf)
        .reorder(xi, yi, xo, yo)
        .gpu_threads(xi, yi);
}

// A tile of an input (a wrapper of an (a, h, t, b) input for one consumer: `features` x `tokens`)
// staged in shared memory by stage_in_shared at constant extents. Constant extents (also for a
// partial last tile, whose extra features the clamped reads fill and nobody reads) make the
// staged rows' offsets and strides constants, so the consumers' unrolled loads of consecutive
// features merge into 4-float vectors (ld.shared.v4).
inline void stage_input_tile(Func input_tile, int features, int tokens, const LoopLevel &at, int threads_x, int threads_y) {
    const Var feature = input_tile.args()[0], token = input_tile.args()[2];
    input_tile.bound_extent(feature, features).bound_extent(token, tokens);
    stage_in_shared(input_tile, token, at, threads_x, threads_y);
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

// The warp quadrants of a tile_len x tile_len score tile: `key_threads` threads along the keys
// (tile_len / key_threads keys each), tile_len / rows along the rows, numbered with threads_x
// threads to a row of the block so that every warp lies inside one quadrant. Whether the layout
// allows it: each quadrant a whole number of warps, a warp a whole number of block rows.
inline bool gpu_warp_quadrant_scores(int tile_len, int key_threads, int rows, int threads_x) {
    const int quadrant_keys = key_threads / 2, quadrant_rows = tile_len / rows / 2;  // in thread tiles
    if (tile_len % (2 * rows) != 0 || key_threads % 2 != 0 || threads_x > 32 || 32 % threads_x != 0) return false;
    if (threads_x % quadrant_keys != 0) return false;
    const int rows_per_x = threads_x / quadrant_keys;  // row tiles in a block row of threads
    return quadrant_rows % rows_per_x == 0 && (quadrant_rows / rows_per_x) % (32 / threads_x) == 0;
}

// `key_threads` threads along the keys (the block's value threads where the tile shares a kernel
// with the outputs); with warp_quadrants, threads_x of them to a block row (see above).
inline void schedule_gpu_score_tile(ScoreTile &s, int tile_len, int rows, int key_threads,
                                    bool warp_quadrants = false, int threads_x = 32) {
    const int score_cols = std::max(1, tile_len / key_threads);  // keys per thread
    Var jt("jt"), jc("jc"), it("it"), ic("ic"), tx("tx");
    s.scores.split(s.j, jt, jc, score_cols).split(s.i, it, ic, rows);
    if (warp_quadrants) {
        // Threads numbered so that each warp computes its part of one quadrant (key tiles x row
        // tiles within it, threads_x to a block row). A predicate on the scores' keys (the
        // generator's) then skips the quadrant above the diagonal in whole warps, where a warp
        // spanning both sides would wait for its unmasked threads.
        const int quadrant_keys = key_threads / 2, quadrant_rows = tile_len / rows / 2;
        Var jq("jq"), jw("jw"), iq("iq"), iw("iw"), iw_lo("iw_lo"), iw_hi("iw_hi"), ty("ty"), q("q");
        s.scores.split(jt, jq, jw, quadrant_keys)
            .split(it, iq, iw, quadrant_rows)
            .split(iw, iw_hi, iw_lo, threads_x / quadrant_keys)
            .reorder(jc, ic, jw, iw_lo, iw_hi, jq, iq)
            .fuse(jw, iw_lo, tx)
            .fuse(iw_hi, jq, q)
            .fuse(q, iq, ty)
            .unroll(jc)
            .unroll(ic)
            .gpu_threads(tx, ty);
    } else {
        s.scores.reorder(jc, ic, jt, it).unroll(jc).unroll(ic).gpu_threads(jt, it);
    }
    const LoopLevel thread_tile(s.scores, warp_quadrants ? tx : jt);  // a thread's score tile
    // The keys vectorised: a thread's score_cols keys are adjacent in k_transposed, one vector
    // load per step where the width allows.
    s.scores_raw.compute_at(thread_tile).bound_extent(s.j, score_cols).bound_extent(s.i, rows).vectorize(s.j).unroll(s.i);
    s.scores_raw.update().reorder(s.j, s.i, s.over_keys).vectorize(s.j).unroll(s.i);
    // A block transposes a (key_threads keys x 16 features) patch (blocks of key_threads threads
    // alone leave most of an SM's thread slots empty).
    Var ko("ko"), ki("ki");
    s.k_transposed.compute_root()
        .split(s.j, jt, jc, key_threads, TailStrategy::GuardWithIf)
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
