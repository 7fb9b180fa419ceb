// CPU schedules of the recurrent form: the decode step and the multi-token scan.
//
// Both are bound by the state: every step reads and writes K x V floats per head, so the
// schedules vectorise along V (contiguous), run one (batch, head) per task and keep each head's
// state in cache between its update and its read-out.
#pragma once

#include "matmul_tile.h"
#include "retention_stages.h"
#include "tuning_space.h"

namespace retnet_gen {

inline int cpu_vector_width(const Target &target, int param) {
    return param > 0 ? param : target.natural_vector_size<float>();
}

// One pass over the state (the generator's CPU form: o and state_out are both updates over the
// keys). One (b, h) per task; within it, blocks of `value_vectors` SIMD vectors of value
// columns, and for each block a walk down the key rows: each row segment is loaded once,
// updated and stored in place, and added into the block's read-out, which stays in registers.
// The read-out's row runs first (compute_with), so the in-place store follows the load.
inline void schedule_retention_decode_step_cpu(Func o, Func state_out, const DecodeStepVars &x,
                                               const DecodeStepCpuParams &p, const Target &target) {
    const int vec = cpu_vector_width(target, p.vector_width);
    const TailStrategy guard = TailStrategy::GuardWithIf;
    Var task("task"), vo("vo"), vi("vi"), vv("vv");
    RVar ko("ko"), ki("ki");
    o.vectorize(x.vd, vec, guard);  // zeroing the read-out: a few vectors, not worth a thread
    for (Stage s : {o.update(), state_out.update()}) {
        s.split(x.vd, vo, vi, vec * p.value_vectors, guard)
            .split(vi, vv, vi, vec, guard)
            .split(x.over_keys, ko, ki, p.key_unroll, guard)
            .reorder(vi, vv, ki, ko, vo, x.h, x.b)
            .fuse(x.h, x.b, task)
            .parallel(task)
            .vectorize(vi)
            .unroll(vv)
            .unroll(ki);
    }
    state_out.update().compute_with(o.update(), ko);
}

inline void schedule_retention_recurrent_cpu(RecurrentFuncs &f, RecurrentVars &x,
                                             const RecurrentCpuParams &p, const Target &target) {
    const int vec = cpu_vector_width(target, p.vector_width);
    Var task("task");
    f.scan_rows.compute_root()
        .fuse(x.h, x.b, task)
        .parallel(task)
        .vectorize(x.vd, vec, TailStrategy::GuardWithIf);
    // Time and state rows are a true recurrence (serial); V is independent lanes.
    f.scan_rows.update()
        .reorder(x.vd, x.step.x, x.step.y, x.h, x.b)
        .fuse(x.h, x.b, task)
        .parallel(task)
        .vectorize(x.vd, vec, TailStrategy::GuardWithIf);
    f.o.fuse(x.h, x.b, task).parallel(task).vectorize(x.vd, vec, TailStrategy::GuardWithIf);
    f.final_state.fuse(x.h, x.b, task).parallel(task).vectorize(x.vd, vec, TailStrategy::GuardWithIf);
}

}  // namespace retnet_gen
