// CPU schedule of retention_chunkwise.
//
// Work split: the scan over chunks runs first, one (batch, head) per task, and stores the state
// entering every chunk (as fla's chunk_fwd_h does: (T/C + 1) K V floats per head); then every
// (chunk, head, batch) is an independent task computing its C x V block of outputs. Every
// inner product is register-blocked (matmul_tile.h).
#pragma once

#include "matmul_tile.h"
#include "tuning_space.h"

namespace retnet_gen {

// The tunable parameters of this schedule and their legal ranges, in one place.
#define RETNET_CHUNKWISE_CPU_SCHEDULE_PARAMS                                                   \
    /* floats per SIMD vector; 0 = the target's natural width */                              \
    GeneratorParam<int> vector_width{"vector_width", 0, 0, 32};                               \
    /* register tile: SIMD vectors across the output columns, and rows down */                \
    RETNET_TUNABLE("retention_chunkwise", "cpu", tile_vectors);                               \
    RETNET_TUNABLE("retention_chunkwise", "cpu", tile_rows);                                  \
    /* split each chunk's outputs into this many row blocks per task (more, smaller tasks) */ \
    RETNET_TUNABLE("retention_chunkwise", "cpu", row_blocks);

struct ChunkwiseCpuParams {
    int vector_width, tile_vectors, tile_rows, row_blocks;
};

template<typename G>
ChunkwiseCpuParams chunkwise_cpu_params(const G &g) {
    return {g.vector_width, g.tile_vectors, g.tile_rows, g.row_blocks};
}

struct ChunkwiseFuncs {
    Func o, final_state, out_chunk, q_decayed, scores, scores_raw, k_transposed, v_decayed,
        chunk_state, state_before, decay;
    Func q_padded, k_padded, v_padded;  // the inputs, read with zeros past the end
};

struct ChunkwiseVars {
    Var vd, kd, i, j, c, h, b, t;
    RDom over_chunk, over_keys, scan;
};

inline void schedule_retention_chunkwise_cpu(ChunkwiseFuncs &f, ChunkwiseVars &x, int C,
                                             const ChunkwiseCpuParams &p,
                                             const Target &target = get_target_from_environment()) {
    const RegisterTile tile = register_tile_for(target, p.vector_width, p.tile_vectors,
                                                std::min(p.tile_rows, C), 1 << 30);
    const RegisterTile key_tile = register_tile_for(target, p.vector_width, p.tile_vectors,
                                                    std::min(p.tile_rows, C), C);
    Var task("task"), vo("vo"), vi("vi"), io("io"), ii("ii"), rb("rb");

    f.decay.compute_root();

    // 1. The scan over chunks: one (b, h) per task; each chunk's K x V contribution is
    //    accumulated in registers, tile by tile, right where the scan consumes it.
    f.state_before.compute_root().vectorize(x.vd, tile.vector_width, TailStrategy::GuardWithIf)
        .fuse(x.h, x.b, task).parallel(task);
    Stage scan = f.state_before.update();
    scan.reorder(x.vd, x.kd, x.scan, x.h, x.b)
        .fuse(x.h, x.b, task)
        .parallel(task)
        .tile(x.vd, x.kd, vo, io, vi, ii, tile.cols, tile.rows, TailStrategy::GuardWithIf)
        .vectorize(vi, tile.vector_width)
        .unroll(ii);
    f.v_decayed.compute_at(f.state_before, x.scan).vectorize(x.vd, tile.vector_width,
                                                           TailStrategy::GuardWithIf);
    schedule_register_tile(f.chunk_state, x.vd, x.kd, LoopLevel(f.state_before, vo), tile,
                           {x.over_chunk});
    // Inputs are staged once per chunk into dense scratch, so that the inner products never see
    // the clamps and end-of-sequence selects of the padded reads.
    stage_input(f.k_padded.in(f.chunk_state), LoopLevel(f.state_before, x.scan), tile.vector_width);

    // 2. Outputs: every (chunk, head, batch) is a task.
    f.o.split(x.t, x.c, x.i, C, TailStrategy::GuardWithIf)
        .reorder(x.vd, x.i, x.c, x.h, x.b)
        .fuse(x.c, x.h, task)
        .fuse(task, x.b, task)
        .parallel(task)
        .tile(x.vd, x.i, vo, io, vi, ii, tile.cols, tile.rows, TailStrategy::GuardWithIf)
        .vectorize(vi, tile.vector_width)
        .unroll(ii);
    if (p.row_blocks > 1) {
        f.o.split(io, rb, io, std::max(1, C / tile.rows / p.row_blocks)).reorder(vi, ii, vo, io, rb, task)
            .fuse(rb, task, task);
    }
    stage_input(f.k_padded.in(f.k_transposed), LoopLevel(f.o, task), tile.vector_width);
    f.k_transposed.compute_at(f.o, task).vectorize(x.j, key_tile.vector_width);
    stage_input(f.q_padded, LoopLevel(f.o, task), tile.vector_width);  // read by scores and q_decayed
    stage_input(f.v_padded.in(f.out_chunk), LoopLevel(f.o, task), tile.vector_width);
    f.scores.compute_at(f.o, task)
        .tile(x.j, x.i, vo, io, vi, ii, key_tile.cols, key_tile.rows)
        .vectorize(vi, key_tile.vector_width)
        .unroll(ii);
    schedule_register_tile(f.scores_raw, x.j, x.i, LoopLevel(f.scores, vo), key_tile,
                           {x.over_keys});
    schedule_register_tile(f.out_chunk, x.vd, x.t, LoopLevel(f.o, vo), tile, {x.over_chunk, x.over_keys});
    f.q_decayed.compute_at(f.o, task).vectorize(x.kd, tile.vector_width, TailStrategy::GuardWithIf);

    // 3. The final state is a copy of the scan's last entry.
    f.final_state.vectorize(x.vd, tile.vector_width, TailStrategy::GuardWithIf)
        .fuse(x.h, x.b, task).parallel(task);
}

}  // namespace retnet_gen
