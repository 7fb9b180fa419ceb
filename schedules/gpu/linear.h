// GPU schedule of the linear kernels: every thread accumulates a (cols x rows) register tile of
// outputs over K; a block is (col_threads x row_threads) threads. Weight loads are coalesced
// (threads of a warp differ in the column, which is contiguous); the input rows are shared by
// the block's threads through L1. No shared-memory staging yet (docs/PERF.md).
// rows = 1, row_threads = 1 is the matrix-vector variant for decoding.
#pragma once

#include "gpu_common.h"
#include "linear_common.h"
#include "tuning_space.h"

namespace retnet_gen {

inline void schedule_linear_gpu(Func y, Func acc, LinearVars &v, const LinearGpuParams &p) {
    // A block's columns may run past the last one only into the weights' padding.
    check_schedule(kWeightColumnPadding % (p.cols * p.col_threads) == 0,
                   "linear: gpu_cols * gpu_col_threads must divide the weights' padding");
    const TailStrategy guard = TailStrategy::GuardWithIf;
    Var nt("nt"), nc("nc"), mt("mt"), mc("mc"), nb("nb"), nx("nx"), mb("mb"), my("my");
    y.split(v.n, nt, nc, p.cols, guard)
        .split(v.m, mt, mc, p.rows, guard)
        .split(nt, nb, nx, p.col_threads, guard)
        .split(mt, mb, my, p.row_threads, guard)
        .reorder(nc, mc, nx, my, nb, mb)
        .unroll(nc)
        .unroll(mc)
        .gpu_blocks(nb, mb)
        .gpu_threads(nx, my);
    // Per-thread accumulators at the innermost thread loop, constant-size so they are registers.
    acc.compute_at(y, nx).bound_extent(v.n, p.cols).bound_extent(v.m, p.rows).unroll(v.n).unroll(v.m);
    for (int u = 0; u < acc.num_update_definitions(); u++) {
        acc.update(u).reorder(v.n, v.m, v.over_k).unroll(v.n).unroll(v.m);
    }
}

}  // namespace retnet_gen
