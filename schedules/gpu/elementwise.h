// GPU schedule of the row-wise kernels (norms, rotation, embedding): a block per row, its threads
// striding along the row (coalesced). A per-row value (a norm's 1/rms) is computed once per block
// by one thread into shared memory; a row is at most a few thousand floats.
#pragma once

#include "cpu/elementwise.h"
#include "gpu_common.h"
#include "tuning_space.h"

namespace retnet_gen {

inline void schedule_rows_gpu(RowFuncs &f, const Var &inner, const RowsGpuParams &p) {
    Var row = fuse_rows(f.out, f.outer), io("io"), ii("ii");
    f.out.split(inner, io, ii, p.threads, TailStrategy::GuardWithIf)
        .reorder(ii, io, row)
        .gpu_blocks(row)
        .gpu_threads(ii);
    if (f.per_row.defined()) f.per_row.compute_at(f.out, row);
}

// Chooses the schedule for the generator's target.
template<typename G>
void schedule_rows(G &g, const Target &target, RowFuncs &f, const Var &inner) {
    if (uses_gpu_schedules(target)) {
        schedule_rows_gpu(f, inner, rows_gpu_params(g));
    } else {
        schedule_rows_cpu(f, inner, rows_cpu_params(g), target);
    }
}

}  // namespace retnet_gen
