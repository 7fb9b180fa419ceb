// The tunable schedule parameters of each kernel and target family, and their legal values: the
// one place that both the generators (their GeneratorParams' default, minimum and maximum) and
// `retnet tune` (its search space) read. (Each CPU schedule also takes `vector_width`, 0 = the
// target's natural SIMD width: a property of the target, not tuned.) A value outside the list is still accepted by the
// generator if it lies in [min, max]; the tuner only tries listed values, which are the ones
// known to compile in bounded time (docs/HALIDE14.md: big unrolls blow up LLVM).
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

namespace retnet_gen {

struct TunableParam {
    std::string name;
    int default_value;
    std::vector<int> values;  // legal values, ascending

    int min() const { return values.front(); }
    int max() const { return values.back(); }
};

struct TuningSpace {
    std::string generator;  // generator name, as registered
    std::string family;     // cpu, or gpu (cuda and opencl share schedules)
    std::vector<TunableParam> params;
};

inline const std::vector<TuningSpace> &tuning_spaces() {
    static const std::vector<TuningSpace> spaces{
        {"linear", "cpu",
         {{"vectors", 2, {1, 2, 4}},  // SIMD vectors across a tile; the tile must divide 64 columns
          {"rows", 8, {1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 14, 16}}}},
        {"retention_chunkwise", "cpu",
         {{"tile_vectors", 2, {1, 2, 3, 4}},
          {"tile_rows", 8, {1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 14, 16}},
          {"row_blocks", 1, {1, 2, 4, 8}},
          // 1: a task per (batch, head), its scan and outputs in cache (T8192: 46.5 -> 34.4 ms;
          // B x H = 1 then runs on one core: 0.9-1.2 -> 1.25 ms at T2048); 0: a task per chunk
          {"head_tasks", 1, {0, 1}}}},
        {"retention_parallel", "cpu",
         {{"tile_vectors", 2, {1, 2, 3, 4}}, {"tile_rows", 8, {1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 14, 16}}}},
        {"retention_decode_step", "cpu",
         {{"key_unroll", 4, {1, 2, 4, 8, 16}},
          // read-out accumulators held in registers while walking the rows (one pass)
          {"value_vectors", 4, {1, 2, 4, 8}}}},
        // The row-wise kernels (norms, rotation, embedding) share one schedule.
        {"rows", "cpu", {{"rows_per_task", 8, {1, 2, 4, 8, 16, 32, 64}}}},
        // GPU families (cuda, opencl): swept ahead of time (RETNET_GPU_SWEEP, retnet-gpu-sweep),
        // since the GPU machine has no Halide compiler to JIT with.
        {"linear", "gpu",
         {{"gpu_cols", 4, {1, 2, 4, 8}},  // gpu_cols * gpu_col_threads must divide 64
          {"gpu_rows", 8, {1, 2, 4, 8, 16}},
          {"gpu_col_threads", 16, {8, 16, 32, 64}},
          {"gpu_row_threads", 16, {1, 2, 4, 8, 16}}}},
        {"retention_parallel", "gpu",
         // H200 sweep at B4 T2048 H16 K=V=128 (run 2 of 2026-11-29): 16 threads x 4 columns with
         // the three switches below 7.40 ms; 32 x 2 without them 26.8 ms (14.6 in run 1, before
         // the score tile's keys were vectorised), 32 x 2 with them 9.51 ms. Rows 4 (was 8) since
         // the query tile's outputs have constant extents (fourth session, run 3: B8 T1024 H8
         // K=V=64 0.838 -> 0.688 ms, B4 T2048 7.13 -> 6.21 ms; before that change 4 rows read
         // 1.17 and 10.4 ms). The fifth session's sweep, on another H200 VM, read 8 rows faster
         // (0.806 against 0.966 ms, 6.68 against 9.08), so the tuned CUDA records use 8.
         {{"gpu_value_threads", 16, {8, 16, 32, 64, 128}},
          {"gpu_cols_per_thread", 4, {1, 2, 4, 8}},
          {"gpu_rows_per_thread", 4, {1, 2, 4, 8, 16}},
          {"gpu_key_threads", 8, {1, 2, 4, 8, 16, 32}},
          // as in retention_chunkwise below (gpu_stage_inputs: the key tile's values)
          {"gpu_unroll", 4, {1, 2, 4, 8}},
          {"gpu_dense_queries", 1, {0, 1}},
          {"gpu_stage_inputs", 1, {0, 1}},
          {"gpu_vector_loads", 1, {0, 1}}}},
        {"retention_recurrent", "gpu", {{"gpu_value_threads", 32, {8, 16, 32, 64, 128, 256}}}},
        {"rows", "gpu", {{"gpu_threads", 128, {32, 64, 128, 256, 512}}}},
        {"retention_decode_step", "gpu",
         {{"gpu_columns", 0, {0, 16, 32, 64, 128}},
          // K fixed, narrow blocks: each column's rows split over this many threads
          {"gpu_row_groups", 4, {1, 2, 4, 8, 16}}}},
        {"retention_chunkwise", "gpu",
         // value_threads 16: 2.69 ms against 4.19 with 32 at B4 T2048 H16 K=V=128 (H200 sweep)
         {{"gpu_value_threads", 16, {8, 16, 32, 64, 128}},
          {"gpu_cols_per_thread", 4, {1, 2, 4, 8}},
          {"gpu_rows_per_thread", 8, {1, 2, 4, 8, 16}},
          {"gpu_key_threads", 8, {1, 2, 4, 8, 16, 32}},
          // 8: 1.30 ms against 1.35 with 4 (H200 sweep, run 1 of 2026-11-29)
          {"gpu_key_rows", 8, {1, 2, 4, 8, 16}},
          // 1: every chunk's K^T V contribution computed in parallel (a batched product) before
          // an elementwise scan; 0: each scan thread computes them in order as it walks the chunks
          {"gpu_parallel_chunk_states", 1, {0, 1}},
          // 1: the decay powers as a table computed once; 0: exp() at every use
          {"gpu_decay_table", 1, {0, 1}},
          // the register tiles' reduction loops unrolled by this factor (fewer loop and address
          // instructions per FMA). H200 sweep, B4 T2048 H16 K=V=128 (run 1 of 2026-11-29): the
          // three switches off 1.80 ms, all on 1.35 ms; unroll 8 1.45, dense queries off 1.60
          {"gpu_unroll", 4, {1, 2, 4, 8}},
          // 1: blocks stage their chunk's keys and values in shared memory (the inner loops then
          // read them as 4-float vectors, without the end-of-sequence selects); 0: each thread
          // reads them from device memory
          {"gpu_stage_inputs", 1, {0, 1}},
          // 1: the queries copied once into a dense, zero-padded buffer (a kernel of its own), so
          // the score and state products load them without a clamp and a select per element
          {"gpu_dense_queries", 1, {0, 1}},
          // 1: a register tile's query rows read as 4-float vectors into registers at each
          // unrolled key step, and q x S reads the state's columns as one vector; 0: scalar loads
          // (PTX, the T > 1024 record: q x S 80 loads per 256 FMAs -> 20, scores 68 per 128 -> 20)
          {"gpu_vector_loads", 1, {0, 1}},
          // 1: the scan over chunks loads and stores a thread's state columns as vectors
          {"gpu_vector_scan", 1, {0, 1}},
          // 1: a thread's scores x V stops at its rows' last key (the masked keys past the
          // diagonal skipped, up to the warp's last rows); 0: every thread walks the whole chunk.
          // H200 sweep (one process): 0.847 -> 0.832 ms at B4 T2048 H16 K=V=128
          {"gpu_causal_rows", 1, {0, 1}},
          // 1: where every warp of the score tile lies in one quadrant of the chunk's scores
          // (C 64), the quadrant past the diagonal is skipped: 0.780 -> 0.772 ms
          {"gpu_causal_scores", 1, {0, 1}},
          // 1: the chunk's scores computed once by a kernel of their own, staged by the output
          // blocks; 0: every output block (one per value tile) computes them. 0.820 -> 0.785 ms
          // at V 128 (two value tiles); slower at K = V = 64 (one tile), 0.166 against 0.179
          {"gpu_scores_kernel", 1, {0, 1}},
          // rows a thread in the scores' own kernel (4: 16 accumulators and twice the threads,
          // 0.797 against 0.772 ms with 8)
          {"gpu_score_rows", 8, {4, 8}}}},
    };
    return spaces;
}

inline const TuningSpace &tuning_space(const std::string &generator, const std::string &family) {
    for (const TuningSpace &s : tuning_spaces()) {
        if (s.generator == generator && s.family == family) return s;
    }
    throw std::invalid_argument("no tuning space for " + generator + " on " + family);
}

inline const TunableParam &tunable(const std::string &generator, const std::string &family, const std::string &name) {
    for (const TunableParam &p : tuning_space(generator, family).params) {
        if (p.name == name) return p;
    }
    throw std::invalid_argument("no tunable parameter " + name + " of " + generator + " on " + family);
}

}  // namespace retnet_gen

// A GeneratorParam<int> whose default and range come from the table above.
#define RETNET_TUNABLE(generator, family, name)                                                   \
    GeneratorParam<int> name {                                                                     \
        #name, ::retnet_gen::tunable(generator, family, #name).default_value,                       \
            ::retnet_gen::tunable(generator, family, #name).min(),                                  \
            ::retnet_gen::tunable(generator, family, #name).max()                                   \
    }
