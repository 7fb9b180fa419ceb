// CPU schedule of the linear kernels: a register-tiled product (matmul_tile.h) per output tile.
//
// Loop order: column tiles outside, row tiles inside, so that one column panel of the weights
// (K x cols floats: 96 KB for K = 768, cols = 32) stays in L2 while every row tile streams past
// it. Tasks are (column tile, row tile) pairs in that order. With rows = 1 the same schedule is
// a matrix-vector product for decoding, where one pass over the weights dominates.
#pragma once

#include "linear_common.h"
#include "tuning_space.h"
#include "matmul_tile.h"

namespace retnet_gen {

// `accumulators`: products per output element (2 for the gated FFN), which share the registers.
inline void schedule_linear_cpu(Func y, Func acc, LinearVars &v, const LinearCpuParams &p, int accumulators,
                                const Target &target) {
    const int vec = p.vector_width > 0 ? p.vector_width : target.natural_vector_size<float>();
    const int cols = std::min(kWeightColumnPadding, vec * std::max(1, p.vectors / accumulators));
    const int rows = p.rows;
    check_schedule(kWeightColumnPadding % cols == 0, "linear: a tile of " + std::to_string(cols) +
                                                         " columns does not divide the weights' padding");
    Var no("no"), ni("ni"), mo("mo"), mi("mi"), task("task");
    y.split(v.n, no, ni, cols, TailStrategy::GuardWithIf)
        .split(v.m, mo, mi, rows, TailStrategy::GuardWithIf)
        .reorder(ni, mi, mo, no)
        .vectorize(ni, vec)
        .unroll(mi)
        .fuse(mo, no, task)
        .parallel(task);
    schedule_register_tile(acc, v.n, v.m, LoopLevel(y, task), RegisterTile{vec, cols, rows}, {v.over_k});
}

}  // namespace retnet_gen
