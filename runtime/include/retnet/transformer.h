// The Transformer that RetNet's inference is measured against (`retnet bench-inference`,
// docs/SEMANTICS.md §8): a Llama-style decoder, with RMSNorm, rotary positions, multi-head
// causal attention over a KV cache and a SwiGLU feed-forward. Its projections, norms, rotation and
// feed-forward are the RetNet's own kernels, so that a comparison measures the architectures, not
// two implementations. Random weights only: it exists to be timed.
#pragma once

#include <cstdint>
#include <vector>

#include "retnet/attention.h"
#include "retnet/layers.h"
#include "retnet/tensor.h"

namespace retnet {

struct TransformerConfig {
    int64_t layers = 0, embed_dim = 0, heads = 0, ffn_dim = 0, vocab_size = 0;
    double norm_eps = 1e-6;

    int64_t head_dim() const { return embed_dim / heads; }
    int64_t parameter_count() const;
    // Throws, naming `source` and the field, unless every extent is positive and heads divide d.
    void validate(const std::string &source) const;
};

// B sequences' caches, one per layer, and each sequence's filled positions.
struct TransformerState {
    std::vector<KvCache> layers;
    std::vector<int64_t> lengths;
    int64_t memory_bytes() const;
};

class TransformerModel {
public:
    static TransformerModel random(const TransformerConfig &config, uint64_t seed, Device device,
                                   WeightStorage storage = WeightStorage::f32);

    const TransformerConfig &config() const { return config_; }
    int64_t weight_bytes() const;
    // Caches of `capacity` positions for `batch` sequences, empty, holding float32 or bfloat16.
    TransformerState new_state(int64_t batch, int64_t capacity, CacheStorage storage = CacheStorage::f32) const;
    // As if each sequence had already seen `length` tokens, whose keys and values are whatever the
    // caches hold (zeros in a new state): attending to them costs the same whatever they are. For
    // timing decoding at a context length without prefilling it.
    void set_length(TransformerState &state, int64_t length) const;

    // Runs B sequences of T tokens (`tokens` row-major [B, T]), appending them to the caches;
    // returns the last position's logits [B, vocab] on the model's device.
    Tensor forward(const std::vector<int32_t> &tokens, int64_t batch, int64_t seq_len, TransformerState &state) const;

private:
    struct Layer {
        Tensor attention_norm, ffn_norm;
        LinearWeight q, k, v, out, fc1, gate, fc2;
    };
    TransformerConfig config_;
    Device device_ = Device::cpu;
    Tensor embed_tokens, final_norm;
    std::vector<Layer> layers_;
    LinearWeight output_;
    std::vector<float> angles_;  // the rotation's theta_i, K/2 of them
};

}  // namespace retnet
