// Parallel retention: o = (s Q K^T * D) V + s (Q S0) * xi, like attention with a decay mask.
// O(T^2), but tiled: for a tile of `tile` queries, only key tiles at or before it are visited, and
// each tile x tile block of scores lives in cache while it is used; the T x T matrix never exists.
//
//   o_n = s * sum_{m <= n} gamma^(n-m) (q_n . k_m) v_m  +  s * gamma^(n+1) q_n S0
//   final state = gamma^T S0 + sum_m gamma^(T-1-m) k_m^T v_m
#pragma once

#include "retention_common.h"
#include "cpu/retention_parallel.h"
#include "gpu/retention_parallel.h"

namespace retnet_gen {

class RetentionParallel : public SequenceFormGenerator<RetentionParallel> {
public:
    // tile (kernels.json): queries and keys per tile, part of the algorithm's shape.
    RETNET_PARAMS_retention_parallel_algorithm
    RETNET_PARAMS_retention_parallel_cpu
    RETNET_PARAMS_retention_parallel_gpu

    void generate() {
        const int L = tile;  // tile length
        Expr key_dim = q.dim(0).extent();
        Expr seq_len = q.dim(2).extent();
        Expr num_tiles = (seq_len + L - 1) / L;

        Func qz = zero_past_end(q, seq_len, "q_padded");
        Func kz = zero_past_end(k, seq_len, "k_padded");
        Func vz = zero_past_end(v, seq_len, "v_padded");
        Func decay = decay_powers(log_decay, "decay");
        auto decay_at = [&](Expr distance, Expr head) { return decay(clamp(distance, 0, seq_len), head); };

        Var i("i"), j("j"), qt("qt"), kt("kt"), kd("kd"), vd("vd"), h("h"), b("b"), t("t");
        RDom over_keys(0, key_dim, "over_keys");
        RDom over_tile(0, L, "over_tile");
        RDom key_tiles(0, num_tiles, "key_tiles");
        key_tiles.where(key_tiles <= qt);  // causal: key tiles up to the query tile
        Expr query = qt * L + i, key = kt * L + j;

        Func k_transposed("k_transposed");  // (j, kd) per key tile: the score product vectorises over keys
        k_transposed(j, kd, kt, h, b) = kz(kd, h, kt * L + j, b);

        Func scores_raw("scores_raw");
        scores_raw(j, i, kt, qt, h, b) = 0.0f;
        scores_raw(j, i, kt, qt, h, b) += qz(over_keys, h, query, b) * k_transposed(j, over_keys, kt, h, b);

        Func scores("scores");  // s * gamma^(n-m) (q_n . k_m), zero for m > n
        // The causal mask multiplies the decay rather than guarding the product, so Halide keeps
        // every register tile of scores_raw a constant size.
        Expr causal_decay = select(key <= query, scale * decay_at(query - key, h), 0.0f);
        scores(j, i, kt, qt, h, b) = causal_decay * scores_raw(j, i, kt, qt, h, b);

        Func tile_product("tile_product");  // one key tile's contribution to a query tile's outputs
        tile_product(vd, i, kt, qt, h, b) = 0.0f;
        tile_product(vd, i, kt, qt, h, b) += scores(over_tile, i, kt, qt, h, b) * vz(vd, h, kt * L + over_tile, b);

        Func from_initial_state("from_initial_state");  // q_n . S0
        from_initial_state(vd, i, qt, h, b) = 0.0f;
        from_initial_state(vd, i, qt, h, b) +=
            qz(over_keys, h, query, b) * state_at(initial_state, vd, over_keys, h, b);

        Func out_tile("out_tile");
        out_tile(vd, i, qt, h, b) = select(
            has_initial_state, (scale * decay_at(query + 1, h)) * from_initial_state(vd, i, qt, h, b), 0.0f);
        out_tile(vd, i, qt, h, b) += tile_product(vd, i, key_tiles, qt, h, b);
        o(vd, h, t, b) = out_tile(vd, t % L, t / L, h, b);
        o.dim(2).set_min(0);  // outputs start at token 0, as in retention_chunkwise

        RDom over_time(0, seq_len, "over_time");
        Func state_sum("state_sum");
        state_sum(vd, kd, h, b) = select(has_initial_state, decay_at(seq_len, h) * state_at(initial_state, vd, kd, h, b), 0.0f);
        state_sum(vd, kd, h, b) += kz(kd, h, over_time, b) * (decay_at(seq_len - 1 - over_time, h) * vz(vd, h, over_time, b));
        final_state(vd, kd, h, b) = state_sum(vd, kd, h, b);

        ParallelFuncs funcs{o, final_state, out_tile, tile_product, scores, scores_raw, k_transposed,
                            from_initial_state, state_sum, decay, qz, kz, vz};
        ParallelVars vars{vd, kd, i, j, qt, kt, h, b, t, over_keys, over_tile, key_tiles, over_time};
        if (auto_schedule) {
            set_retention_estimates(*this);
        } else if (uses_gpu_schedules(get_target())) {
            schedule_retention_parallel_gpu(funcs, vars, L, parallel_gpu_params(*this));
        } else {
            schedule_retention_parallel_cpu(funcs, vars, L, has_initial_state, parallel_cpu_params(*this),
                                            get_target());
        }
    }
};

}  // namespace retnet_gen
