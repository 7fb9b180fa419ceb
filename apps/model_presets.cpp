#include "model_presets.h"

#include <algorithm>

#include <fmt/format.h>

#include "retnet/error.h"

namespace retnet::apps {

const std::vector<Preset> &presets() {
    static const std::vector<Preset> all{
        {"fla-1.3b", "fla-hub/retnet-1.3B-100B", 24, 2048, 8, 2048, 4096, 2816, 32000},
        {"fla-2.7b", "fla-hub/retnet-2.7B-100B (hidden 2560, 32 layers, 10 heads, fla's FFN rule)", 32, 2560, 10, 2560,
         5120, 3584, 32000},
        {"sdprompt-300m", "isek-ai/SDPrompt-RetNet-300M", 12, 1280, 8, 1280, 2560, 2560, 33620},
        {"spiral-3b", "Spiral-AI/Spiral-RetNet-3b-base", 32, 2560, 10, 2560, 4280, 4280, 65024},
        {"paper-1.3b", "the paper's 1.3B (head dimension 256, V and FFN 2d)", 24, 2048, 8, 2048, 4096, 4096, 32000},
        {"paper-2.7b", "the paper's 2.7B", 32, 2560, 10, 2560, 5120, 5120, 32000},
        {"paper-6.7b", "the paper's 6.7B", 32, 4096, 16, 4096, 8192, 8192, 32000},
        {"small", "d 768, 12 layers, 3 heads, V and FFN 2d", 12, 768, 3, 768, 1536, 1536, 32000},
    };
    return all;
}

ModelConfig preset_config(const std::string &name) {
    for (const Preset &p : presets()) {
        if (name != p.name) continue;
        ModelConfig c;
        c.layers = p.layers, c.embed_dim = p.d, c.heads = p.heads, c.key_embed_dim = p.key_width;
        c.value_embed_dim = p.value_width, c.ffn_dim = p.ffn, c.vocab_size = p.vocab;
        c.activation = Activation::swish;
        return c;
    }
    std::vector<std::string> names;
    for (const Preset &p : presets()) names.push_back(p.name);
    throw Error(fmt::format("--preset: expected one of {}, got '{}'", fmt::join(names, ", "), name));
}

TransformerConfig transformer_like(const ModelConfig &r) {
    TransformerConfig t;
    t.layers = r.layers, t.embed_dim = r.embed_dim, t.vocab_size = r.vocab_size;
    t.heads = std::max<int64_t>(1, r.embed_dim / 128);
    while (r.embed_dim % t.heads != 0 || (r.embed_dim / t.heads) % 2 != 0) t.heads--;
    // Per layer a RetNet has d (2 K + 3 V) + 3 d FFN linear weights, a Transformer 4 d^2 + 3 d FFN'.
    const int64_t d = r.embed_dim;
    const int64_t ffn = r.ffn_dim + (2 * r.key_embed_dim + 3 * r.value_embed_dim - 4 * d) / 3;
    t.ffn_dim = std::max<int64_t>(64, (ffn + 32) / 64 * 64);
    return t;
}

}  // namespace retnet::apps
