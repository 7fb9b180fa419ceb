// GPU schedule of retention_parallel (CUDA and OpenCL).
//
// One block per (V tile, query tile, head). The block keeps its query tile's outputs in shared
// memory and walks the key tiles up to the diagonal: for each, the tile x tile decayed scores and
// the key tile's values go to shared memory, then every thread adds its rows x cols register tile
// of outputs into the shared accumulator. The final state: each key tile's part by a block of its
// own (rfactor), then a thread per state element adds the parts.
#pragma once

#include "gpu_common.h"
#include "retention_stages.h"
#include "tuning_space.h"

namespace retnet_gen {

inline void schedule_retention_parallel_gpu(ParallelFuncs &f, ParallelVars &x, int tile_len, const ParallelGpuParams &p) {
    const int rows = std::min(p.rows_per_thread, tile_len);
    const int cols = p.cols_per_thread;
    const int value_tile = p.value_threads * cols;
    const TailStrategy guard = TailStrategy::GuardWithIf;
    Var vo("vo"), vt("vt"), vi("vi"), vc("vc"), io("io"), ii("ii");

    // Threads per block: value_threads x (tile_len / rows), the same in every stage of the
    // kernel (more would not fit the register file at up to 255 registers a thread).
    f.o.split(x.t, x.qt, x.i, tile_len, guard)
        .split(x.vd, vo, vt, value_tile, guard)
        .split(vt, vi, vc, cols)
        .split(x.i, io, ii, rows)
        .reorder(vc, ii, vi, io, vo, x.qt, x.h, x.b)
        .unroll(vc)
        .unroll(ii);
    gpu_blocks_over_heads(f.o, vo, x.qt, x.h, x.b);
    f.o.gpu_threads(vi, io);

    // The query tile's outputs (tile x value_tile), in shared memory across key tiles; each
    // thread owns cols x rows of them and accumulates a key tile's product in registers first.
    // Constant extents (a partial last value tile computes columns nobody reads; its clamped
    // value reads stay in bounds) and rounded-up thread tiles: the shared buffers' offsets and
    // row strides are then constants, so the unrolled loads of 4 consecutive keys' scores and of
    // a thread's 4 value columns merge into ld.shared.v4 (a quarter of the load instructions).
    auto thread_tiles = [&](Stage s) {
        s.split(x.vd, vt, vc, cols, TailStrategy::RoundUp).split(x.i, io, ii, rows, TailStrategy::RoundUp).reorder(vc, ii, vt, io).gpu_threads(vt, io).unroll(vc).unroll(ii);
    };
    f.out_tile.compute_at(f.o, vo).bound_extent(x.vd, value_tile).bound_extent(x.i, tile_len);
    thread_tiles(f.out_tile);
    f.from_initial_state.compute_at(f.out_tile, vt).bound_extent(x.vd, cols).bound_extent(x.i, rows).unroll(x.vd).unroll(x.i);
    f.from_initial_state.update().reorder(x.vd, x.i, x.over_keys).unroll(x.vd).unroll(x.i);
    f.out_tile.update().reorder(x.vd, x.i, x.key_tiles);
    thread_tiles(f.out_tile.update());
    f.tile_product.compute_at(f.out_tile, vt).bound_extent(x.vd, cols).bound_extent(x.i, rows).unroll(x.vd).unroll(x.i);
    f.tile_product.update().reorder(x.vd, x.i, x.over_tile).unroll(x.vd).unroll(x.i);
    // Shared memory, computed by the block's threads in register tiles. Its extents are pinned:
    // Halide sizes shared memory by walking every key tile on the host, including those past the
    // diagonal that the causal RDom skips, where the inferred region has a negative extent
    // (squared into a huge size).
    f.scores.compute_at(f.out_tile, x.key_tiles)
        .bound_extent(x.j, tile_len)
        .bound_extent(x.i, tile_len)
        .bound_extent(x.kt, 1);
    ScoreTile score_tile{f.scores, f.scores_raw, f.k_transposed, x.j, x.i, x.kd, x.kt, x.h, x.b, x.over_keys};
    schedule_gpu_score_tile(score_tile, tile_len, rows, p.value_threads);
    const RVar score_steps = unroll_reduction(f.scores_raw.update(), x.over_keys, p.unroll);
    unroll_reduction(f.tile_product.update(), x.over_tile, p.unroll);
    const RVar initial_state_steps = unroll_reduction(f.from_initial_state.update(), x.over_keys, p.unroll);
    if (p.vector_loads) {
        query_rows_in_registers(f.q_padded, f.scores_raw, score_steps, p.unroll);
        query_rows_in_registers(f.q_padded, f.from_initial_state, initial_state_steps, p.unroll);
    }
    if (p.dense_queries) dense_padded_copy(f.q_padded);
    if (p.stage_inputs) {
        // The key tile's values (tile x value_tile), beside the scores, once per key tile.
        stage_input_tile(f.v_padded.in(f.tile_product), value_tile, tile_len, LoopLevel(f.out_tile, x.key_tiles),
                         p.value_threads, tile_len / rows);
    }

    // The final state: the sum over tokens split into key tiles, each tile's part computed by its
    // own block (rfactor) with a register tile per thread, then one thread per state element adds
    // the parts. (One thread walking all T tokens per element would be a long serial walk with
    // few threads.)
    RVar tile_index("tile_index"), in_tile("in_tile");
    Var piece("piece"), vo2("vo"), vt2("vt"), vi2("vi"), vc2("vc"), ko("ko"), kt("kt"), ki("ki"), kr("kr"), tile("tile");
    Func parts = f.state_sum.update().split(x.over_time, tile_index, in_tile, tile_len, guard).rfactor(tile_index, piece);
    Func parts_out = parts.in(f.state_sum);
    const int key_rows = 4;
    parts_out.compute_root()
        .split(x.vd, vo2, vt2, value_tile, guard)
        .split(vt2, vi2, vc2, cols)
        .split(x.kd, ko, kt, p.key_threads * key_rows, guard)
        .split(kt, ki, kr, key_rows)
        .reorder(vc2, kr, vi2, ki, vo2, ko, piece, x.h, x.b)
        .unroll(vc2)
        .unroll(kr)
        .fuse(vo2, ko, tile);
    gpu_blocks_over_heads(parts_out, tile, piece, x.h, x.b);
    parts_out.gpu_threads(vi2, ki);
    parts.compute_at(parts_out, vi2).bound_extent(x.vd, cols).bound_extent(x.kd, key_rows).unroll(x.vd).unroll(x.kd);
    parts.update().reorder(x.vd, x.kd, in_tile).unroll(x.vd).unroll(x.kd);
    unroll_reduction(parts.update(), in_tile, p.unroll);
    if (p.stage_inputs) {
        // The block's key tile of keys (tile x its key_threads * key_rows features) and values
        // (tile x value_tile), as the chunkwise contribution kernel stages them: read inline,
        // each element had its clamp and end-of-sequence select (PTX: 361 instructions and 32
        // scalar loads per 64 products).
        const LoopLevel block(parts_out, tile);
        stage_input_tile(f.k_padded.in(parts), p.key_threads * key_rows, tile_len, block, p.value_threads, p.key_threads);
        stage_input_tile(f.v_padded.in(parts), value_tile, tile_len, block, p.value_threads, p.key_threads);
    }
    schedule_gpu_state_output(f.final_state, x.vd, x.kd, x.h, x.b, p.value_threads, p.key_threads);
    f.state_sum.compute_at(f.final_state, Var("vi"));  // one thread per state element, summing the parts
}

}  // namespace retnet_gen
