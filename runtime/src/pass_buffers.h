// Every tensor one pass of the layer stack reads or writes besides the weights and the states, for
// B sequences of T tokens. Model::run makes them per call; a captured CUDA graph of the decode
// step keeps one set, since its replays find every tensor at the address it was captured with.
#pragma once

#include <cstdint>
#include <vector>

#include "retnet/model_config.h"
#include "retnet/tensor.h"

namespace retnet::detail {

struct PassBuffers {
    // `kept_rows`: the rows the output head runs on (B*T for every position's logits, B for the
    // last position's).
    PassBuffers(const ModelConfig &config, int64_t batch, int64_t seq_len, int64_t kept_rows, Device device);

    // Copies the token ids (row-major [B, T]) and each sequence's first position to the device
    // (rotation_start_positions: a position past 2^31 is refused by name).
    void set_inputs(const std::vector<int32_t> &tokens, const std::vector<int64_t> &positions);

    int64_t batch, seq_len;
    Tensor ids, start;                  // int32 [B*T], [B]
    Tensor angles;                      // [K/2]
    Tensor cos, sin;                    // [B, T, K/2]
    Tensor h, h_next, normed_input;     // [M, d]
    Tensor q, k, q_rotated, k_rotated;  // [B, T, H, K]
    Tensor v, g;                        // [M, H*V]
    Tensor o, gated;                    // [B, T, H, V], [M, H, V]
    Tensor ffn;                         // [M, FFN]
    Tensor final_norm, logits;          // [kept, d], [kept, vocab]

private:
    Tensor host_ids_;  // staging for set_inputs
};

}  // namespace retnet::detail
