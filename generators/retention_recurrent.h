// Recurrent retention, one token at a time: O(1) work and memory per token.
//
//   S_n = gamma S_{n-1} + k_n^T v_n,    o_n = s q_n S_n
//
// Two generators:
//  - retention_decode_step: B sequences, one token each; the state is read and written in place.
//  - retention_recurrent: a scan over T tokens with initial and final state.
#pragma once

#include "retention_common.h"
#include "rotation.h"
#include "cpu/retention_recurrent.h"
#include "gpu/retention_recurrent.h"

namespace retnet_gen {

class RetentionDecodeStep : public Generator<RetentionDecodeStep> {
public:
    // key_dim, value_dim (0: any; else only that K or V, so a GPU thread can hold its state column
    // in registers and every offset inside a head's state is a constant) and one_pass
    // (kernels.json): the algorithm's shape.
    RETNET_PARAMS_retention_decode_step_algorithm
    RETNET_PARAMS_retention_decode_step_cpu
    RETNET_PARAMS_retention_decode_step_gpu

    Input<Buffer<float, 3>> q{"q"};          // (k, h, b)
    Input<Buffer<float, 3>> k{"k"};          // (k, h, b)
    Input<Buffer<float, 3>> v{"v"};          // (v, h, b)
    Input<Buffer<float, 1>> decay{"decay"};  // (h): gamma itself
    Input<float> scale{"scale"};
    Input<Buffer<float, 4>> state{"state"};           // (v, k, h, b)
    Output<Buffer<float, 3>> o{"o"};                  // (v, h, b)
    Output<Buffer<float, 4>> state_out{"state_out"};  // (v, k, h, b); may alias `state`

    // rotate (GPUs only): q and k come unrotated, and the step turns them itself by the rotation
    // tables of its one position (rotation.h) and scales k by k_scale, so that a model's decoding
    // step needs no rotation kernel a layer. The tables are rotation_tables' [B, 1, K/2].
    GeneratorParam<bool> rotate{"rotate", false};
    GeneratorInput<Buffer<float, 3>> *cos_table = nullptr;  // (i, t, b), t = 0
    GeneratorInput<Buffer<float, 3>> *sin_table = nullptr;
    GeneratorInput<float> *k_scale = nullptr;

    void configure() {
        if (!rotate) return;
        cos_table = add_input<Buffer<float, 3>>("cos_table");
        sin_table = add_input<Buffer<float, 3>>("sin_table");
        k_scale = add_input<float>("k_scale");
    }

    void generate() {
        Var vd("vd"), kd("kd"), h("h"), b("b");
        const int fixed_keys = key_dim;
        if (fixed_keys > 0) {
            q.dim(0).set_bounds(0, fixed_keys);
            k.dim(0).set_bounds(0, fixed_keys);
            state.dim(1).set_bounds(0, fixed_keys);
        }
        if (value_dim > 0) {
            v.dim(0).set_bounds(0, value_dim);
            state.dim(0).set_bounds(0, value_dim);
        }
        require_dense_layout();
        Expr key_count = fixed_keys > 0 ? Expr(fixed_keys) : q.dim(0).extent();
        RDom over_keys(0, key_count, "over_keys");
        define_query_key(key_count);
        // Each state element is read, then written, at the same place: safe in place.
        Func updated("updated_state");
        updated(vd, kd, h, b) = decay(h) * state(vd, kd, h, b) + key(kd, h, b) * v(vd, h, b);
        DecodeStepVars vars{vd, kd, h, b, over_keys};
        // The CPU schedule fuses the read-out into the update's walk over the keys (one_pass); the
        // GPU schedule keeps a thread's updated column in registers for the read-out (two stages).
        if (!auto_schedule) {
            check_schedule(bool(one_pass) == !uses_gpu_schedules(get_target()),
                           "retention_decode_step: one_pass must be 1 for CPU targets and 0 for GPU targets");
            check_schedule(!rotate || !one_pass, "retention_decode_step: rotate takes a GPU target (one_pass 0)");
        }
        if (one_pass && !auto_schedule) {
            define_one_pass(updated, vars);
            tie_output_bounds(key_count);
            schedule_retention_decode_step_cpu(o, state_out, vars, decode_step_cpu_params(*this), get_target());
            return;
        }
        state_out(vd, kd, h, b) = updated(vd, kd, h, b);
        // Both outputs read `updated`, so a schedule may compute each state element once and
        // both read it out and store it: one pass over the state. The read-out recomputes it
        // from the input state where it is inlined, and must then run before an in-place update.
        Func readout("readout");
        readout(vd, h, b) = 0.0f;
        readout(vd, h, b) += query(over_keys, h, b) * updated(vd, over_keys, h, b);
        o(vd, h, b) = scale * readout(vd, h, b);
        tie_output_bounds(key_count);
        DecodeStepFuncs funcs{o, state_out, readout, updated};
        if (auto_schedule) {  // Adams2019, for comparison: B1 H16 K = V = 128
            q.set_estimates({{0, 128}, {0, 16}, {0, 1}});
            k.set_estimates({{0, 128}, {0, 16}, {0, 1}});
            v.set_estimates({{0, 128}, {0, 16}, {0, 1}});
            decay.set_estimates({{0, 16}});
            state.set_estimates({{0, 128}, {0, 128}, {0, 16}, {0, 1}});
            o.set_estimates({{0, 128}, {0, 16}, {0, 1}});
            state_out.set_estimates({{0, 128}, {0, 128}, {0, 16}, {0, 1}});
            if (rotate) {
                cos_table->set_estimates({{0, 64}, {0, 1}, {0, 1}});
                sin_table->set_estimates({{0, 64}, {0, 1}, {0, 1}});
            }
        } else {
            schedule_retention_decode_step_gpu(funcs, vars, fixed_keys, decode_step_gpu_params(*this));
        }
    }

private:
    Func query{"query"}, key{"key"};  // q and k as the step reads them: rotated if rotate

