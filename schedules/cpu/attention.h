// CPU schedules of the attention kernels (generators/attention.cpp). attention_chunks: a task per
// (query tile, chunk of keys, head, sequence); in it the tile's scores are a register-blocked
// product (keys across the vectors: the transposed key cache is contiguous along keys), then
// their softmax weights, then the weighted sum of the values (value columns across the vectors).
// attention_combine: a task per (head, sequence), vectorised along the value columns.
#pragma once

#include "matmul_tile.h"
#include "tuning_space.h"

namespace retnet_gen {

struct AttentionVars {
    Var e, jj, t, c, h, b;
};

struct AttentionChunkFuncs {
    Func parts, chunk_out, score, largest, weight;
    AttentionVars v;
    RVar over_features;  // score's reduction over the head dimension
};

struct AttentionCombineFuncs {
    Func o, unnormalised, overall, rescale;
    Var d, t, h, b;
};

inline void schedule_attention_chunks_cpu(AttentionChunkFuncs &f, const AttentionCpuParams &p, int chunk,
                                          const Target &target) {
    const int vec = p.vector_width > 0 ? p.vector_width : target.natural_vector_size<float>();
    const TailStrategy guard = TailStrategy::GuardWithIf;
    AttentionVars &v = f.v;
    Var to("to"), ti("ti"), task("task");
    f.parts.split(v.t, to, ti, p.query_tile, guard)
        .reorder(v.e, ti, to, v.c, v.h, v.b)
        .fuse(to, v.c, task)
        .fuse(task, v.h, task)
        .fuse(task, v.b, task)
        .parallel(task)
        .vectorize(v.e, vec, guard);
    const LoopLevel at(f.parts, task);
    f.chunk_out.compute_at(at).vectorize(v.e, vec, guard);
    f.chunk_out.update(0).reorder(v.e, v.t, f.chunk_out.rvars(0)[0]).vectorize(v.e, vec, guard);
    // The scores: a copy at the task level that largest and weight read, made of register tiles
    // (tile.cols keys x the tile's queries) each summed over the head dimension in registers.
    const RegisterTile tile = register_tile_for(target, p.vector_width, p.score_vectors, p.query_tile, chunk);
    Func stored = f.score.in();
    Var jo("jo"), ji("ji");
    stored.compute_at(at)
        .split(v.jj, jo, ji, tile.cols, TailStrategy::RoundUp)
        .reorder(ji, v.t, jo)
        .vectorize(ji, tile.vector_width)
        .unroll(v.t);
    schedule_register_tile(f.score, v.jj, v.t, LoopLevel(stored, jo), tile, {f.over_features});
    f.largest.compute_at(at);
    f.weight.compute_at(at).vectorize(v.jj, vec, guard);
}

inline void schedule_attention_combine_cpu(AttentionCombineFuncs &f, const AttentionCpuParams &p, const Target &target) {
    const int vec = p.vector_width > 0 ? p.vector_width : target.natural_vector_size<float>();
    const TailStrategy guard = TailStrategy::GuardWithIf;
    Var task("task");
    f.o.reorder(f.d, f.t, f.h, f.b).fuse(f.h, f.b, task).parallel(task).vectorize(f.d, vec, guard);
    f.unnormalised.compute_at(f.o, f.t).vectorize(f.d, vec, guard);
    f.unnormalised.update().reorder(f.d, f.unnormalised.rvars(0)[0]).vectorize(f.d, vec, guard);
    f.overall.compute_at(f.o, f.t);
    f.rescale.compute_at(f.o, f.t);
}

}  // namespace retnet_gen
