// A RetNet model's hyperparameters: config.json with torchscale's RetNetConfig field names
// (SEMANTICS.md §2), validated. Unknown fields are ignored (torchscale writes many training-only
// ones); fields that would change the computation in a way this runtime does not implement are
// refused with an error naming them.
#pragma once

#include <cstdint>
#include <string>

#include "retnet/layers.h"

namespace retnet {

struct ModelConfig {
    int64_t embed_dim = 0;        // decoder_embed_dim, d
    int64_t value_embed_dim = 0;  // decoder_value_embed_dim, H * V
    int64_t heads = 0;            // decoder_retention_heads, H
    int64_t ffn_dim = 0;          // decoder_ffn_embed_dim
    int64_t layers = 0;           // decoder_layers
    int64_t vocab_size = 0;       // vocab_size
    double layernorm_eps = 1e-6;  // layernorm_eps
    Activation activation = Activation::gelu;  // activation_fn (torchscale's default: gelu)
    bool scale_embedding = false;        // !no_scale_embedding: embeddings times sqrt(d)
    bool layernorm_embedding = false;    // an RMSNorm on the embeddings (layernorm_embedding.weight)
    bool tied_embeddings = false;        // share_decoder_input_output_embed
    bool deepnorm = false;               // residuals alpha * residual + x

    int64_t key_dim() const { return embed_dim / heads; }          // K
    int64_t value_dim() const { return value_embed_dim / heads; }  // V
    double residual_alpha() const;                                 // (2 L)^(1/4) with deepnorm, else 1
    double embed_scale() const;
    int64_t parameter_count() const;

    // Parses and validates; `source` names the file in errors.
    static ModelConfig from_json_text(const std::string &text, const std::string &source);
    static ModelConfig load(const std::string &path);
    std::string to_json_text() const;  // torchscale field names
    // Throws retnet::Error naming the first field that is out of range.
    void validate(const std::string &source) const;
};

}  // namespace retnet
