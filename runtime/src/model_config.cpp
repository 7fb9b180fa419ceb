#include "retnet/model_config.h"

#include <cmath>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "config_dialects.h"
#include "config_fields.h"
#include "json_brief.h"
#include "retnet/checked.h"
#include "retnet/files.h"
#include "retnet/error.h"

namespace retnet {

namespace {

using detail::field;
using detail::refuse_unless;
using detail::required;
using nlohmann::json;

// The largest hyperparameters the kernels are built for (retention.h: K <= 256, V <= 512) and that
// token ids as float32 represent exactly (vocab < 2^24).
constexpr int64_t kMaxKeyDim = 256;
constexpr int64_t kMaxValueDim = 512;
constexpr int64_t kMaxVocab = int64_t(1) << 24;
// Bounds on the rest, far above any published RetNet (the largest: 32 layers, d 2560, FFN 4280),
// so that a hostile config is refused before anything is sized from it.
constexpr int64_t kMaxLayers = 1024;
constexpr int64_t kMaxWidth = int64_t(1) << 17;     // decoder_embed_dim, decoder_value_embed_dim
constexpr int64_t kMaxFfnWidth = int64_t(1) << 20;  // decoder_ffn_embed_dim
constexpr double kMaxEps = 1.0;

}  // namespace

double ModelConfig::residual_alpha() const {
    return deepnorm ? std::pow(2.0 * static_cast<double>(layers), 0.25) : 1.0;
}

double ModelConfig::embed_scale() const {
    return scale_embedding ? std::sqrt(static_cast<double>(embed_dim)) : 1.0;
}

int64_t ModelConfig::parameter_count() const {
    // Checked: callers may ask before validate() (bench-model prints it), with any integers.
    const int64_t d = embed_dim, hv = value_embed_dim, hk = key_width();
    const std::string what = "the model's parameter count";
    auto mul = [&](int64_t a, int64_t b) { return checked_mul(a, b, what); };
    auto add = [&](int64_t a, int64_t b) { return checked_add(a, b, what); };
    int64_t per_layer = add(add(add(mul(2, mul(d, hk)), mul(3, mul(d, hv))), mul(3, mul(d, ffn_dim))), mul(2, d));
    // fla's output-norm weight [V].
    if (group_norm_weight && heads > 0) per_layer = add(per_layer, hv / heads);
    const int64_t embedding = mul(vocab_size, d);
    int64_t count = add(add(mul(layers, per_layer), embedding), d);
    if (!tied_embeddings) count = add(count, embedding);
    if (layernorm_embedding) count = add(count, d);
    return count;
}

void ModelConfig::validate(const std::string &source) const {
    auto positive = [&](int64_t value, const char *name) {
        if (value < 1) throw Error(fmt::format("{}: {}: expected a positive integer, got {}", source, name, value));
    };
    positive(embed_dim, "decoder_embed_dim");
    positive(value_embed_dim, "decoder_value_embed_dim");
    positive(heads, "decoder_retention_heads");
    positive(ffn_dim, "decoder_ffn_embed_dim");
    positive(layers, "decoder_layers");
    positive(vocab_size, "vocab_size");
    auto at_most = [&](int64_t value, int64_t limit, const char *name) {
        if (value > limit) throw Error(fmt::format("{}: {}: expected at most {}, got {}", source, name, limit, value));
    };
    at_most(layers, kMaxLayers, "decoder_layers");
    at_most(embed_dim, kMaxWidth, "decoder_embed_dim");
    at_most(value_embed_dim, kMaxWidth, "decoder_value_embed_dim");
    at_most(ffn_dim, kMaxFfnWidth, "decoder_ffn_embed_dim");
    at_most(key_width(), kMaxWidth, "the q/k width");
    if (key_width() % heads != 0) {
        throw Error(fmt::format("{}: {}: {} does not divide by {} = {} (the key dimension per head must be whole)", source,
                                dialect == Dialect::fla ? "hidden_size * expand_k" : "decoder_embed_dim", key_width(),
                                dialect == Dialect::fla ? "num_heads" : "decoder_retention_heads", heads));
    }
    if (value_embed_dim % heads != 0) {
        throw Error(fmt::format("{}: decoder_value_embed_dim: {} does not divide by decoder_retention_heads = {} (the "
                                "value dimension per head must be whole)",
                                source, value_embed_dim, heads));
    }
    if (key_dim() % 2 != 0 || key_dim() > kMaxKeyDim) {
        throw Error(fmt::format("{}: decoder_embed_dim / decoder_retention_heads: expected an even key dimension of at "
                                "most {} (the rotation pairs features), got {}",
                                source, kMaxKeyDim, key_dim()));
    }
    if (value_dim() > kMaxValueDim) {
        throw Error(fmt::format("{}: decoder_value_embed_dim / decoder_retention_heads: expected at most {}, got {}",
                                source, kMaxValueDim, value_dim()));
    }
    if (kv_heads != 0 && (kv_heads < 1 || heads % kv_heads != 0)) {
        throw Error(fmt::format("{}: num_kv_heads: expected a divisor of num_heads = {}, got {}", source, heads, kv_heads));
    }
    if (!angles.empty() && static_cast<int64_t>(angles.size()) != key_dim() / 2) {
        throw Error(fmt::format("{}: rotation angles: expected {} (K / 2), got {}", source, key_dim() / 2, angles.size()));
    }
    if (!decay.empty() && static_cast<int64_t>(decay.size()) != heads) {
        throw Error(fmt::format("{}: decays: expected one per head ({}), got {}", source, heads, decay.size()));
    }
    for (double gamma : decay) {
        if (!(gamma > 0 && gamma < 1)) throw Error(fmt::format("{}: decays: expected each in (0, 1), got {}", source, gamma));
    }
    if (vocab_size >= kMaxVocab) {
        throw Error(fmt::format("{}: vocab_size: expected less than 2^24, got {}", source, vocab_size));
    }
    if (!(layernorm_eps >= 0 && layernorm_eps <= kMaxEps)) {  // NaN fails both
        throw Error(fmt::format("{}: layernorm_eps: expected a number in [0, {}] (real models use 1e-5 or 1e-6), got {}",
                                source, kMaxEps, layernorm_eps));
    }
}

const char *dialect_name(Dialect dialect) {
    switch (dialect) {
    case Dialect::torchscale:
        return "torchscale";
    case Dialect::syncdoth:
        return "syncdoth";
    case Dialect::fla:
        return "fla";
    }
    return "unknown";
}

std::vector<float> ModelConfig::rotation_angles() const {
    return angles.empty() ? retnet::rotation_angles(key_dim()) : angles;
}

std::vector<double> ModelConfig::decays() const {
    if (!decay.empty()) return decay;
    std::vector<double> gammas;
    for (int64_t h = 0; h < heads; h++) gammas.push_back(1.0 - std::exp2(-5.0 - double(h)));
    return gammas;
}

ModelConfig ModelConfig::from_json_text(const std::string &text, const std::string &source) {
    json j;
    try {
        j = json::parse(text);
    } catch (const json::exception &e) {
        throw Error(fmt::format("{}: not valid JSON: {}", source, e.what()));
    }
    if (!j.is_object()) throw Error(fmt::format("{}: expected a JSON object, got {}", source, j.type_name()));
    ModelConfig c;
    switch (detail::detect_dialect(j, source)) {
    case Dialect::syncdoth:
        c = detail::parse_syncdoth_config(j, source);
        break;
    case Dialect::fla:
        c = detail::parse_fla_config(j, source);
        break;
    case Dialect::torchscale:
        c = detail::parse_torchscale_config(j, source);
        break;
    }
    c.validate(source);
    return c;
}

ModelConfig detail::parse_torchscale_config(const json &j, const std::string &source) {
    ModelConfig c;
    c.embed_dim = required<int64_t>(j, "decoder_embed_dim", source);
    c.value_embed_dim = required<int64_t>(j, "decoder_value_embed_dim", source);
    c.heads = required<int64_t>(j, "decoder_retention_heads", source);
    c.ffn_dim = required<int64_t>(j, "decoder_ffn_embed_dim", source);
    c.layers = required<int64_t>(j, "decoder_layers", source);
    c.vocab_size = required<int64_t>(j, "vocab_size", source);
    c.layernorm_eps = field<double>(j, "layernorm_eps", 1e-6, source);
    std::string act = field<std::string>(j, "activation_fn", "gelu", source);
    if (act == "swish") {
        c.activation = Activation::swish;
    } else if (act == "gelu") {
        c.activation = Activation::gelu;
    } else {
        throw Error(fmt::format("{}: activation_fn: expected \"swish\" or \"gelu\", got \"{}\"", source, act));
    }
    c.scale_embedding = !field<bool>(j, "no_scale_embedding", true, source);
    c.layernorm_embedding = field<bool>(j, "layernorm_embedding", false, source);
    c.tied_embeddings = field<bool>(j, "share_decoder_input_output_embed", false, source);
    c.deepnorm = field<bool>(j, "deepnorm", false, source);
    refuse_unless(j, "decoder_normalize_before", true, source, "post-norm blocks are not implemented");
    refuse_unless(j, "use_xmoe", false, source, "mixture-of-experts layers are not implemented");
    refuse_unless<int64_t>(j, "moe_freq", 0, source, "mixture-of-experts layers are not implemented");
    refuse_unless(j, "multiway", false, source, "multiway networks are not implemented");
    refuse_unless(j, "no_output_layer", false, source, "the model computes logits");
    return c;
}

ModelConfig ModelConfig::load(const std::string &path) {
    // Real configs are about a kilobyte; 1 MiB bounds what a hostile one can make us read.
    return from_json_text(read_text_file(path, "model config", uint64_t(1) << 20), path);
}

std::string ModelConfig::to_json_text() const {
    if (dialect != Dialect::torchscale) {
        throw Error(fmt::format("ModelConfig::to_json_text: writes torchscale's fields only, not a {} config",
                                dialect_name(dialect)));
    }
    json j{{"decoder_embed_dim", embed_dim},
           {"decoder_value_embed_dim", value_embed_dim},
           {"decoder_retention_heads", heads},
           {"decoder_ffn_embed_dim", ffn_dim},
           {"decoder_layers", layers},
           {"vocab_size", vocab_size},
           {"layernorm_eps", layernorm_eps},
           {"activation_fn", activation_name(activation)},
           {"no_scale_embedding", !scale_embedding},
           {"layernorm_embedding", layernorm_embedding},
           {"share_decoder_input_output_embed", tied_embeddings},
           {"deepnorm", deepnorm}};
    return j.dump(2);
}

}  // namespace retnet
