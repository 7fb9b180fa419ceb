// The normalisations of a RetNet layer (torchscale's RMSNorm):
//
//   rms_norm          y(c, m) = x(c, m) * rsqrt(mean_c x(c, m)^2 + eps) * weight(c)
//                     (the pre-norms of both sublayers, the final norm, layernorm_embedding)
//   group_norm_gate   y(c, g, m) = x(c, g, m) * rsqrt(mean_c x(c, g, m)^2 + eps) * weight(c)
//                                  * swish(gate(c, g, m))
//                     (retention's per-head norm, fused with the swish gate: the normalised
//                     retention output is never written; weight is ones for torchscale's norm,
//                     which has none, and fla's g_norm weight where a checkpoint has one)
//
// Layouts: x, y (c, m) = row-major [M, C]; per head (c, g, m) = [M, H, V].
#include "linear_common.h"
#include "cpu/elementwise.h"
#include "gpu/elementwise.h"

namespace retnet_gen {

// 1 / sqrt(mean of squares + eps) over the innermost dimension of `x`, for every other index, as
// the per-row value of `rows` (its sum of squares and the RDom along the row too, for the GPU
// schedule).
template<typename X>
void inverse_rms(const X &x, const Expr &eps, RowFuncs &rows) {
    const std::vector<Var> &outer = rows.outer;
    rows.along = RDom(0, x.dim(0).extent(), "over_c");
    Func sum_sq("sum_sq"), inv("inverse_rms");
    std::vector<Expr> at{rows.along.x};
    at.insert(at.end(), outer.begin(), outer.end());
    sum_sq(outer) = 0.0f;
    sum_sq(outer) += x(at) * x(at);
    inv(outer) = 1.0f / sqrt(sum_sq(outer) / cast<float>(x.dim(0).extent()) + eps);
    rows.per_row = inv;
    rows.row_sum = sum_sq;
}

class RmsNorm : public Generator<RmsNorm> {
public:
    RETNET_PARAMS_rows_cpu
    RETNET_PARAMS_rows_gpu

    Input<Buffer<float, 2>> x{"x"};            // (c, m)
    Input<Buffer<float, 1>> weight{"weight"};  // (c)
    Input<float> eps{"eps"};
    Output<Buffer<float, 2>> y{"y"};  // (c, m)

    void generate() {
        Var c("c"), m("m");
        RowFuncs f{y, Func(), {m}};
        inverse_rms(x, eps, f);
        y(c, m) = x(c, m) * f.per_row(m) * weight(c);
        schedule_rows(*this, get_target(), f, c);
    }
};

class GroupNormGate : public Generator<GroupNormGate> {
public:
    RETNET_PARAMS_rows_cpu
    RETNET_PARAMS_rows_gpu

    Input<Buffer<float, 3>> x{"x"};            // (c, g, m): retention output per head
    Input<Buffer<float, 3>> gate{"gate"};      // (c, g, m): the g projection
    Input<Buffer<float, 1>> weight{"weight"};  // (c): the same for every head
    Input<float> eps{"eps"};
    Output<Buffer<float, 3>> y{"y"};  // (c, g, m)

    void generate() {
        Var c("c"), g("g"), m("m");
        RowFuncs f{y, Func(), {g, m}};
        inverse_rms(x, eps, f);
        y(c, g, m) = x(c, g, m) * f.per_row(g, m) * weight(c) * swish(gate(c, g, m));
        schedule_rows(*this, get_target(), f, c);
    }
};

}  // namespace retnet_gen

HALIDE_REGISTER_GENERATOR(retnet_gen::RmsNorm, rms_norm)
HALIDE_REGISTER_GENERATOR(retnet_gen::GroupNormGate, group_norm_gate)
