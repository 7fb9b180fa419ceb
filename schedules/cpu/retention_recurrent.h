// CPU schedules of the recurrent form: the decode step and the multi-token scan.
//
// Both are bound by the state: every step reads and writes K x V floats per head, so the
// schedules vectorise along V (contiguous), run one (batch, head) per task and keep each head's
// state in cache between its update and its read-out.
#pragma once

#include "matmul_tile.h"
#include "tuning_space.h"

namespace retnet_gen {

// The tunable parameters of these schedules and their legal ranges, in one place.
#define RETNET_DECODE_STEP_CPU_SCHEDULE_PARAMS                          \
    /* floats per SIMD vector; 0 = the target's natural width */       \
    GeneratorParam<int> vector_width{"vector_width", 0, 0, 32};        \
    /* state rows (keys) updated per unrolled step */                  \
    RETNET_TUNABLE("retention_decode_step", "cpu", key_unroll);

#define RETNET_RECURRENT_CPU_SCHEDULE_PARAMS                            \
    /* floats per SIMD vector; 0 = the target's natural width */       \
    GeneratorParam<int> vector_width{"vector_width", 0, 0, 32};

struct DecodeStepCpuParams {
    int vector_width, key_unroll;
};
struct RecurrentCpuParams {
    int vector_width;
};
template<typename G>
DecodeStepCpuParams decode_step_cpu_params(const G &g) {
    return {g.vector_width, g.key_unroll};
}
template<typename G>
RecurrentCpuParams recurrent_cpu_params(const G &g) {
    return {g.vector_width};
}

struct DecodeStepFuncs {
    Func o, state_out, readout, updated;
};
struct DecodeStepVars {
    Var vd, kd, h, b;
    RDom over_keys;
};
struct RecurrentFuncs {
    Func o, final_state, scan_rows;
};
struct RecurrentVars {
    Var vd, row, kd, h, b, t;
    RDom step;
};

inline int cpu_vector_width(const Target &target, int param) {
    return param > 0 ? param : target.natural_vector_size<float>();
}

inline void schedule_retention_decode_step_cpu(DecodeStepFuncs &f, DecodeStepVars &x,
                                               const DecodeStepCpuParams &p, const Target &target) {
    const int vec = cpu_vector_width(target, p.vector_width);
    Var task("task"), ko("ko"), ki("ki");
    // One (b, h) per task. Within it, the read-out o[:, h] = s * sum_k q[k] S'[k, :] runs first
    // (reading the input state), then the in-place update, fused into the same task with
    // compute_with: the update rereads the head's state from cache, and the order that in-place
    // aliasing needs is explicit rather than left to Halide.
    f.o.fuse(x.h, x.b, task).parallel(task).vectorize(x.vd, vec, TailStrategy::GuardWithIf);
    f.readout.compute_at(f.o, task).vectorize(x.vd, vec, TailStrategy::GuardWithIf);
    f.readout.update().reorder(x.vd, x.over_keys).vectorize(x.vd, vec, TailStrategy::GuardWithIf);
    f.state_out.fuse(x.h, x.b, task)
        .parallel(task)
        .split(x.kd, ko, ki, p.key_unroll, TailStrategy::GuardWithIf)
        .vectorize(x.vd, vec, TailStrategy::GuardWithIf)
        .unroll(ki);
    f.state_out.compute_with(f.o, task);
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
