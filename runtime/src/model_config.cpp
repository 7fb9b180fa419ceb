#include "retnet/model_config.h"

#include <cmath>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "json_brief.h"
#include "retnet/checked.h"
#include "retnet/files.h"
#include "retnet/error.h"

namespace retnet {

namespace {

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

template<typename T>
T field(const json &j, const char *name, T fallback, const std::string &source) {
    auto it = j.find(name);
    if (it == j.end() || it->is_null()) return fallback;
    try {
        if constexpr (std::is_same_v<T, bool>) {
            if (!it->is_boolean()) throw Error("");
        } else if constexpr (std::is_integral_v<T>) {
            if (!it->is_number_integer()) throw Error("");
        } else if constexpr (std::is_floating_point_v<T>) {
            if (!it->is_number()) throw Error("");
        } else {
            if (!it->is_string()) throw Error("");
        }
        return it->get<T>();
    } catch (const std::exception &) {
        const char *expected = std::is_same_v<T, bool> ? "true or false"
                               : std::is_integral_v<T> ? "an integer"
                               : std::is_floating_point_v<T> ? "a number"
                                                           : "a string";
        throw Error(fmt::format("{}: {}: expected {}, got {}", source, name, expected, detail::brief(*it)));
    }
}

template<typename T>
T required(const json &j, const char *name, const std::string &source) {
    if (!j.contains(name) || j[name].is_null()) throw Error(fmt::format("{}: {}: missing (required)", source, name));
    return field<T>(j, name, T{}, source);
}

// A field whose only supported value is `supported`: anything else is refused by name.
template<typename T>
void refuse_unless(const json &j, const char *name, T supported, const std::string &source, const char *why) {
    T value = field<T>(j, name, supported, source);
    if (value != supported) {
        throw Error(fmt::format("{}: {}: {} is not supported ({}); expected {}", source, name, json(value).dump(), why,
                                json(supported).dump()));
    }
}

}  // namespace

double ModelConfig::residual_alpha() const {
    return deepnorm ? std::pow(2.0 * static_cast<double>(layers), 0.25) : 1.0;
}

double ModelConfig::embed_scale() const {
    return scale_embedding ? std::sqrt(static_cast<double>(embed_dim)) : 1.0;
}

int64_t ModelConfig::parameter_count() const {
    // Checked: callers may ask before validate() (bench-model prints it), with any integers.
    const int64_t d = embed_dim, hv = value_embed_dim;
    const std::string what = "the model's parameter count";
    auto mul = [&](int64_t a, int64_t b) { return checked_mul(a, b, what); };
    auto add = [&](int64_t a, int64_t b) { return checked_add(a, b, what); };
    const int64_t per_layer = add(add(add(mul(2, mul(d, d)), mul(3, mul(d, hv))), mul(3, mul(d, ffn_dim))), mul(2, d));
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
    if (embed_dim % heads != 0) {
        throw Error(fmt::format("{}: decoder_embed_dim: {} does not divide by decoder_retention_heads = {} (the key "
                                "dimension per head must be whole)", source, embed_dim, heads));
    }
    if (value_embed_dim % heads != 0) {
        throw Error(fmt::format("{}: decoder_value_embed_dim: {} does not divide by decoder_retention_heads = {} (the "
                                "value dimension per head must be whole)", source, value_embed_dim, heads));
    }
    if (key_dim() % 2 != 0 || key_dim() > kMaxKeyDim) {
        throw Error(fmt::format("{}: decoder_embed_dim / decoder_retention_heads: expected an even key dimension of at "
                                "most {} (the rotation pairs features), got {}", source, kMaxKeyDim, key_dim()));
    }
    if (value_dim() > kMaxValueDim) {
        throw Error(fmt::format("{}: decoder_value_embed_dim / decoder_retention_heads: expected at most {}, got {}",
                                source, kMaxValueDim, value_dim()));
    }
    if (vocab_size >= kMaxVocab) {
        throw Error(fmt::format("{}: vocab_size: expected less than 2^24, got {}", source, vocab_size));
    }
    if (!(layernorm_eps >= 0 && layernorm_eps <= kMaxEps)) {  // NaN fails both
        throw Error(fmt::format("{}: layernorm_eps: expected a number in [0, {}] (real models use 1e-5 or 1e-6), got {}",
                                source, kMaxEps, layernorm_eps));
    }
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
    c.validate(source);
    return c;
}

ModelConfig ModelConfig::load(const std::string &path) {
    // Real configs are about a kilobyte; 1 MiB bounds what a hostile one can make us read.
    return from_json_text(read_text_file(path, "model config", uint64_t(1) << 20), path);
}

std::string ModelConfig::to_json_text() const {
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
