// GPU schedules of the attention kernels (generators/attention.cpp), and the choice between the
// CPU's and these. attention_chunks: a block per (query tile, chunk of keys, head and sequence);
// in shared memory the tile's scores (a thread per key: the transposed key cache is read
// coalesced), their softmax weights and the chunk's row of outputs (a thread per value column).
// attention_combine: a block per (query, head, sequence), a thread per value column.
#pragma once

#include "cpu/attention.h"
#include "gpu_common.h"

namespace retnet_gen {

inline void schedule_attention_chunks_gpu(AttentionChunkFuncs &f, const AttentionGpuParams &p) {
    const TailStrategy guard = TailStrategy::GuardWithIf;
    AttentionVars &v = f.v;
    Var to("to"), ti("ti"), hb("hb"), eo("eo"), ei("ei");
    f.parts.split(v.t, to, ti, p.query_tile, guard)
        .fuse(v.h, v.b, hb)
        .split(v.e, eo, ei, p.threads, guard)
        .reorder(ei, eo, ti, to, v.c, hb)
        .gpu_blocks(to, v.c, hb)
        .gpu_threads(ei);
    const LoopLevel block(f.parts, to);
    Var jo("jo"), ji("ji");
    auto threads_over = [&](Stage s, const Var &x) {
        Var xo("xo"), xi("xi");
        s.split(x, xo, xi, p.threads, guard).gpu_threads(xi);
    };
    f.chunk_out.compute_at(block);
    threads_over(f.chunk_out, v.e);
    threads_over(f.chunk_out.update(0).reorder(v.e, v.t, f.chunk_out.rvars(0)[0]), v.e);
    f.score.compute_at(block);
    threads_over(f.score, v.jj);
    threads_over(f.score.update().reorder(v.jj, v.t, f.over_features), v.jj);
    f.largest.compute_at(block).gpu_threads(v.t);
    f.largest.update().gpu_threads(v.t);
    f.weight.compute_at(block);
    threads_over(f.weight, v.jj);
}

inline void schedule_attention_combine_gpu(AttentionCombineFuncs &f, const AttentionGpuParams &p) {
    const TailStrategy guard = TailStrategy::GuardWithIf;
    Var dO("dO"), di("di");
    f.o.split(f.d, dO, di, p.threads, guard).reorder(di, dO, f.h, f.t, f.b).gpu_blocks(f.h, f.t, f.b).gpu_threads(di);
    // Each thread sums its own value column over the chunks (few: the rescaling is per thread).
    f.unnormalised.compute_at(f.o, di);
    f.overall.compute_at(f.o, di);
}

template<typename G>
void schedule_attention_chunks(G &g, const Target &target, AttentionChunkFuncs &f, int chunk) {
    if (uses_gpu_schedules(target)) {
        schedule_attention_chunks_gpu(f, attention_gpu_params(g));
    } else {
        schedule_attention_chunks_cpu(f, attention_cpu_params(g), chunk, target);
    }
}

template<typename G>
void schedule_attention_combine(G &g, const Target &target, AttentionCombineFuncs &f) {
    if (uses_gpu_schedules(target)) {
        schedule_attention_combine_gpu(f, attention_gpu_params(g));
    } else {
        schedule_attention_combine_cpu(f, attention_cpu_params(g), target);
    }
}

}  // namespace retnet_gen
