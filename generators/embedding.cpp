// The token embedding: y(c, m) = scale * table(c, token(m)). Token ids (int32) are checked by the
// runtime (an out-of-range id is an error naming it); the kernel clamps them anyway so that no id
// can read outside the table.
// Layouts: tokens (m) = [M]; table (c, v) = row-major [vocab, C]; y (c, m) = [M, C].
#include "linear_common.h"
#include "cpu/elementwise.h"
#include "gpu/elementwise.h"

namespace retnet_gen {

class Embedding : public Generator<Embedding> {
public:
    RETNET_PARAMS_rows_cpu
    RETNET_PARAMS_rows_gpu

    Input<Buffer<int32_t, 1>> tokens{"tokens"};  // (m)
    Input<Buffer<float, 2>> table{"table"};      // (c, v)
    Input<float> scale{"scale"};                 // 1, or sqrt(C) without no_scale_embedding
    Output<Buffer<float, 2>> y{"y"};             // (c, m)

    void generate() {
        Var c("c"), m("m");
        Expr id = clamp(tokens(m), 0, table.dim(1).extent() - 1);
        y(c, m) = table(c, id) * scale;
        RowFuncs f{y, Func(), {m}};
        schedule_rows(*this, get_target(), f, c);
    }
};

}  // namespace retnet_gen

HALIDE_REGISTER_GENERATOR(retnet_gen::Embedding, embedding)
