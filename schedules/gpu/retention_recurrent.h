// GPU schedules of the recurrent form: the decode step and the multi-token scan.
//
// Decode step: one kernel; a thread per value column of a (head, batch), or with K fixed and
// narrow blocks a thread per group of a column's rows, reads out and updates its state (below).
// Scan: a thread per value column of a head walks the tokens and state rows in order.
#pragma once

#include "gpu_common.h"
#include "retention_stages.h"
#include "tuning_space.h"

namespace retnet_gen {

// One kernel, a thread per value column of a (head, batch).
//  - K fixed at build time (key_dim > 0): each thread computes its updated state column once into
//    registers (all K loads independent, in flight together), reads it out and stores it: one
//    read and one write of the state. Blocks of `columns` columns (32 spread a small batch over
//    more SMs), or with columns = 0 a block per (head, batch) (faster for large batches; V <= 128
//    only, or the block's registers overflow the SM's). With V fixed too (value_dim), every row's
//    offset is a constant: about half the instructions per thread and no per-row kernel arguments.
//  - any K: a block per (head, batch) (V <= 512 fits one; Halide 14's loop partitioning fails
//    on a guarded split of V here). Each thread first reads its column for the output, then
//    (fused with compute_with) rereads it and writes the update in place; the reread hits cache
//    only while the blocks resident on an SM fit in L1.
// Blocks span (h, b) as grid dimensions, not a fused index: each block's head and batch are then
// plain block ids, and bounds inference gives the per-thread column an exact, constant-size
// footprint (with a fused index it did not, and the column went to device memory).
inline void schedule_retention_decode_step_gpu(DecodeStepFuncs &f, DecodeStepVars &x, int fixed_keys,
                                               const DecodeStepGpuParams &p) {
    const int columns = p.columns, row_groups = p.row_groups;
    Var vo("vo"), vi("vi");
    if (fixed_keys > 0 && columns > 0 && row_groups > 1) {
        // Each column's rows split over `row_groups` threads, so that a small batch has that many
        // times more warps in flight and each thread's chain of loads and FMAs is that much
        // shorter. In each block: the threads' partial read-outs (into shared memory), their sum,
        // then (fused at the block, after a barrier) the same threads update their rows in place,
        // rereading them from L1.
        const TailStrategy exact = TailStrategy::RoundUp;
        const int rows = fixed_keys / row_groups;
        Var g("g"), u("u"), ri("ri");
        RVar kg("kg"), kr("kr");
        f.readout.update().split(x.over_keys, kg, kr, rows, TailStrategy::GuardWithIf);  // exact: rows divides K
        Func partial = f.readout.update().rfactor(kg, u);
        f.o.split(x.vd, vo, vi, columns, exact).reorder(vi, vo, x.h, x.b).gpu_blocks(vo, x.h, x.b).gpu_threads(vi);
        partial.compute_at(f.o, vo).gpu_threads(x.vd, u);
        partial.update().reorder(kr, x.vd, u).gpu_threads(x.vd, u).unroll(kr);
        f.readout.compute_at(f.o, vi).update().unroll(kg);
        f.state_out.split(x.vd, vo, vi, columns, exact)
            .split(x.kd, g, ri, rows, exact)
            .reorder(ri, vi, g, vo, x.h, x.b)
            .gpu_blocks(vo, x.h, x.b)
            .gpu_threads(vi, g)
            .unroll(ri);
        f.state_out.compute_with(f.o, vo);
        return;
    }
    if (fixed_keys > 0 && columns > 0) {
        // RoundUp: no per-row guards; exact because the runtime guarantees the division, and a
        // buffer that broke it would fail Halide's bounds check.
        const TailStrategy exact = TailStrategy::RoundUp;
        f.state_out.reorder(x.kd, x.vd, x.h, x.b).split(x.vd, vo, vi, columns, exact).gpu_blocks(vo, x.h, x.b).gpu_threads(vi);
        f.o.split(x.vd, vo, vi, columns, exact).reorder(vi, vo, x.h, x.b).gpu_blocks(vo, x.h, x.b).gpu_threads(vi);
        f.state_out.compute_with(f.o, vi);  // o's loop body runs first within each thread
        f.readout.compute_at(f.o, vi);
        f.updated.compute_at(f.o, vi).unroll(x.kd);  // the column, in registers
    } else {
        f.state_out.reorder(x.kd, x.vd, x.h, x.b).gpu_blocks(x.h, x.b).gpu_threads(x.vd);
        f.o.reorder(x.vd, x.h, x.b).gpu_blocks(x.h, x.b).gpu_threads(x.vd);
        f.state_out.compute_with(f.o, x.vd);
        f.readout.compute_at(f.o, x.vd);
        if (fixed_keys > 0) f.updated.compute_at(f.o, x.vd).unroll(x.kd);
    }
    if (fixed_keys > 0) {
        f.readout.update().unroll(x.over_keys);
        f.state_out.unroll(x.kd);
    }
}

inline void schedule_retention_recurrent_gpu(RecurrentFuncs &f, RecurrentVars &x, const RecurrentGpuParams &p) {
    const TailStrategy guard = TailStrategy::GuardWithIf;
    Var vo("vo"), vi("vi"), ro("ro"), ri("ri"), tile("tile"), to("to"), ti("ti");
    f.scan_rows.compute_root().split(x.vd, vo, vi, p.value_threads, guard).reorder(x.row, vi, vo, x.h, x.b);
    gpu_blocks_over_heads(f.scan_rows, vo, x.h, x.b);
    f.scan_rows.gpu_threads(vi);
    Stage scan = f.scan_rows.update();
    scan.split(x.vd, vo, vi, p.value_threads, guard).reorder(x.step.x, x.step.y, vi, vo, x.h, x.b);
    gpu_blocks_over_heads(scan, vo, x.h, x.b);
    scan.gpu_threads(vi);
    f.o.split(x.vd, vo, vi, p.value_threads, guard).reorder(vi, x.t, vo, x.h, x.b);
    gpu_blocks_over_heads(f.o, vo, x.t, x.h, x.b);
    f.o.gpu_threads(vi);
    f.final_state.split(x.vd, vo, vi, p.value_threads, guard).reorder(vi, x.kd, vo, x.h, x.b);
    gpu_blocks_over_heads(f.final_state, vo, x.kd, x.h, x.b);
    f.final_state.gpu_threads(vi);
}

}  // namespace retnet_gen
