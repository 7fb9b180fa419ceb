// GPU schedules of the recurrent form: the decode step and the multi-token scan.
//
// Decode step: one kernel, a thread per value column of a (head, batch) reads out and updates its
// state column (below).
// Scan: a thread per value column of a head walks the tokens and state rows in order.
#pragma once

#include "gpu_common.h"
#include "tuning_space.h"

namespace retnet_gen {

// The fused decode step has no tunable parameter on GPUs: a block per (head, batch), a thread per
// value column (V <= 512 fits one block).
#define RETNET_DECODE_STEP_GPU_SCHEDULE_PARAMS

#define RETNET_RECURRENT_GPU_SCHEDULE_PARAMS                              \
    /* threads along V per block */                                         \
    RETNET_TUNABLE("retention_recurrent", "gpu", gpu_value_threads);

struct RecurrentGpuParams {
    int value_threads;
};
template<typename G>
RecurrentGpuParams recurrent_gpu_params(const G &g) {
    return {g.gpu_value_threads};
}

// One kernel, a thread per value column of a (head, batch).
//  - K fixed at build time (key_dim > 0): each thread computes its updated state column once into
//    registers (all K loads independent, in flight together), reads it out and stores it: one
//    read and one write of the state. Blocks of 32 columns: at small batches a head's columns
//    spread over several SMs (a block per head kept 16 of the H200's 132 SMs busy at B1 H16).
//  - any K: a block per (head, batch) (V <= 512 fits one; Halide 14's loop partitioning fails
//    on a guarded split of V here). Each thread first reads its column for the output, then
//    (fused with compute_with) rereads it and writes the update in place; the reread hits cache
//    only while the blocks resident on an SM fit in L1.
// Blocks span (h, b) as grid dimensions, not a fused index: each block's head and batch are then
// plain block ids, and bounds inference gives the per-thread column an exact, constant-size
// footprint (with a fused index it did not, and the column went to device memory).
inline void schedule_retention_decode_step_gpu(DecodeStepFuncs &f, DecodeStepVars &x, int fixed_keys) {
    Var vo("vo"), vi("vi");
    if (fixed_keys > 0) {
        const int columns = 32;  // the runtime uses this kernel only where 32 divides V
        const TailStrategy guard = TailStrategy::GuardWithIf;
        f.state_out.reorder(x.kd, x.vd, x.h, x.b).split(x.vd, vo, vi, columns, guard).gpu_blocks(vo, x.h, x.b).gpu_threads(vi);
        f.o.split(x.vd, vo, vi, columns, guard).reorder(vi, vo, x.h, x.b).gpu_blocks(vo, x.h, x.b).gpu_threads(vi);
        f.state_out.compute_with(f.o, vi);  // o's loop body runs first within each thread
        // One column per thread, in registers (bound_extent: the guarded split would otherwise
        // give a symbolic footprint, which Halide places in device memory).
        f.readout.compute_at(f.o, vi).bound_extent(x.vd, 1);
        f.updated.compute_at(f.o, vi).bound_extent(x.vd, 1).unroll(x.kd);
        f.readout.update().unroll(x.over_keys);
        f.state_out.unroll(x.kd);
    } else {
        f.state_out.reorder(x.kd, x.vd, x.h, x.b).gpu_blocks(x.h, x.b).gpu_threads(x.vd);
        f.o.reorder(x.vd, x.h, x.b).gpu_blocks(x.h, x.b).gpu_threads(x.vd);
        f.state_out.compute_with(f.o, x.vd);
        f.readout.compute_at(f.o, x.vd);
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
