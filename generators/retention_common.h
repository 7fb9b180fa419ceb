// Pieces of the retention algorithm shared by its three forms.
//
// Layouts (docs/SEMANTICS.md §1), written in Halide's dimension order (innermost first):
//   q, k  (k, h, t, b)   = row-major [B, T, H, K]
//   v, o  (v, h, t, b)   = row-major [B, T, H, V]
//   state (v, k, h, b)   = row-major [B, H, K, V]
//   log_decay (h)        = log(gamma_h), computed by the caller in double precision
#pragma once

#include "Halide.h"

namespace retnet_gen {

using namespace Halide;

// Reads a [.., T, ..] input (feature dim a innermost) with zeros past the end of the sequence, so
// that the last tile or chunk may be partial: padded keys and values contribute nothing, padded
// queries are never stored. Feature indices are clamped: a register tile wider than the head
// dimension reads real memory and its extra columns are never stored.
template<typename Input4>
Func zero_past_end(const Input4 &input, const Expr &seq_len, const std::string &name) {
    Var a("a"), h("h"), t("t"), b("b");
    Func bounded(name);
    Expr last_feature = input.dim(0).extent() - 1;
    bounded(a, h, t, b) =
        select(t < seq_len, input(clamp(a, 0, last_feature), h, clamp(t, 0, seq_len - 1), b), 0.0f);
    return bounded;
}

// A state (v, k, h, b) read with its value and key indices clamped, for the same reason.
template<typename Input4>
Expr state_at(const Input4 &state, const Expr &vd, const Expr &kd, const Expr &h,
              const Expr &b) {
    return state(clamp(vd, 0, state.dim(0).extent() - 1), clamp(kd, 0, state.dim(1).extent() - 1), h, b);
}

// gamma_h^d for d >= 0, as exp(d * log gamma): accurate to a few ulp for d up to 10^6 (d is exact in
// float up to 2^24), with no negative powers that could overflow. Callers index it with
// non-negative distances only, and clamp where a masked-out lane could ask for a negative one.
inline Func decay_powers(const Func &log_decay, const std::string &name) {
    Var d("d"), h("h");
    Func powers(name);
    powers(d, h) = exp(cast<float>(d) * log_decay(h));
    return powers;
}

// The signature shared by the parallel and chunkwise forms (the runtime calls either through one
// function type): q, k, v, log(gamma) per head, the scale, an optional initial state; the outputs
// and the final state. Each form's generator derives from this with itself as T.
template<typename T>
class SequenceFormGenerator : public Generator<T> {
public:
    // (Input and Output, the names derived generators use, are not visible in a template base.)
    GeneratorInput<Buffer<float, 4>> q{"q"};                  // (k, h, t, b)
    GeneratorInput<Buffer<float, 4>> k{"k"};                  // (k, h, t, b)
    GeneratorInput<Buffer<float, 4>> v{"v"};                  // (v, h, t, b)
    GeneratorInput<Buffer<float, 1>> log_decay{"log_decay"};  // (h)
    GeneratorInput<float> scale{"scale"};
    GeneratorInput<bool> has_initial_state{"has_initial_state"};
    GeneratorInput<Buffer<float, 4>> initial_state{"initial_state"};  // (v, k, h, b)
    GeneratorOutput<Buffer<float, 4>> o{"o"};                         // (v, h, t, b)
    GeneratorOutput<Buffer<float, 4>> final_state{"final_state"};     // (v, k, h, b)
};

// Estimates for Halide's autoschedulers (the Adams2019 comparison of `retnet tune`): the CPU bench
// shape B1 T2048 H8 K64 V128. Manual schedules ignore them.
template<typename G>
void set_retention_estimates(G &g) {
    const int B = 1, T = 2048, H = 8, K = 64, V = 128;
    g.q.set_estimates({{0, K}, {0, H}, {0, T}, {0, B}});
    g.k.set_estimates({{0, K}, {0, H}, {0, T}, {0, B}});
    g.v.set_estimates({{0, V}, {0, H}, {0, T}, {0, B}});
    g.log_decay.set_estimates({{0, H}});
    g.initial_state.set_estimates({{0, V}, {0, K}, {0, H}, {0, B}});
    g.o.set_estimates({{0, V}, {0, H}, {0, T}, {0, B}});
    g.final_state.set_estimates({{0, V}, {0, K}, {0, H}, {0, B}});
}

}  // namespace retnet_gen
