// GPU schedules of the recurrent form: the decode step and the multi-token scan.
//
// Decode step: one kernel updates the state (a thread per value column, a block per key block and
// head: coalesced along V), a second reads it out (a thread per value column looping over K).
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

struct DecodeStepGpuParams {};
struct RecurrentGpuParams {
    int value_threads;
};
template<typename G>
DecodeStepGpuParams decode_step_gpu_params(const G &) {
    return {};
}
template<typename G>
RecurrentGpuParams recurrent_gpu_params(const G &g) {
    return {g.gpu_value_threads};
}

inline void schedule_retention_decode_step_gpu(DecodeStepFuncs &f, DecodeStepVars &x, const DecodeStepGpuParams &p) {
    // One kernel, a block per (head, batch) and a thread per value column (V <= 512 fits a block,
    // so no split and no tail: Halide 14's loop partitioning fails on a guarded split here). Each
    // thread first reads its column of the state for the output, then (fused with compute_with)
    // rereads it from cache and writes the update in place: device memory sees the state read
    // once and written once.
    (void)p;
    Var hb("hb");
    f.state_out.reorder(x.kd, x.vd, x.h, x.b).fuse(x.h, x.b, hb).gpu_blocks(hb).gpu_threads(x.vd);
    f.o.reorder(x.vd, x.h, x.b).fuse(x.h, x.b, hb).gpu_blocks(hb).gpu_threads(x.vd);
    f.state_out.compute_with(f.o, x.vd);  // o's loop body runs first within each thread
    f.readout.compute_at(f.o, x.vd);
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
