// GPU schedule of the row-wise kernels (norms, rotation, embedding): a block per row, its threads
// striding along the row (coalesced). A per-row value (a norm's 1/rms) is computed once per block
// by one thread into shared memory; a row is at most a few thousand floats.
#pragma once

#include "cpu/elementwise.h"
#include "gpu_common.h"
#include "tuning_space.h"

namespace retnet_gen {

#define RETNET_ROWS_GPU_SCHEDULE_PARAMS \
    /* threads per block (one row) */   \
    RETNET_TUNABLE("rows", "gpu", gpu_threads);

inline void schedule_rows_gpu(RowFuncs &f, const Var &inner, int threads) {
    Var row = fuse_rows(f.out, f.outer), io("io"), ii("ii");
    f.out.split(inner, io, ii, threads, TailStrategy::GuardWithIf)
        .reorder(ii, io, row)
        .gpu_blocks(row)
        .gpu_threads(ii);
    if (f.per_row.defined()) f.per_row.compute_at(f.out, row);
}

// Chooses the schedule for the generator's target.
template<typename G>
void schedule_rows(G &g, const Target &target, RowFuncs &f, const Var &inner) {
    if (target.has_gpu_feature()) {
        schedule_rows_gpu(f, inner, g.gpu_threads);
    } else {
        schedule_rows_cpu(f, inner, g.vector_width, g.rows_per_task, target);
    }
}

}  // namespace retnet_gen
