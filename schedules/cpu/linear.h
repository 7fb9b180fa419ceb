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

#define RETNET_LINEAR_CPU_SCHEDULE_PARAMS                                 \
    /* floats per SIMD vector; 0 = the target's natural width */          \
    GeneratorParam<int> vector_width{"vector_width", 0, 0, 32};           \
    /* SIMD vectors across a register tile (its columns), per product */  \
    RETNET_TUNABLE("linear", "cpu", vectors);                             \
    /* rows of a register tile; 1 makes the matrix-vector variant */      \
    RETNET_TUNABLE("linear", "cpu", rows);

struct LinearCpuParams {
    int vector_width, vectors, rows;
};
template<typename G>
LinearCpuParams linear_cpu_params(const G &g) {
    return {g.vector_width, g.vectors, g.rows};
}

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
