// CPU schedule of retention_parallel.
//
// Every (query tile, head, batch) is a task. Inside it, for each key tile at or before the query
// tile: the tile x tile scores are computed once (register-blocked over keys), then multiplied into
// the query tile's tile x V outputs, which stay in cache across key tiles. The final state is an
// independent K x V reduction over the sequence, register-blocked the same way.
#pragma once

#include "matmul_tile.h"
#include "retention_stages.h"
#include "tuning_space.h"

namespace retnet_gen {

inline void schedule_retention_parallel_cpu(ParallelFuncs &f, ParallelVars &x, int tile_len,
                                            const Expr &has_initial_state, const ParallelCpuParams &p,
                                            const Target &target) {
    const RegisterTile tile = register_tile_for(target, p.vector_width, p.tile_vectors,
                                                std::min(p.tile_rows, tile_len), 1 << 30);
    const RegisterTile key_tile = register_tile_for(target, p.vector_width, p.tile_vectors,
                                                    std::min(p.tile_rows, tile_len), tile_len);
    Var task("task"), vo("vo"), vi("vi"), io("io"), ii("ii");
    Var uvo("uvo"), uvi("uvi"), uio("uio"), uii("uii");  // the tiles of out_tile's update

    f.decay.compute_root();

    f.o.split(x.t, x.qt, x.i, tile_len, TailStrategy::GuardWithIf)
        .reorder(x.vd, x.i, x.qt, x.h, x.b)
        .fuse(x.qt, x.h, task)
        .fuse(task, x.b, task)
        .parallel(task)
        .vectorize(x.vd, tile.vector_width, TailStrategy::GuardWithIf);

    // The query tile's outputs: started from the initial state's contribution (register tiles),
    // then one update per key tile.
    f.out_tile.compute_at(f.o, task)
        .tile(x.vd, x.i, vo, io, vi, ii, tile.cols, tile.rows, TailStrategy::GuardWithIf)
        .vectorize(vi, tile.vector_width)
        .unroll(ii);
    schedule_register_tile(f.from_initial_state, x.vd, x.i, LoopLevel(f.out_tile, vo), tile,
                           {x.over_keys});
    f.out_tile.update()
        .reorder(x.vd, x.i, x.key_tiles)
        .tile(x.vd, x.i, uvo, uio, uvi, uii, tile.cols, tile.rows, TailStrategy::GuardWithIf)
        .vectorize(uvi, tile.vector_width)
        .unroll(uii);
    schedule_register_tile(f.tile_product, x.vd, x.i, LoopLevel(f.out_tile, uvo), tile,
                           {x.over_tile});
    // Inputs are staged once per tile into dense scratch, so that the inner products never see
    // the clamps and end-of-sequence selects of the padded reads.
    stage_input(f.q_padded, LoopLevel(f.o, task), tile.vector_width);  // read by scores and from_initial_state
    // Keys and values are read by every later query tile: stage them once per call (an O(T)
    // copy), keys already transposed for the score product.
    Func v_staged = f.v_padded.in(f.tile_product);
    stage_input(v_staged, LoopLevel::root(), tile.vector_width);
    v_staged.parallel(v_staged.args()[2]);
    stage_input(f.k_padded.in(f.k_transposed), LoopLevel(f.k_transposed, x.kt), tile.vector_width);
    f.k_transposed.compute_root().vectorize(x.j, key_tile.vector_width).parallel(x.kt);
    f.scores.compute_at(f.out_tile, x.key_tiles)
        .tile(x.j, x.i, vo, io, vi, ii, key_tile.cols, key_tile.rows)
        .vectorize(vi, key_tile.vector_width)
        .unroll(ii);
    schedule_register_tile(f.scores_raw, x.j, x.i, LoopLevel(f.scores, vo), key_tile, {x.over_keys});
    f.out_tile.specialize(has_initial_state);

    // Final state: K x V, register tiles over the whole sequence.
    f.final_state.fuse(x.h, x.b, task)
        .parallel(task)
        .tile(x.vd, x.kd, vo, io, vi, ii, tile.cols, tile.rows, TailStrategy::GuardWithIf)
        .vectorize(vi, tile.vector_width)
        .unroll(ii);
    schedule_register_tile(f.state_sum, x.vd, x.kd, LoopLevel(f.final_state, vo), tile, {x.over_time});
    stage_input(f.k_padded.in(f.state_sum), LoopLevel(f.final_state, task), tile.vector_width);
    stage_input(f.v_padded.in(f.state_sum), LoopLevel(f.final_state, task), tile.vector_width);
}

}  // namespace retnet_gen
