// Chunkwise recurrent retention (paper eq. 7): the parallel form inside chunks of C tokens, a
// recurrence across chunks. Linear in T; the main prefill kernel.
//
// For chunk c (tokens cC .. cC+len-1, len = min(C, T - cC); the last chunk may be partial):
//   state_before(c+1) = gamma^len * state_before(c) + K_c^T (V_c * zeta),  zeta_j = gamma^(len-1-j)
//   o_c = s * [ (Q_c K_c^T * D) V_c  +  (Q_c * xi) state_before(c) ],      xi_i  = gamma^(i+1)
// with D_ij = gamma^(i-j) for j <= i. state_before(0) is the initial state (or zero); the final
// state is state_before(num_chunks).
#pragma once

#include "retention_common.h"
#include "cpu/retention_chunkwise.h"
#include "gpu/retention_chunkwise.h"

namespace retnet_gen {

class RetentionChunkwise : public SequenceFormGenerator<RetentionChunkwise> {
public:
    // chunk, tile_rows, causal_row_blocks, skip_masked_quadrant (kernels.json): the algorithm's shape.
    RETNET_PARAMS_retention_chunkwise_algorithm
    RETNET_PARAMS_retention_chunkwise_cpu
    RETNET_PARAMS_retention_chunkwise_gpu

