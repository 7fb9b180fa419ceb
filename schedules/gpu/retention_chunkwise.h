// GPU schedule of retention_chunkwise (CUDA and OpenCL).
//
// Three kernels, as fla's chunked retention does it:
//  1. the scan over chunks: one thread per state element (vd, kd) of a head walks the chunks in
//     order, accumulating each chunk's C-term contribution in a register, and stores the state
//     entering every chunk;
//  2. the outputs: one block per (V tile, chunk, head); the chunk's C x C decayed scores are
//     computed once into shared memory, then each thread accumulates `rows` outputs of one value
//     column in registers (scores x V, then q x the state entering the chunk);
//  3. the final state, a copy of the scan's last entry.
#pragma once

#include "gpu_common.h"

namespace retnet_gen {

#define RETNET_CHUNKWISE_GPU_SCHEDULE_PARAMS                                               \
    /* threads along V (outputs and state columns) per block */                              \
    GeneratorParam<int> gpu_value_threads{"gpu_value_threads", 32, 8, 256};                  \
    /* output rows per thread, in registers */                                               \
    GeneratorParam<int> gpu_rows_per_thread{"gpu_rows_per_thread", 8, 1, 32};                \
    /* threads along K in the state scan */                                                   \
    GeneratorParam<int> gpu_key_threads{"gpu_key_threads", 8, 1, 32};

struct ChunkwiseGpuParams {
    int value_threads, rows_per_thread, key_threads;
};

template<typename G>
ChunkwiseGpuParams chunkwise_gpu_params(const G &g) {
    return {g.gpu_value_threads, g.gpu_rows_per_thread, g.gpu_key_threads};
}

inline void schedule_retention_chunkwise_gpu(ChunkwiseFuncs &f, ChunkwiseVars &x, int C, const ChunkwiseGpuParams &p) {
    const int rows = std::min(p.rows_per_thread, C);
    const int row_threads = C / rows;
    Var vo("vo"), vi("vi"), ko("ko"), ki("ki"), io("io"), ii("ii"), tile("tile"), jo("jo"), ji("ji");
    const TailStrategy guard = TailStrategy::GuardWithIf;

    // 1. The scan over chunks.
    f.state_before.compute_root()
        .split(x.vd, vo, vi, p.value_threads, guard)
        .split(x.kd, ko, ki, p.key_threads, guard)
        .reorder(x.c, vi, ki, vo, ko, x.h, x.b)
        .fuse(vo, ko, tile);
    gpu_blocks_over_heads(f.state_before, tile, x.h, x.b);
    f.state_before.gpu_threads(vi, ki);
    Stage scan = f.state_before.update();
    scan.split(x.vd, vo, vi, p.value_threads, guard)
        .split(x.kd, ko, ki, p.key_threads, guard)
        .reorder(x.scan, vi, ki, vo, ko, x.h, x.b)
        .fuse(vo, ko, tile);
    gpu_blocks_over_heads(scan, tile, x.h, x.b);
    scan.gpu_threads(vi, ki);
    f.chunk_state.compute_at(f.state_before, x.scan);  // one register per thread

    // 2. Outputs.
    f.o.split(x.t, x.c, x.i, C, guard)
        .split(x.vd, vo, vi, p.value_threads, guard)
        .split(x.i, io, ii, rows)
        .reorder(ii, vi, io, vo, x.c, x.h, x.b)
        .unroll(ii);
    gpu_blocks_over_heads(f.o, vo, x.c, x.h, x.b);
    f.o.gpu_threads(vi, io);
    f.out_chunk.compute_at(f.o, vi).bound_extent(x.t, rows).unroll(x.t);
    f.out_chunk.update(0).reorder(x.vd, x.t, x.over_chunk).unroll(x.t);
    f.out_chunk.update(1).reorder(x.vd, x.t, x.over_keys).unroll(x.t);
    f.scores.compute_at(f.o, vo)  // shared memory, computed by the block's threads
        .split(x.j, jo, ji, p.value_threads, guard)
        .split(x.i, io, ii, rows)
        .reorder(ji, ii, jo, io)
        .gpu_threads(ji, io);
    f.scores_raw.compute_at(f.scores, ji);
    // Keys transposed once into device memory (j innermost), so that a warp's threads, which
    // differ in j, read consecutive addresses in the score product instead of stride H*K.
    f.k_transposed.compute_root().split(x.j, jo, ji, p.value_threads, guard).reorder(ji, x.kd, jo, x.c, x.h, x.b);
    gpu_blocks_over_heads(f.k_transposed, x.kd, x.c, x.h, x.b);
    f.k_transposed.gpu_threads(ji);

    // 3. The final state.
    f.final_state.split(x.vd, vo, vi, p.value_threads, guard).split(x.kd, ko, ki, p.key_threads, guard)
        .reorder(vi, ki, vo, ko, x.h, x.b).fuse(vo, ko, tile);
    gpu_blocks_over_heads(f.final_state, tile, x.h, x.b);
    f.final_state.gpu_threads(vi, ki);
}

}  // namespace retnet_gen
