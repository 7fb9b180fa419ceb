// A RetNet model's hyperparameters, read from config.json in one of three dialects, told apart by
// the file itself (docs/CHECKPOINT_DIALECTS.md):
//   - torchscale: RetNetConfig's field names (decoder_embed_dim, ...), no model_type;
//   - syncdoth:   the Hugging Face port of torchscale (the same names, model_type "retnet");
//   - fla:        flash-linear-attention's RetNetConfig (hidden_size, num_heads, expand_k, ...).
// Whatever the dialect, the result describes the one computation the runtime implements (pre-norm
// blocks, the rotation, raw retention with a per-head decay, the gated per-head norm, a GLU
// feed-forward); what differs between dialects is carried as data (rotation angles, decays, the
// q/k width) or resolved when the weights are loaded (runtime/src/checkpoint_dialects.cpp).
// Unknown fields are ignored (the training code writes many); fields that would change the
// computation in a way this runtime does not implement are refused with an error naming them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "retnet/layers.h"

namespace retnet {

enum class Dialect { torchscale,
                     syncdoth,
                     fla };
const char *dialect_name(Dialect dialect);

struct ModelConfig {
    int64_t embed_dim = 0;                     // decoder_embed_dim, d
    int64_t value_embed_dim = 0;               // decoder_value_embed_dim, H * V
    int64_t heads = 0;                         // decoder_retention_heads, H
    int64_t ffn_dim = 0;                       // decoder_ffn_embed_dim
    int64_t layers = 0;                        // decoder_layers
    int64_t vocab_size = 0;                    // vocab_size
    double layernorm_eps = 1e-6;               // layernorm_eps
    Activation activation = Activation::gelu;  // activation_fn (torchscale's default: gelu)
    bool scale_embedding = false;              // !no_scale_embedding: embeddings times sqrt(d)
    bool layernorm_embedding = false;          // an RMSNorm on the embeddings (layernorm_embedding.weight)
    bool tied_embeddings = false;              // share_decoder_input_output_embed
    bool deepnorm = false;                     // residuals alpha * residual + x

    Dialect dialect = Dialect::torchscale;
    // H * K, the width of q and k: decoder_embed_dim in torchscale's layout, hidden_size * expand_k
    // in fla's; 0 means embed_dim.
    int64_t key_embed_dim = 0;
    // Heads of k and v in the checkpoint (fla's num_kv_heads, grouped-query retention): each is
    // repeated for heads / kv_heads query heads when loading. 0 means heads.
    int64_t kv_heads = 0;
    // fla: the per-head output norm has a learned weight [V] (folded into out_proj at load).
    bool group_norm_weight = false;
    // fla: the weight's name, attn.g_norm_swish_gate.weight (fuse_norm) or attn.g_norm.weight.
    bool fused_group_norm_name = true;
    // The rotation's theta_i (K/2 of them) and the decays gamma_h (H of them); empty: torchscale's
    // rules (rotation_angles(K), gamma_h = 1 - 2^(-5-h)). Filled by the dialect parsers, or from
    // the buffers a syncdoth checkpoint stores.
    std::vector<float> angles;
    std::vector<double> decay;
    // Special tokens from config.json (bos_token_id, eos_token_id), when it names them.
    std::optional<int32_t> bos_id, eos_id;

    int64_t key_width() const { return key_embed_dim ? key_embed_dim : embed_dim; }
    int64_t key_dim() const { return key_width() / heads; }        // K
    int64_t value_dim() const { return value_embed_dim / heads; }  // V
    double residual_alpha() const;                                 // (2 L)^(1/4) with deepnorm, else 1
    double embed_scale() const;
    int64_t parameter_count() const;

    // Parses and validates; `source` names the file in errors.
    static ModelConfig from_json_text(const std::string &text, const std::string &source);
    static ModelConfig load(const std::string &path);
    std::string to_json_text() const;  // torchscale field names (torchscale dialect only)
    // The rotation angles and decays in effect (the dialect's, or torchscale's rules).
    std::vector<float> rotation_angles() const;
    std::vector<double> decays() const;
    // Throws retnet::Error naming the first field that is out of range.
    void validate(const std::string &source) const;
};

}  // namespace retnet