    // Inlined into the step: each thread turns the features it reads, a few FLOPs beside each
    // state element's load.
    void define_query_key(Expr key_count) {
        Var kd("kd"), h("h"), b("b");
        if (!rotate) {
            query(kd, h, b) = q(kd, h, b);
            key(kd, h, b) = k(kd, h, b);
            return;
        }
        Func cos_at(*cos_table), sin_at(*sin_table);
        Expr last = key_count - 1, c = cos_at(kd / 2, 0, b), s = sin_at(kd / 2, 0, b);
        query(kd, h, b) = rotated_feature([&](Expr j) { return q(j, h, b); }, kd, last, c, s);
        key(kd, h, b) = rotated_feature([&](Expr j) { return k(j, h, b); }, kd, last, c, s) * *k_scale;
    }

    // The runtime passes dense tensors that start at 0; saying so lets the compiler fold fixed
    // extents into constant offsets.
    void require_dense_layout() {
        for (auto *in : {&q, &k, &v}) {
            in->dim(0).set_min(0).set_stride(1);
            in->dim(1).set_min(0).set_stride(in->dim(0).extent());
            in->dim(2).set_min(0).set_stride(in->dim(0).extent() * in->dim(1).extent());
        }
        state.dim(0).set_min(0).set_stride(1);
        for (int d = 1; d < 4; d++) {
            state.dim(d).set_min(0).set_stride(state.dim(d - 1).stride() * state.dim(d - 1).extent());
        }
    }

    // The outputs' shapes tied to the inputs', dense (the runtime checks the shapes anyway, and
    // passes dense buffers that start at 0), so that bounds inference sees o and state_out cover
    // the same (head, batch) per fused iteration: a GPU thread's state column then gets a
    // constant-size allocation, and on the CPU both stages index the state alike, so the compiler
    // can load each state row once for both.
    void tie_output_bounds(Expr key_count) {
        Expr H = q.dim(1).extent(), B = q.dim(2).extent(), V = v.dim(0).extent();
        o.dim(0).set_bounds(0, V).set_stride(1);
        o.dim(1).set_bounds(0, H).set_stride(V);
        o.dim(2).set_bounds(0, B).set_stride(V * H);
        state_out.dim(0).set_bounds(0, V).set_stride(1);
        state_out.dim(1).set_bounds(0, key_count).set_stride(V);
        state_out.dim(2).set_bounds(0, H).set_stride(V * key_count);
        state_out.dim(3).set_bounds(0, B).set_stride(V * key_count * H);
    }

