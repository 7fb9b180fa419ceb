// GPU schedule of the row-wise kernels (norms, rotation, embedding): a block per row, its threads
// striding along the row (coalesced). A per-row value (a norm's 1/rms) is computed once per block
// into shared memory; the sum along the row it comes from is split over the block's threads (each
// sums every threads-th element, coalesced), then kRowSumGroup of their partial sums at a time by
// threads / kRowSumGroup threads, and one thread adds those. (Summed by one thread alone, a
// 2048-wide row took 71 us on an H100: a chain of dependent loads, and 50 such norms were more than
// half of an fla-1.3b decode step; with 128 partial sums added by one thread, 7 us.) Each thread's
// walk along the row, in the sum and in the output, is unrolled by kRowUnroll, so that many of its
// loads are in flight at once instead of one at a time.
#pragma once

#include "cpu/elementwise.h"
#include "gpu_common.h"
#include "tuning_space.h"

namespace retnet_gen {

constexpr int kRowUnroll = 4;
constexpr int kRowSumGroup = 16;

inline void schedule_rows_gpu(RowFuncs &f, const Var &inner, const RowsGpuParams &p) {
    const TailStrategy guard = TailStrategy::GuardWithIf;
    Var row = fuse_rows(f.out, f.outer), io("io"), ii("ii"), iu("iu");
    f.out.split(inner, io, ii, p.threads, guard)
        .split(io, io, iu, kRowUnroll, guard)
        .reorder(ii, iu, io, row)
        .unroll(iu)
        .gpu_blocks(row)
        .gpu_threads(ii);
    if (f.per_row.defined()) f.per_row.compute_at(f.out, row);
    if (f.row_sum.defined()) {
        RVar co("co"), ci("ci"), cu("cu"), wo("wo"), wi("wi");
        Var u("u"), w("w");
        f.row_sum.compute_at(f.out, row);
        Func partial = f.row_sum.update(0).split(f.along.x, co, ci, p.threads, guard).rfactor(ci, u);
        partial.compute_at(f.out, row).gpu_threads(u);
        partial.update(0).split(co, co, cu, kRowUnroll, guard).reorder(cu, co, u).unroll(cu).gpu_threads(u);
        if (p.threads % kRowSumGroup == 0 && p.threads > kRowSumGroup) {
            Func sums = f.row_sum.update(0).split(ci, wo, wi, kRowSumGroup).rfactor(wo, w);
            sums.compute_at(f.out, row).gpu_threads(w);
            sums.update(0).reorder(wi, w).gpu_threads(w);
        }
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
