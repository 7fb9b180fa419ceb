// CPU schedule of the row-wise kernels (norms, rotation, embedding): vectorised along a row,
// parallel over groups of rows, with any per-row value (a norm's 1/rms) computed just before its
// row is written.
#pragma once

#include "Halide.h"
#include "tuning_space.h"

namespace retnet_gen {

using namespace Halide;

// A row-wise output, the per-row Func it reads (may be undefined), and its outer dimensions
// (innermost first); the row's own dimension is passed to the schedule. Where the per-row value
// comes from a sum along the row (a norm's sum of squares), `row_sum` is that sum and `along` its
// RDom, so that a GPU schedule can split it over the block's threads.
struct RowFuncs {
    Func out, per_row;
    std::vector<Var> outer;
    Func row_sum = Func();
    RDom along = RDom();
};

// All outer dimensions fused into one row index.
inline Var fuse_rows(Func out, const std::vector<Var> &outer) {
    Var row = outer.at(0);
    for (size_t i = 1; i < outer.size(); i++) {
        Var fused("rows" + std::to_string(i));
        out.fuse(row, outer[i], fused);
        row = fused;
    }
    return row;
}

inline void schedule_rows_cpu(RowFuncs &f, const Var &inner, const RowsCpuParams &p, const Target &target) {
    const int vec = p.vector_width > 0 ? p.vector_width : target.natural_vector_size<float>();
    Var row = fuse_rows(f.out, f.outer), ro("ro"), ri("ri");
    f.out.split(row, ro, ri, p.rows_per_task, TailStrategy::GuardWithIf)
        .parallel(ro)
        .vectorize(inner, vec, TailStrategy::GuardWithIf);
    if (f.per_row.defined()) f.per_row.compute_at(f.out, ri);
}

}  // namespace retnet_gen
