// GPU schedule of the row-wise kernels (norms, rotation, embedding): a block per row, its threads
// striding along the row (coalesced). A per-row value (a norm's 1/rms) is computed once per block
// into shared memory; the sum along the row it comes from is split over the block's threads (each
// sums every threads-th element, coalesced) before one thread adds their partial sums. (Summed by
// one thread alone, a 2048-wide row took 71 us on an H100: a chain of dependent loads, and 50 such
// norms were more than half of an fla-1.3b decode step.)
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
    if (f.row_sum.defined()) {
        RVar co("co"), ci("ci");
        Var u("u");
        f.row_sum.compute_at(f.out, row);
        Func partial = f.row_sum.update(0).split(f.along.x, co, ci, p.threads, TailStrategy::GuardWithIf).rfactor(ci, u);
        partial.compute_at(f.out, row).gpu_threads(u);
        partial.update(0).gpu_threads(u);
    }
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