    // The CPU's form: both outputs are updates over the same keys, so that a schedule can fuse
    // them row by row (compute_with needs matching loops): each state row is loaded once, its
    // update stored in place and added into the read-out while still in registers. The read-out
    // runs first in each fused row, which keeps the in-place update safe.
    void define_one_pass(Func updated, const DecodeStepVars &x) {
        o(x.vd, x.h, x.b) = 0.0f;
        o(x.vd, x.h, x.b) += (scale * query(x.over_keys, x.h, x.b)) * updated(x.vd, x.over_keys, x.h, x.b);
        // No pure step: the update writes every row [0, K), which the runtime checks is the
        // state's whole key extent.
        state_out(x.vd, x.kd, x.h, x.b) = undef<float>();
        // compute_with fuses loops only of the same kind, and the read-out's key loop is a
        // reduction (ordered); the self-reference below, in a branch never taken (keys start at
        // 0), makes Halide treat this key loop as ordered too. It costs nothing after lowering.
        Expr row = x.over_keys;
        state_out(x.vd, row, x.h, x.b) =
            select(row >= 0, updated(x.vd, row, x.h, x.b), state_out(x.vd, max(row - 1, 0), x.h, x.b));
    }
};

class RetentionRecurrent : public Generator<RetentionRecurrent> {
public:
    RETNET_PARAMS_retention_recurrent_cpu
    RETNET_PARAMS_retention_recurrent_gpu

    Input<Buffer<float, 4>> q{"q"};          // (k, h, t, b)
    Input<Buffer<float, 4>> k{"k"};          // (k, h, t, b)
    Input<Buffer<float, 4>> v{"v"};          // (v, h, t, b)
    Input<Buffer<float, 1>> decay{"decay"};  // (h): gamma itself
    Input<float> scale{"scale"};
    Input<bool> has_initial_state{"has_initial_state"};
    Input<Buffer<float, 4>> initial_state{"initial_state"};  // (v, k, h, b)
    Output<Buffer<float, 4>> o{"o"};                         // (v, h, t, b)
    Output<Buffer<float, 4>> final_state{"final_state"};     // (v, k, h, b)

    void generate() {
        Var vd("vd"), row("row"), kd("kd"), h("h"), b("b"), t("t");
        Expr K = q.dim(0).extent();
        Expr T = q.dim(2).extent();

        // One Func holds the whole scan, so that one loop nest updates the state and emits the
        // outputs (Halide cannot interleave two Funcs' updates otherwise). Its rows:
        //   [0, K) and [K, 2K): the states after even and odd steps (ping-pong)
        //   [2K, 2K + T):       the outputs o_t
        // Element 0 is the value; element 1 is the running dot product q_t . S_t[:, vd] over the
        // state rows written so far in this step.
        Func scan_rows("scan_rows");
        scan_rows(vd, row, h, b) = Tuple(
            select(has_initial_state && row >= K && row < 2 * K, state_at(initial_state, vd, row - K, h, b), 0.0f),
            0.0f);

        RDom step(0, K + 1, 0, T, "step");  // step.x: state row (K = emit the output); step.y: t
        Expr key = min(step.x, K - 1), tt = step.y;
        Expr current = K * (tt % 2), previous = K * ((tt + 1) % 2);
        Expr new_state = decay(h) * scan_rows(vd, previous + key, h, b)[0] + k(key, h, tt, b) * v(vd, h, tt, b);
        Expr dot_so_far = select(step.x == 0, 0.0f, scan_rows(vd, current + max(step.x - 1, 0), h, b)[1]);
        Expr emitting = step.x == K;
        scan_rows(vd, select(emitting, 2 * K + tt, current + key), h, b) = Tuple(
            select(emitting, scale * scan_rows(vd, current + K - 1, h, b)[1], new_state),
            select(emitting, 0.0f, dot_so_far + q(key, h, tt, b) * new_state));

        o(vd, h, t, b) = scan_rows(vd, 2 * K + t, h, b)[0];
        final_state(vd, kd, h, b) = scan_rows(vd, K * ((T - 1) % 2) + kd, h, b)[0];

        RecurrentFuncs funcs{o, final_state, scan_rows};
        RecurrentVars vars{vd, row, kd, h, b, t, step};
        if (uses_gpu_schedules(get_target())) {
            schedule_retention_recurrent_gpu(funcs, vars, recurrent_gpu_params(*this));
        } else {
            schedule_retention_recurrent_cpu(funcs, vars, recurrent_cpu_params(*this), get_target());
        }
    }
};

}  // namespace retnet_gen
