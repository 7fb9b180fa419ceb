// GPU schedule of the row-wise kernels (norms, rotation, embedding): a block per row. By default
// its threads stride along the row (coalesced); a per-row value (a norm's 1/rms) is computed once
// per block into shared memory, from a sum along the row split over the block's threads (each
// sums every threads-th element) before one thread adds their partial sums. (Summed by one thread
// alone, a 2048-wide row took 71 us on an H100: a chain of dependent loads, and 50 such norms were
// more than half of an fla-1.3b decode step.) With gpu_chunk, each thread takes adjacent elements
// instead (schedule_rows_gpu_chunked).
#pragma once

#include "cpu/elementwise.h"
#include "gpu_common.h"
#include "tuning_space.h"

namespace retnet_gen {

// The name of the thread loop of every row schedule below (schedule_rows_together fuses there).
constexpr const char *kRowThreads = "ii";

// gpu_chunk > 0: thread t takes elements (pass * threads + t) * chunk + e, e < chunk, with e unrolled:
// the chunk's loads are independent and all in flight at once, where a thread striding along the
// row waits on one load at a time (a decoding step's rows are one or a few per kernel, so each
// kernel's time is such waits). Every thread then adds the threads' partial sums itself, unrolled
// (the same shared-memory words for all, so each load is a broadcast): outside the thread loops
// the sum would run on one thread, and unrolled there it took a barrier after every addition.
inline void schedule_rows_gpu_chunked(RowFuncs &f, const Var &row, const Var &inner, const RowsGpuParams &p) {
    const TailStrategy guard = TailStrategy::GuardWithIf;
    Var io("io"), e("e"), pass("pass"), t(kRowThreads);
    f.out.split(inner, io, e, p.chunk, guard)
        .split(io, pass, t, p.threads, guard)
        .reorder(e, pass, t, row)
        .unroll(e)
        .gpu_blocks(row)
        .gpu_threads(t);
    if (f.per_row.defined()) f.per_row.compute_at(f.out, t);
    if (f.row_sum.defined()) {
        RVar co("co"), ce("ce"), cp("cp"), ct("ct");
        Var u("u");
        Func partial = f.row_sum.update(0)
                           .split(f.along.x, co, ce, p.chunk, guard)
                           .split(co, cp, ct, p.threads, guard)
                           .rfactor(ct, u);
        f.row_sum.compute_at(f.out, t).update(0).unroll(ct);
        partial.compute_at(f.out, row).gpu_threads(u);
        partial.update(0).reorder(ce, cp, u).unroll(ce).gpu_threads(u);
    }
}

inline void schedule_rows_gpu(RowFuncs &f, const Var &inner, const RowsGpuParams &p) {
    Var row = fuse_rows(f.out, f.outer), io("io"), ii(kRowThreads);
    if (p.chunk > 0) {
        schedule_rows_gpu_chunked(f, row, inner, p);
        return;
    }
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

// Two outputs of one shape, each scheduled by schedule_rows, in one GPU kernel (on a CPU they stay
// two loops): a decode step rotates q and k in every layer, each a few microseconds of launch and
// latency for kilobytes of work. The fusion goes down to the thread loop. Both outputs must take
// the same row schedule (one generator's parameters do).
inline void schedule_rows_together(const Target &target, Func first, Func second) {
    if (uses_gpu_schedules(target)) second.compute_with(first, Var(kRowThreads));
}

}  // namespace retnet_gen
