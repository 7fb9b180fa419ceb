#include "config_dialects.h"

#include <cmath>

#include "config_fields.h"

namespace retnet::detail {

namespace {

// Fields of syncdoth's RetNet-XATL fork (NucleusAI's Pythia-transferred models): LayerNorms with
// biases, parallel residuals, partial rotation. A different computation, refused by name.
constexpr const char *kXatlFields[] = {"use_rms_norm", "groupnorm_affine", "use_bias", "parallel_residual",
                                       "rotary_percentage", "shared_attention_norm", "lm_head_bias",
                                       "retnet_stability_update", "retnet_bottleneck", "hybrid_attention_layers"};

std::optional<int32_t> token_id(const json &j, const char *name, std::optional<int32_t> fallback, const std::string &source) {
    auto it = j.find(name);
    if (it == j.end()) return fallback;
    if (it->is_null()) return std::nullopt;
    if (it->is_array() && !it->empty()) return token_id(json{{name, it->at(0)}}, name, fallback, source);  // [eos, ...]
    const int64_t id = field<int64_t>(j, name, 0, source);
    if (id < 0 || id > INT32_MAX) throw Error(fmt::format("{}: {}: expected a token id, got {}", source, name, id));
    return static_cast<int32_t>(id);
}

// fla's θ_i = 10000^(-2i/K), computed in float32 as fla's RotaryEmbedding does (1 / base^(2i/K)).
std::vector<float> fla_rotation_angles(int64_t key_dim) {
    std::vector<float> angles;
    for (int64_t i = 0; i < key_dim / 2; i++) {
        const float exponent = static_cast<float>(2 * i) / static_cast<float>(key_dim);
        angles.push_back(1.0f / std::pow(10000.0f, exponent));
    }
    return angles;
}

}  // namespace

Dialect detect_dialect(const json &j, const std::string &source) {
    for (const char *name : kXatlFields) {
        if (j.contains(name)) {
            throw Error(fmt::format("{}: {}: a field of the RetNet-XATL variant, which is not supported (LayerNorms with "
                                    "biases, parallel residuals, partial rotation)",
                                    source, name));
        }
    }
    const bool fla = j.contains("hidden_size") || j.contains("num_heads");
    const bool torchscale_names = j.contains("decoder_embed_dim");
    const json model_type = j.contains("model_type") ? j["model_type"] : json();
    if (!model_type.is_null() && model_type != "retnet") {
        throw Error(fmt::format("{}: model_type: expected \"retnet\", got {} (not a RetNet checkpoint)", source,
                                brief(model_type)));
    }
    if (fla && torchscale_names) {
        throw Error(fmt::format("{}: has both fla's hidden_size/num_heads and torchscale's decoder_embed_dim: which "
                                "layout is it?",
                                source));
    }
    if (fla) return Dialect::fla;
    if (!torchscale_names) {
        throw Error(fmt::format("{}: neither decoder_embed_dim (torchscale, syncdoth) nor hidden_size (fla): not a RetNet "
                                "config this runtime knows",
                                source));
    }
    return model_type.is_null() ? Dialect::torchscale : Dialect::syncdoth;
}

ModelConfig parse_syncdoth_config(const json &j, const std::string &source) {
    // torchscale's fields with torchscale's meaning, plus Hugging Face's; a few of its own.
    ModelConfig c = parse_torchscale_config(j, source);
    c.dialect = Dialect::syncdoth;
    refuse_unless(j, "use_glu", true, source, "the feed-forward without a gate (with biases) is not implemented");
    // syncdoth's deepnorm turns the blocks post-norm (it forces decoder_normalize_before off).
    refuse_unless(j, "deepnorm", false, source, "syncdoth's deepnorm makes the blocks post-norm, which is not implemented");
    refuse_unless(j, "use_ffn_rms_norm", false, source, "a norm inside the feed-forward is not implemented");
    c.tied_embeddings = field<bool>(j, "tie_word_embeddings", false, source);
    c.validate(source);  // the head count bounded before a decay is computed for each head
    if (field<bool>(j, "use_lm_decay", false, source)) {
        // γ_h = 1 - exp(linspace(ln 1/32, ln 1/512, H)).
        c.decay.clear();
        for (int64_t h = 0; h < c.heads; h++) {
            const double t = c.heads == 1 ? 0.0 : double(h) / double(c.heads - 1);
            c.decay.push_back(1.0 - std::exp(std::log(1.0 / 32) + t * (std::log(1.0 / 512) - std::log(1.0 / 32))));
        }
    }
    c.bos_id = token_id(j, "bos_token_id", std::nullopt, source);
    c.eos_id = token_id(j, "eos_token_id", std::nullopt, source);
    return c;
}

ModelConfig parse_fla_config(const json &j, const std::string &source) {
    ModelConfig c;
    c.dialect = Dialect::fla;
    const int64_t d = required<int64_t>(j, "hidden_size", source);
    c.embed_dim = d;
    c.heads = required<int64_t>(j, "num_heads", source);
    c.layers = required<int64_t>(j, "num_hidden_layers", source);
    c.vocab_size = required<int64_t>(j, "vocab_size", source);
    if (d < 1 || d > (int64_t(1) << 17)) throw Error(fmt::format("{}: hidden_size: expected 1 to 131072, got {}", source, d));
    const double expand_k = field<double>(j, "expand_k", 1.0, source), expand_v = field<double>(j, "expand_v", 2.0, source);
    for (const auto &[name, value] : {std::pair{"expand_k", expand_k}, std::pair{"expand_v", expand_v}}) {
        if (!(value > 0 && value <= 64)) throw Error(fmt::format("{}: {}: expected a number in (0, 64], got {}", source, name, value));
    }
    c.key_embed_dim = static_cast<int64_t>(double(d) * expand_k);  // Python's int(): truncation
    c.value_embed_dim = static_cast<int64_t>(double(d) * expand_v);
    c.kv_heads = field<int64_t>(j, "num_kv_heads", c.heads, source);
    // The feed-forward width: intermediate_size, or fla's rule 256 * ceil(int(d * ratio * 2/3) / 256).
    const int64_t intermediate = field<int64_t>(j, "intermediate_size", 0, source);
    if (intermediate != 0) {
        c.ffn_dim = intermediate;
    } else {
        const double ratio = field<double>(j, "hidden_ratio", 4.0, source);
        if (!(ratio > 0 && ratio <= 64)) throw Error(fmt::format("{}: hidden_ratio: expected a number in (0, 64], got {}", source, ratio));
        const int64_t width = static_cast<int64_t>(double(d) * ratio * 2.0 / 3.0);
        c.ffn_dim = 256 * ((width + 255) / 256);
    }
    // norm_eps (current fla), rms_norm_eps (the 2024 configs), fla's default otherwise.
    c.layernorm_eps = field<double>(j, "norm_eps", field<double>(j, "rms_norm_eps", 1e-6, source), source);
    const std::string act = field<std::string>(j, "hidden_act", "swish", source);
    if (act != "swish" && act != "silu") {
        throw Error(fmt::format("{}: hidden_act: expected \"swish\", got \"{}\" (fla's gated MLP takes swish)", source, act));
    }
    c.activation = Activation::swish;
    c.tied_embeddings = field<bool>(j, "tie_word_embeddings", false, source);
    refuse_unless(j, "use_output_gate", true, source, "retention without the output gate is not implemented");
    for (const char *name : {"feature_map", "attn", "attnres_block_size"}) {
        if (j.contains(name) && !j[name].is_null()) {
            throw Error(fmt::format("{}: {}: {} is not supported ({}); expected null", source, name, brief(j[name]),
                                    std::string(name) == "attn" ? "hybrid softmax-attention layers are not implemented"
                                                                : "this variant of the layer is not implemented"));
        }
    }
    // The per-head output norm's weight exists with elementwise_affine (null counts as false).
    const auto affine = j.find("elementwise_affine");
    c.group_norm_weight = affine == j.end() || (!affine->is_null() && field<bool>(j, "elementwise_affine", true, source));
    c.fused_group_norm_name = field<bool>(j, "fuse_norm", true, source);
    c.scale_embedding = false;
    c.layernorm_embedding = false;
    if (c.heads >= 1 && c.key_embed_dim % c.heads == 0 && (c.key_embed_dim / c.heads) % 2 == 0) {
        c.angles = fla_rotation_angles(c.key_embed_dim / c.heads);
    }
    c.bos_id = token_id(j, "bos_token_id", 1, source);
    c.eos_id = token_id(j, "eos_token_id", 2, source);
    return c;
}

}  // namespace retnet::detail
