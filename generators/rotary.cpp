// The relative-position rotation of q and k (torchscale's "xpos" without scaling, docs/SEMANTICS.md §2),
// with k's K^-0.5 scale folded in. Feature pairs (2i, 2i+1) of each head turn by the angle of
// their position:
//     out[2i]   = x[2i] cos - x[2i+1] sin
//     out[2i+1] = x[2i+1] cos + x[2i] sin
// The cos / sin tables (i, t, b) are computed once per forward pass by rotation_tables, on the
// device, from each sequence's first position, and shared by every layer.
// Layouts: q, k (kd, h, t, b) = row-major [B, T, H, K]; tables (i, t, b) = [B, T, K/2].
#include "linear_common.h"
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
        Expr pair = kd / 2;
        Expr is_first = kd % 2 == 0;
        // Clamped: the true partner is always in range (K is even), but bounds inference cannot see it.
        Expr partner = clamp(select(is_first, kd + 1, kd - 1), 0, q.dim(0).extent() - 1);
        Expr c = cos_table(pair, t, b);
        Expr s = select(is_first, -sin_table(pair, t, b), sin_table(pair, t, b));
        q_rotated(kd, h, t, b) = q(kd, h, t, b) * c + q(partner, h, t, b) * s;
        k_rotated(kd, h, t, b) = (k(kd, h, t, b) * c + k(partner, h, t, b) * s) * k_scale;
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
