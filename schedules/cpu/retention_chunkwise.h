// CPU schedule of retention_chunkwise.
//
// Work split (head_tasks = 1, the default): a task per (batch, head) runs the head's scan over
// chunks, storing the state entering every chunk (as fla's chunk_fwd_h does: (T/C + 1) K V floats),
// then the head's chunks' outputs, C x V each, while its states and inputs are in cache.
// head_tasks = 0: the scan covers every head first, then every (chunk, head, batch) is a task.
// Every inner product is register-blocked (matmul_tile.h).
#pragma once

#include "matmul_tile.h"
#include "retention_stages.h"
#include "tuning_space.h"

namespace retnet_gen {

inline void schedule_retention_chunkwise_cpu(ChunkwiseFuncs &f, ChunkwiseVars &x, const ChunkwiseAlgorithm &a,
                                             const ChunkwiseCpuParams &p, const Target &target) {
    const int C = a.chunk;
    const RegisterTile tile = register_tile_for(target, p.vector_width, p.tile_vectors,
                                                std::min(a.tile_rows, C), 1 << 30);
    const RegisterTile key_tile = register_tile_for(target, p.vector_width, p.tile_vectors,
                                                    std::min(a.tile_rows, C), C);
    Var task("task"), vo("vo"), vi("vi"), io("io"), ii("ii"), rb("rb");

    f.decay.compute_root();
    f.causal_decay.compute_root().vectorize(f.causal_decay.args()[0], tile.vector_width, TailStrategy::GuardWithIf);

    // With head_tasks, one task per (b, h) runs the head's scan and then its chunks' outputs, so
    // the head's states (T/C K V floats) and inputs are reread from cache rather than memory (at
    // T 8192 the states of 8 heads are 32 MB and q, k, v 64 MB, beyond a typical L3). h and b
    // stay separate parallel loops, not a fused index: bounds inference then gives each task
    // exactly its own head (with a fused index it computed every head's scan in every task).
    const bool per_head = p.head_tasks != 0;
    const LoopLevel chunk_level = per_head ? LoopLevel(f.o, x.c) : LoopLevel(f.o, task);
    Stage initial = f.state_before.update(0), scan = f.state_before.update(1);
    initial.vectorize(x.vd, tile.vector_width, TailStrategy::GuardWithIf);
    if (per_head) {
        f.state_before.compute_at(f.o, x.h);
        scan.reorder(x.vd, x.kd, x.scan, x.h, x.b);
    } else {
        f.state_before.compute_root();
        initial.fuse(x.h, x.b, task).parallel(task);
        scan.reorder(x.vd, x.kd, x.scan, x.h, x.b).fuse(x.h, x.b, task).parallel(task);
    }
    scan.tile(x.vd, x.kd, vo, io, vi, ii, tile.cols, tile.rows, TailStrategy::GuardWithIf)
        .vectorize(vi, tile.vector_width)
        .unroll(ii);
    f.v_decayed.compute_at(f.state_before, x.scan).vectorize(x.vd, tile.vector_width, TailStrategy::GuardWithIf);
    schedule_register_tile(f.chunk_state, x.vd, x.kd, LoopLevel(f.state_before, vo), tile,
                           {x.over_chunk});
    stage_input(f.k_padded.in(f.chunk_state), LoopLevel(f.state_before, x.scan), tile.vector_width);

    f.o.split(x.t, x.c, x.i, C, TailStrategy::GuardWithIf).reorder(x.vd, x.i, x.c, x.h, x.b);
    if (per_head) {
        f.o.parallel(x.h).parallel(x.b);
    } else {
        f.o.fuse(x.c, x.h, task).fuse(task, x.b, task).parallel(task);
    }
    f.o.tile(x.vd, x.i, vo, io, vi, ii, tile.cols, tile.rows, TailStrategy::GuardWithIf)
        .vectorize(vi, tile.vector_width)
        .unroll(ii);
    if (p.row_blocks > 1 && !per_head) {
        f.o.split(io, rb, io, std::max(1, C / tile.rows / p.row_blocks)).reorder(vi, ii, vo, io, rb, task).fuse(rb, task, task);
    }
    stage_input(f.k_padded.in(f.k_transposed), chunk_level, tile.vector_width);
    f.k_transposed.compute_at(chunk_level).vectorize(x.j, key_tile.vector_width);
    stage_input(f.q_padded, chunk_level, tile.vector_width);
    stage_input(f.v_padded.in(f.out_chunk), chunk_level, tile.vector_width);
    f.scores.compute_at(chunk_level)
        .tile(x.j, x.i, vo, io, vi, ii, key_tile.cols, key_tile.rows)
        .vectorize(vi, key_tile.vector_width)
        .unroll(ii);
    schedule_register_tile(f.scores_raw, x.j, x.i, LoopLevel(f.scores, vo), key_tile,
                           {x.score_keys});
    if (x.block_rows > 0) {
        schedule_register_tile(f.out_chunk, x.vd, x.row, LoopLevel(f.o, vo), tile, {x.over_keys, x.causal});
    } else {
        schedule_register_tile(f.out_chunk, x.vd, x.t, LoopLevel(f.o, vo), tile, {x.over_keys, x.over_chunk});
    }

    // 3. The final state is a copy of the scan's last entry.
    f.final_state.vectorize(x.vd, tile.vector_width, TailStrategy::GuardWithIf);
    if (per_head) {
        // The states live inside o's task: the final state is copied out there too.
        f.final_state.parallel(x.h).parallel(x.b).compute_with(f.o, x.h);
    } else {
        f.final_state.fuse(x.h, x.b, task).parallel(task);
    }
}

}  // namespace retnet_gen
