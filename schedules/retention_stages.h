// The Funcs and Vars of each retention form that its schedules receive from the generator (the
// CPU schedules in cpu/, the GPU ones in gpu/): what a schedule may place, split and map.
#pragma once

#include "Halide.h"

namespace retnet_gen {

using namespace Halide;

// retention_parallel
struct ParallelFuncs {
    Func o, final_state, out_tile, tile_product, scores, scores_raw, k_transposed,
        from_initial_state, state_sum, decay;
    Func q_padded, k_padded, v_padded;  // the inputs, read with zeros past the end
};

struct ParallelVars {
    Var vd, kd, i, j, qt, kt, h, b, t;
    RDom over_keys, over_tile, key_tiles, over_time;
};

// retention_chunkwise
struct ChunkwiseFuncs {
    Func o, final_state, out_chunk, scores, scores_raw, k_transposed, v_decayed,
        chunk_state, state_before, decay;
    Func q_padded, k_padded, v_padded;  // the inputs, read with zeros past the end
    Func causal_decay;                  // (j, i, h): s gamma^(i-j) for j <= i, else 0
};

struct ChunkwiseVars {
    Var vd, kd, i, j, c, h, b, t;
    RDom over_chunk, over_keys, scan;
    // When the generator chose the CPU's row-blocked out_chunk(vd, row, block, h, b): the rows per
    // block (0 otherwise), the row variable and the causal reduction over the chunk's keys.
    int block_rows;
    Var row;
    RDom causal;
    RDom score_keys;  // the scores' reduction over the keys (its own: it may carry a predicate)
};

// retention_decode_step and retention_recurrent
struct DecodeStepFuncs {
    Func o, state_out, readout, updated;
};
struct DecodeStepVars {
    Var vd, kd, h, b;
    RDom over_keys;
};
struct RecurrentFuncs {
    Func o, final_state, scan_rows;
};
struct RecurrentVars {
    Var vd, row, kd, h, b, t;
    RDom step;
};

}  // namespace retnet_gen
