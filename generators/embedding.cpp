// The token embedding: y(c, m) = scale * table(c, token(m)). Token ids are checked by the runtime
// (an out-of-range id is an error naming it); the kernel clamps them anyway so that no id can
// read outside the table.
// Token ids travel as float32 tensors like every other input (exact for ids below 2^24; the
// runtime refuses larger vocabularies).
// Layouts: tokens (m) = [M]; table (c, v) = row-major [vocab, C]; y (c, m) = [M, C].
#include "linear_common.h"
#include "cpu/elementwise.h"
#include "gpu/elementwise.h"

namespace retnet_gen {

class Embedding : public Generator<Embedding> {
public:
    RETNET_ROWS_CPU_SCHEDULE_PARAMS
    RETNET_ROWS_GPU_SCHEDULE_PARAMS

    Input<Buffer<float, 1>> tokens{"tokens"};    // (m): ids as floats, exact below 2^24
    Input<Buffer<float, 2>> table{"table"};      // (c, v)
    Input<float> scale{"scale"};                 // 1, or sqrt(C) without no_scale_embedding
    Output<Buffer<float, 2>> y{"y"};             // (c, m)

    void generate() {
        Var c("c"), m("m");
        Expr id = clamp(cast<int>(tokens(m)), 0, table.dim(1).extent() - 1);
        y(c, m) = table(c, id) * scale;
        RowFuncs f{y, Func(), {m}};
        schedule_rows(*this, get_target(), f, c);
    }
};

}  // namespace retnet_gen

HALIDE_REGISTER_GENERATOR(retnet_gen::Embedding, embedding)