    void generate() {
        const int C = chunk;
        Expr key_dim = q.dim(0).extent();
        Expr seq_len = q.dim(2).extent();
        Expr num_chunks = (seq_len + C - 1) / C;

        Func qz = zero_past_end(q, seq_len, "q_padded");
        Func kz = zero_past_end(k, seq_len, "k_padded");
        Func vz = zero_past_end(v, seq_len, "v_padded");
        Func decay = decay_powers(log_decay, "decay");

        Var i("i"), j("j"), c("c"), kd("kd"), vd("vd"), h("h"), b("b"), t("t");
        RDom over_keys(0, key_dim, "over_keys");
        RDom over_chunk(0, C, "over_chunk");
        auto chunk_len = [&](Expr chunk_index) { return min(C, seq_len - chunk_index * C); };

        // --- across chunks: each chunk's contribution to the state, then the scan over chunks.
        Func v_decayed("v_decayed_to_chunk_end");
        Expr len = chunk_len(c);
        v_decayed(vd, j, c, h, b) =
            select(j < len, decay(clamp(len - 1 - j, 0, C), h), 0.0f) * vz(vd, h, c * C + j, b);

        Func chunk_state("chunk_state");
        chunk_state(vd, kd, c, h, b) = 0.0f;
        chunk_state(vd, kd, c, h, b) +=
            kz(kd, h, c * C + over_chunk, b) * v_decayed(vd, over_chunk, c, h, b);

        Func state_before("state_before_chunk");
        RDom scan(1, num_chunks, "scan");  // c = 1 .. num_chunks; num_chunks is the final state
        // No pure step: the initial state is written at c = 0 only, the scan writes the rest.
        // (A pure step filled all T/C + 1 states of every head, which the scan then overwrote.)
        state_before(vd, kd, c, h, b) = undef<float>();
        state_before(vd, kd, 0, h, b) = select(has_initial_state, state_at(initial_state, vd, kd, h, b), 0.0f);
        state_before(vd, kd, scan, h, b) =
            decay(clamp(chunk_len(scan - 1), 0, C), h) * state_before(vd, kd, scan - 1, h, b) +
            chunk_state(vd, kd, scan - 1, h, b);

        // --- inside a chunk: causal decayed scores, then scores x V plus the carried state.
        Func k_transposed("k_transposed");  // (j, kd): lets the score product vectorise over keys
        k_transposed(j, kd, c, h, b) = kz(kd, h, c * C + j, b);

        Func scores_raw("scores_raw");  // (j, i): q_i . k_j
        RDom score_keys(0, key_dim, "score_keys");
        if (skip_masked_quadrant) {
            // The quadrant of keys past the diagonal's (second half of the keys, first half of the
            // rows) is masked whole: the reduction skips it (a GPU schedule gives each warp one
            // quadrant, so whole warps skip it). Written as a product so that Halide does not
            // narrow the rows it infers for a thread's tile from it (j/Q <= i/Q did: the query rows
            // then had a variable offset and went to local memory).
            const int Q = C / 2;
            score_keys.where((j / Q) * (1 - i / Q) == 0);
        }
        scores_raw(j, i, c, h, b) = 0.0f;
        scores_raw(j, i, c, h, b) +=
            qz(score_keys, h, c * C + i, b) * k_transposed(j, score_keys, c, h, b);

        Func scores("scores");  // s * (q_i . k_j) * gamma^(i-j), zero above the diagonal
        // The causal mask multiplies the decay rather than guarding the product, so Halide keeps
        // every register tile of scores_raw a constant size.
        // As a C x C table per head (the paper's D, times s): the CPU reads it with dense vector
        // loads; indexing the powers by i - j per lane was a clamped gather.
        Func causal_decay("causal_decay");
        causal_decay(j, i, h) = select(j <= i, scale * decay(clamp(i - j, 0, C), h), 0.0f);
        scores(j, i, c, h, b) = causal_decay(j, i, h) * scores_raw(j, i, c, h, b);

        // One accumulator for both terms: from earlier chunks through the state entering this one
        // (q_t S, then times s gamma^(offset+1): the row's decay applied once, not at every key),
        // and inside the chunk (scores x V).
        Func out_chunk("out_chunk");
        // The register tile's rows (a GPU thread's, or the CPU tile's).
        const int R = std::min<int>(tile_rows, C);
        Var row("row"), block("block");
        RDom causal(0, C, "causal");
        const bool row_blocks = !auto_schedule && causal_row_blocks && C % R == 0;
        if (row_blocks) {
            // Rows in blocks of the register tile's height, the block an index of its own: the
            // causal bound (keys up to the block's last row) then depends on the block alone, so
            // Halide shortens the reduction loop of a whole register tile instead of guarding
            // each row, and the masked half of each chunk's scores x V is skipped (on a GPU, by
            // each warp up to its last thread's rows).
            // block counts R-row blocks from token 0; C % R == 0, so none straddles two chunks.
            const int blocks_per_chunk = C / R;
            Expr block_chunk = block / blocks_per_chunk, first_row = (block % blocks_per_chunk) * R;
            causal.where(causal < first_row + R);
            out_chunk(vd, row, block, h, b) = 0.0f;
            out_chunk(vd, row, block, h, b) += qz(over_keys, h, block * R + row, b) *
                                               state_before(vd, over_keys, block_chunk, h, b);
            out_chunk(vd, row, block, h, b) *= scale * decay(first_row + row + 1, h);
            out_chunk(vd, row, block, h, b) += scores(causal, first_row + row, block_chunk, h, b) *
                                               vz(vd, h, block_chunk * C + causal, b);
            // t / R and t % R are exact over a tile of R rows starting at a multiple of R.
            o(vd, h, t, b) = out_chunk(vd, t % R, t / R, h, b);
        } else {
            // Indexed by absolute token t (not by chunk and offset) so that Halide bounds each
            // register tile exactly: t % C has no tight interval bounds.
            Expr t_chunk = t / C, t_offset = t % C;
            out_chunk(vd, t, h, b) = 0.0f;
            out_chunk(vd, t, h, b) += qz(over_keys, h, t, b) * state_before(vd, over_keys, t_chunk, h, b);
            out_chunk(vd, t, h, b) *= scale * decay(t_offset + 1, h);
            out_chunk(vd, t, h, b) +=
                scores(over_chunk, t_offset, t_chunk, h, b) * vz(vd, h, t_chunk * C + over_chunk, b);
            o(vd, h, t, b) = out_chunk(vd, t, h, b);
        }
        // Outputs start at token 0 (the runtime's buffers always do): a register tile's rows then
        // provably share one chunk (t / C), so its value loads are shared by its rows instead of
        // repeated for each (about a third of the load instructions).
        o.dim(2).set_min(0);
        // Likewise their feature index (and the final state's): the GPU schedule's vector loads of
        // the state need a thread's first column provably a multiple of 4.
        o.dim(0).set_min(0);
        final_state(vd, kd, h, b) = state_before(vd, kd, num_chunks, h, b);
        final_state.dim(0).set_min(0);

        ChunkwiseFuncs funcs{o, final_state, out_chunk, scores, scores_raw, k_transposed,
                             v_decayed, chunk_state, state_before, decay, qz, kz, vz, causal_decay};
        ChunkwiseVars vars{vd, kd, i, j, c, h, b, t, over_chunk, over_keys, scan, row_blocks ? R : 0, row, causal, score_keys};
        if (auto_schedule) {
            set_retention_estimates(*this);
        } else if (uses_gpu_schedules(get_target())) {
            schedule_retention_chunkwise_gpu(funcs, vars, chunkwise_algorithm(*this), chunkwise_gpu_params(*this));
        } else {
            schedule_retention_chunkwise_cpu(funcs, vars, chunkwise_algorithm(*this), chunkwise_cpu_params(*this),
                                             get_target());
        }
    }
};

}  // namespace retnet_gen
