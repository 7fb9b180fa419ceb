// A row gather: y(c, m) = table(c, ids(m)), rows of a [rows, C] table by int32 index, clamped into
// the table (the runtime's callers pass valid rows). The model gathers each sequence's last hidden
// state with it before the output head.
// Layouts: ids (m) = [M]; table (c, r) = row-major [rows, C]; y (c, m) = [M, C].
#include "cpu/elementwise.h"
#include "gpu/elementwise.h"

namespace retnet_gen {

class GatherRows : public Generator<GatherRows> {
public:
    RETNET_PARAMS_rows_cpu
    RETNET_PARAMS_rows_gpu

    Input<Buffer<int32_t, 1>> ids{"ids"};    // (m)
    Input<Buffer<float, 2>> table{"table"};  // (c, r)
    Output<Buffer<float, 2>> y{"y"};         // (c, m)

    void generate() {
        Var c("c"), m("m");
        y(c, m) = table(c, clamp(ids(m), 0, table.dim(1).extent() - 1));
        RowFuncs f{y, Func(), {m}};
        schedule_rows(*this, get_target(), f, c);
    }
};

}  // namespace retnet_gen

HALIDE_REGISTER_GENERATOR(retnet_gen::GatherRows, gather_rows)
