// GPU schedule of retention_chunkwise (CUDA and OpenCL).
//
// The kernels, as fla's chunked retention does it:
//  1. the state entering every chunk: by default every chunk's K^T (V * zeta) contribution is
//     computed in parallel (a block per state tile, chunk and head, register tiles, the chunk's
//     keys and values staged in shared memory), then a scan kernel walks the chunks, decaying and
//     adding (gpu_parallel_chunk_states = 0: each scan thread computes the contributions itself
//     as it walks);
//  2. the chunk's C x C decayed scores, by default a kernel of their own (a block per chunk and
//     head; each warp computes within one quadrant, the quadrant past the diagonal skipped);
//  3. the outputs: one block per (V tile, chunk, head); the chunk's scores (staged, or computed
//     there with gpu_scores_kernel = 0) and values go to shared memory once, then each thread
//     accumulates a rows x cols register tile of outputs (q x the state entering the chunk, times
//     the rows' decay, then scores x V up to its rows' last key);
//  4. the final state, a copy of the scan's last entry;
// plus the keys transposed once (for coalesced score loads), the queries as one dense copy, and
// the decay powers as a table.
#pragma once

#include "gpu_common.h"
#include "retention_stages.h"
#include "tuning_space.h"

namespace retnet_gen {

// The thread layout of a chunk's score tile: threads along the keys, rows a thread, threads to a
// block row. Inside the output kernel the tile uses that kernel's threads (value threads x C /
// rows); a kernel of its own uses 16 x C / score_rows in rows of 32. Where each warp can lie in
// one quadrant of the scores, the quadrant past the diagonal is skipped (warp_quadrants; the
// algorithm's skip_masked_quadrant adds the predicate).
struct ChunkScoreLayout {
    int key_threads, rows, threads_x;
    bool warp_quadrants;
};

inline ChunkScoreLayout chunk_score_layout(int C, int value_threads, int rows, int score_rows, bool scores_kernel,
                                           bool skip_masked_quadrant) {
    ChunkScoreLayout layout{scores_kernel ? 16 : value_threads, std::min(scores_kernel ? score_rows : rows, C),
                            scores_kernel ? 32 : value_threads, false};
    layout.warp_quadrants =
        skip_masked_quadrant && gpu_warp_quadrant_scores(C, layout.key_threads, layout.rows, layout.threads_x);
    return layout;
}

// Every thread owns a register tile (cols x rows), so that each value it loads feeds several
// FMAs: with one column per thread the inner loops issued about one load per FMA and were bound
// by the load units.
inline void schedule_retention_chunkwise_gpu(ChunkwiseFuncs &f, ChunkwiseVars &x, const ChunkwiseAlgorithm &a,
                                             const ChunkwiseGpuParams &p) {
    const int C = a.chunk;
    const int rows = std::min(a.tile_rows, C);
    const int cols = p.cols_per_thread;
    const int value_tile = p.value_threads * cols;
    Var vo("vo"), vt("vt"), vi("vi"), vc("vc"), ko("ko"), kt("kt"), ki("ki"), kr("kr"), io("io"), ii("ii"),
        tile("tile");
    const TailStrategy guard = TailStrategy::GuardWithIf;

    // A thread per (rows_per_thread x cols) block of a head's state, the blocks of threads tiling
    // it (value_tile x key_threads * rows_per_thread); `serial` is the loop each thread walks
    // inside its block (the scan's chunks, or none).
    auto state_tiles = [&](Stage s, int rows_per_thread, std::vector<VarOrRVar> serial, TailStrategy columns_tail = TailStrategy::GuardWithIf) {
        std::vector<VarOrRVar> order{vc, kr};
        order.insert(order.end(), serial.begin(), serial.end());
        order.insert(order.end(), {vi, ki, vo, ko});
        s.split(x.vd, vo, vt, value_tile, columns_tail)
            .split(vt, vi, vc, cols)
            .split(x.kd, ko, kt, p.key_threads * rows_per_thread, guard)
            .split(kt, ki, kr, rows_per_thread)
            .reorder(order)
            .unroll(vc)
            .unroll(kr)
            .fuse(vo, ko, tile);
    };

    // 1. The scan over chunks: each thread walks the chunks in order for its block of the state.
    f.state_before.compute_root();
    Stage initial = f.state_before.update(0);  // the state entering chunk 0
    initial.split(x.vd, vo, vi, p.value_threads, guard)
        .split(x.kd, ko, ki, p.key_threads, guard)
        .reorder(vi, ki, vo, ko, x.h, x.b)
        .fuse(vo, ko, tile);
    gpu_blocks_over_heads(initial, tile, x.h, x.b);
    initial.gpu_threads(vi, ki);
    Stage scan = f.state_before.update(1);
    // With the contributions computed beforehand the scan only decays and adds: one state row a
    // thread gives it key_rows times the blocks (ncu, B4 T2048 H16 with key_rows 8 and 16 key
    // threads: 128 blocks, 12% occupancy, 193 us).
    state_tiles(scan, p.parallel_chunk_states ? 1 : p.key_rows, {x.scan}, p.vector_scan ? TailStrategy::RoundUp : guard);
    gpu_blocks_over_heads(scan, tile, x.h, x.b);
    scan.gpu_threads(vi, ki);
    if (p.vector_scan) {
        // A thread's cols state columns as one vector: loads and stores of 4 floats (the
        // contributions' and states' rows padded to multiples of 4, the columns starting at 0).
        scan.vectorize(vc);
    }
    if (p.parallel_chunk_states) {
        // Every chunk's contribution K_c^T (V_c * zeta) at once, a block per (state tile, chunk,
        // head): thousands of blocks instead of one serial walk per state tile (which
        // leaves most of the GPU idle). The scan
        // above then only decays and adds, reading each contribution once.
        Func contribution = f.chunk_state.in(f.state_before);
        contribution.compute_root();
        contribution.align_storage(x.vd, 4);
        state_tiles(contribution, p.key_rows, {});
        gpu_blocks_over_heads(contribution, tile, x.c, x.h, x.b);
        contribution.gpu_threads(vi, ki);
        f.chunk_state.compute_at(contribution, vi);
        if (p.stage_inputs) {
            // The block's chunk of decayed values (C x value_tile; their own Func, indexed (vd, j),
            // with the same constant feature extent) and keys (C x key_tile).
            const LoopLevel block(contribution, tile);
            f.v_decayed.bound_extent(x.vd, value_tile);
            stage_in_shared(f.v_decayed, x.j, block, p.value_threads, p.key_threads);
            stage_input_tile(f.k_padded.in(f.chunk_state), p.key_threads * p.key_rows, C, block, p.value_threads,
                             p.key_threads);
        }
    } else {
        f.chunk_state.compute_at(f.state_before, x.scan);
    }
    f.chunk_state.bound_extent(x.vd, cols).bound_extent(x.kd, p.key_rows).unroll(x.vd).unroll(x.kd);
    f.chunk_state.update().reorder(x.vd, x.kd, x.over_chunk).unroll(x.vd).unroll(x.kd);
    unroll_reduction(f.chunk_state.update(), x.over_chunk, p.unroll);
    if (p.decay_table) {
        // gamma_h^d for d = 0..C, computed once per call instead of an exp() at every use.
        const Var d = f.decay.args()[0], head = f.decay.args()[1];
        Var dt("dt"), di("di");
        f.decay.compute_root().split(d, dt, di, C + 1, guard).gpu_blocks(dt, head).gpu_threads(di);
    }

    // 2 and 3. The scores and the outputs: a block per (V tile, chunk, head); the chunk's C x C
    //    scores go to shared memory once (staged from their own kernel, or computed there), then
    //    each thread accumulates its cols x rows outputs in registers.
    f.o.split(x.t, x.c, x.i, C, guard)
        .split(x.vd, vo, vt, value_tile, guard)
        .split(vt, vi, vc, cols)
        .split(x.i, io, ii, rows)
        .reorder(vc, ii, vi, io, vo, x.c, x.h, x.b)
        .unroll(vc)
        .unroll(ii);
    gpu_blocks_over_heads(f.o, vo, x.c, x.h, x.b);
    f.o.gpu_threads(vi, io);
    // The thread's rows: a block of rows (x.row, with the causal reduction over the chunk's keys
    // up to the block's last row) where the generator chose row blocks, else tokens.
    const Var row = x.block_rows > 0 ? x.row : x.t;
    const RVar over_chunk = x.block_rows > 0 ? RVar(x.causal) : RVar(x.over_chunk);
    f.out_chunk.compute_at(f.o, vi).bound_extent(x.vd, cols).bound_extent(row, rows).unroll(x.vd).unroll(row);
    if (x.block_rows > 0) {
        // A thread's rows are one block (Halide's interval of t / rows over a guarded split is
        // wider, which would send the register tile to device memory).
        f.out_chunk.bound_extent(f.out_chunk.args()[2], 1);
    }
    // Updates: q x S over the keys, the rows' decay, scores x V over the chunk.
    // q x S reads the state entering the chunk from device memory: its cols columns as one
    // vector (ld.global.v4 at 4 columns, where the unrolled columns were 4 scalar loads). The
    // vector's alignment must be provable: the thread's first column is a multiple of cols
    // (the outputs' feature index starts at 0: the generator declares it) and the state's rows
    // are padded to multiples of 4 floats.
    f.state_before.align_storage(x.vd, 4);
    Stage q_times_state = f.out_chunk.update(0);
    q_times_state.reorder(x.vd, row, x.over_keys).unroll(row);
    if (p.vector_loads) {
        q_times_state.vectorize(x.vd);
    } else {
        q_times_state.unroll(x.vd);
    }
    f.out_chunk.update(1).unroll(x.vd).unroll(row);
    f.out_chunk.update(2).reorder(x.vd, row, over_chunk).unroll(x.vd).unroll(row);
    const RVar q_times_state_steps = unroll_reduction(q_times_state, x.over_keys, p.unroll);
    unroll_reduction(f.out_chunk.update(2), over_chunk, p.unroll);
    ScoreTile score_tile{f.scores, f.scores_raw, f.k_transposed, x.j, x.i, x.kd, x.c, x.h, x.b, x.score_keys};
    const ChunkScoreLayout score_layout =
        chunk_score_layout(C, p.value_threads, rows, p.score_rows, p.scores_kernel, a.skip_masked_quadrant);
    schedule_gpu_score_tile(score_tile, C, score_layout.rows, score_layout.key_threads, score_layout.warp_quadrants,
                            score_layout.threads_x);
    if (p.scores_kernel) {
        // The chunk's scores by a kernel of their own (a block per chunk and head) into device
        // memory, which each output block stages in shared memory: with several value tiles
        // (V 128 at 64 columns a block) every tile recomputed them, a third of the output
        // kernel's FMAs.
        f.scores.compute_root();
        gpu_blocks_over_heads(f.scores, x.c, x.h, x.b);
        Func staged_scores = f.scores.in(f.out_chunk);
        staged_scores.bound_extent(x.j, C).bound_extent(x.i, C);
        stage_in_shared(staged_scores, x.i, LoopLevel(f.o, vo), p.value_threads, C / rows);
    } else {
        f.scores.compute_at(f.o, vo);  // shared memory, computed by the block's threads
    }
    const RVar score_steps = unroll_reduction(f.scores_raw.update(), x.score_keys, p.unroll);
    if (p.vector_loads) {
        query_rows_in_registers(f.q_padded, f.out_chunk, q_times_state_steps, p.unroll);
        query_rows_in_registers(f.q_padded, f.scores_raw, score_steps, p.unroll);
    }
    if (p.dense_queries) dense_padded_copy(f.q_padded);  // T rounded up to whole chunks
    if (p.stage_inputs) {
        // The chunk's values (C x value_tile), next to the scores (constant extents keep the
        // scores x V loop's value loads 4-float vectors whatever bounds the outputs have).
        stage_input_tile(f.v_padded.in(f.out_chunk), value_tile, C, LoopLevel(f.o, vo), p.value_threads, C / rows);
    }

    // 4. The final state.
    schedule_gpu_state_output(f.final_state, x.vd, x.kd, x.h, x.b, p.value_threads, p.key_threads);
}

}  // namespace retnet_gen
