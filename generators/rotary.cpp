// The rotation of q and k (generators/rotation.h) as a kernel of its own, with k's K^-0.5 scale
// folded in. The cos / sin tables (i, t, b) are computed once per forward pass by rotation_tables,
// on the device, from each sequence's first position, and shared by every layer.
// Layouts: q, k (kd, h, t, b) = row-major [B, T, H, K]; tables (i, t, b) = [B, T, K/2].
#include "linear_common.h"
#include "rotation.h"
#include "cpu/elementwise.h"
#include "gpu/elementwise.h"

namespace retnet_gen {

class RotateQueryKey : public Generator<RotateQueryKey> {
public:
    RETNET_PARAMS_rows_cpu
    RETNET_PARAMS_rows_gpu

    Input<Buffer<float, 4>> q{"q"};
    Input<Buffer<float, 4>> k{"k"};
    Input<Buffer<float, 3>> cos_table{"cos_table"};
    Input<Buffer<float, 3>> sin_table{"sin_table"};
    Input<float> k_scale{"k_scale"};
    Output<Buffer<float, 4>> q_rotated{"q_rotated"};
    Output<Buffer<float, 4>> k_rotated{"k_rotated"};

    void generate() {
        Var kd("kd"), h("h"), t("t"), b("b");
        Expr last = q.dim(0).extent() - 1, c = cos_table(kd / 2, t, b), s = sin_table(kd / 2, t, b);
        q_rotated(kd, h, t, b) = rotated_feature([&](Expr j) { return q(j, h, t, b); }, kd, last, c, s);
        k_rotated(kd, h, t, b) = rotated_feature([&](Expr j) { return k(j, h, t, b); }, kd, last, c, s) * k_scale;
        for (Func out : {Func(q_rotated), Func(k_rotated)}) {
            RowFuncs f{out, Func(), {h, t, b}};
            schedule_rows(*this, get_target(), f, kd);
        }
        schedule_rows_together(get_target(), q_rotated, k_rotated);
    }
};

// The tables themselves: phase = float32(start(b) + t) * angle(i), rounded to float32 as
// torchscale computes it, then its cosine and sine in float32 (libm, libdevice or OpenCL's
// built-ins: within a few ulp of the exact values, for any phase). Made on the device from the
// start positions, so that a decode step needs nothing from the host but its token ids and
// positions (and a captured CUDA graph replays it unchanged).
// Layouts: start (b) = [B] int32; angles (i) = [K/2]; tables (i, t, b) = [B, T, K/2].
class RotationTables : public Generator<RotationTables> {
public:
    RETNET_PARAMS_rows_cpu
    RETNET_PARAMS_rows_gpu

    Input<Buffer<int32_t, 1>> start{"start"};
    Input<Buffer<float, 1>> angles{"angles"};
    Output<Buffer<float, 3>> cos_table{"cos_table"};
    Output<Buffer<float, 3>> sin_table{"sin_table"};

    void generate() {
        Var i("i"), t("t"), b("b");
        Expr phase = cast<float>(start(b) + t) * angles(i);
        cos_table(i, t, b) = cos(phase);
        sin_table(i, t, b) = sin(phase);
        for (Func out : {Func(cos_table), Func(sin_table)}) {
            RowFuncs f{out, Func(), {t, b}};
            schedule_rows(*this, get_target(), f, i);
        }
        schedule_rows_together(get_target(), cos_table, sin_table);
    }
};

}  // namespace retnet_gen

HALIDE_REGISTER_GENERATOR(retnet_gen::RotateQueryKey, rotate_query_key)
HALIDE_REGISTER_GENERATOR(retnet_gen::RotationTables, rotation_tables)
