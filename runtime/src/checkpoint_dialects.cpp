#include "checkpoint_dialects.h"

#include <cmath>
#include <cstring>
#include <memory>
#include <set>

#include <fmt/format.h>

#include "retnet/error.h"

namespace retnet::detail {

namespace {

// Each tensor of the runtime's layout: its shape and how to make it from the checkpoint's tensors.
struct Recipe {
    Shape shape;
    std::function<Tensor()> make;
};
using Recipes = std::map<std::string, Recipe>;

std::string layer(int64_t l, const char *rest) { return fmt::format("layers.{}.{}", l, rest); }

// The checkpoint must hold exactly `expected` (name -> shape), apart from `optional` names; every
// missing, unexpected and misshapen tensor is named, in the checkpoint's own names.
void check_layout(const CheckpointFiles &files, const std::map<std::string, Shape> &expected,
                  const std::set<std::string> &optional, const ModelConfig &config) {
    std::vector<std::string> missing, unexpected;
    for (const auto &[name, shape] : expected) {
        if (!files.contains(name)) missing.push_back(name);
    }
    for (const auto &[name, shape] : files.shapes()) {
        if (!expected.count(name) && !optional.count(name)) unexpected.push_back(name);
    }
    const std::string &source = files.description();
    if (!missing.empty()) {
        throw Error(fmt::format("{}: missing {} tensor(s) the {} config needs: {}", source, missing.size(),
                                dialect_name(config.dialect), fmt::join(missing, ", ")));
    }
    if (!unexpected.empty()) {
        throw Error(fmt::format("{}: {} unexpected tensor(s) for this {} config (wrong config, or an unsupported "
                                "option?): {}",
                                source, unexpected.size(), dialect_name(config.dialect),
                                fmt::join(unexpected, ", ")));
    }
    for (const auto &[name, shape] : expected) {
        if (files.shapes().at(name) != shape) {
            throw Error(fmt::format("{}: tensor '{}': expected shape {}, got {}", source, name, shape_string(shape),
                                    shape_string(files.shapes().at(name))));
        }
    }
}

CheckpointSource source_of(const CheckpointFiles &files, Recipes recipes) {
    auto shared = std::make_shared<Recipes>(std::move(recipes));
    CheckpointSource source;
    source.description = files.description();
    for (const auto &[name, recipe] : *shared) source.shapes.emplace(name, recipe.shape);
    source.read = [shared](const std::string &name) { return shared->at(name).make(); };
    return source;
}

// ---- syncdoth ------------------------------------------------------------------------------

// The stored buffer next to what the config implies: equal up to bf16 rounding (a checkpoint
// saved in bf16 stores them rounded), or the config and the weights disagree.
void check_buffer(const std::string &source, const std::string &name, const std::vector<double> &stored,
                  const std::vector<double> &implied, const char *hint) {
    for (size_t i = 0; i < stored.size(); i++) {
        if (!(std::abs(stored[i] - implied[i]) <= 1e-2 * std::abs(implied[i]) + 1e-7)) {
            throw Error(fmt::format("{}: tensor '{}': element {} is {}, but the config implies {} ({})", source, name, i,
                                    stored[i], implied[i], hint));
        }
    }
}

// A buffer the checkpoint stores, after checking its shape.
Tensor read_buffer(const CheckpointFiles &files, const std::string &name, int64_t length) {
    if (files.shapes().at(name) != Shape{length}) {
        throw Error(fmt::format("{}: tensor '{}': expected shape [{}], got {}", files.description(), name, length,
                                shape_string(files.shapes().at(name))));
    }
    return files.read(name);
}

CheckpointSource syncdoth_checkpoint(ModelConfig &config, const CheckpointFiles &files) {
    std::map<std::string, Shape> expected;
    std::map<std::string, std::string> stored_name;  // runtime name -> checkpoint name
    for (const auto &[name, shape] : Model::checkpoint_layout(config)) {
        const std::string stored = name == "output_projection.weight" ? "lm_head.weight" : "model." + name;
        expected.emplace(stored, shape);
        stored_name.emplace(name, stored);
    }
    const std::string angle = "model.retnet_rel_pos.angle", decay = "model.retnet_rel_pos.decay";
    const int64_t K = config.key_dim(), H = config.heads;
    std::set<std::string> optional{angle, decay};
    if (config.tied_embeddings) optional.insert("lm_head.weight");  // a tied copy may be saved
    check_layout(files, expected, optional, config);
    const std::string &source = files.description();
    if (files.contains(angle)) {
        const Tensor t = read_buffer(files, angle, K);
        std::vector<double> stored, implied;
        const std::vector<float> rule = config.rotation_angles();
        for (int64_t i = 0; i < K / 2; i++) {
            if (t.data()[2 * i] != t.data()[2 * i + 1]) {
                throw Error(fmt::format("{}: tensor '{}': expected each angle twice (interleaved pairs), got {} and {} at {}",
                                        source, angle, t.data()[2 * i], t.data()[2 * i + 1], 2 * i));
            }
            stored.push_back(t.data()[2 * i]);
            implied.push_back(rule[static_cast<size_t>(i)]);
        }
        check_buffer(source, angle, stored, implied, "decoder_embed_dim / decoder_retention_heads");
        config.angles.assign(stored.begin(), stored.end());
    }
    if (files.contains(decay)) {
        const Tensor t = read_buffer(files, decay, H);
        std::vector<double> stored, implied;
        for (double gamma : config.decays()) implied.push_back(std::log(gamma));
        for (int64_t h = 0; h < H; h++) stored.push_back(t.data()[h]);
        check_buffer(source, decay, stored, implied, "log gamma_h: use_lm_decay?");
        config.decay.clear();
        for (double log_gamma : stored) config.decay.push_back(std::exp(log_gamma));
    }
    Recipes recipes;
    for (const auto &[name, stored] : stored_name) {
        recipes.emplace(name, Recipe{expected.at(stored), [&files, stored = stored] { return files.read_stored(stored); }});
    }
    return source_of(files, std::move(recipes));
}

// ---- fla -----------------------------------------------------------------------------------

// The permutations below move whole rows, so they work on any dtype (a bfloat16 checkpoint's
// weights stay bfloat16): rows are copied as bytes.
const uint8_t *row_bytes(const Tensor &w, int64_t row) {
    return static_cast<const uint8_t *>(w.bytes()) + row * w.dim(1) * static_cast<int64_t>(dtype_size(w.dtype()));
}

void copy_rows(const Tensor &from, int64_t first, int64_t count, Tensor &to, int64_t at) {
    const size_t row = static_cast<size_t>(from.dim(1)) * dtype_size(from.dtype());
    std::memcpy(static_cast<uint8_t *>(to.bytes()) + static_cast<size_t>(at) * row, row_bytes(from, first),
                static_cast<size_t>(count) * row);
}

// Rows of `w` [heads * K, in], per head, from fla's half-split rotation pairs (i, i + K/2) to
// interleaved ones (2i, 2i + 1).
Tensor interleave_rotation_pairs(const Tensor &w, int64_t heads, int64_t K) {
    Tensor out = Tensor::empty(w.shape(), Device::cpu, w.dtype());
    for (int64_t h = 0; h < heads; h++) {
        for (int64_t i = 0; i < K / 2; i++) {
            copy_rows(w, h * K + i, 1, out, h * K + 2 * i);
            copy_rows(w, h * K + K / 2 + i, 1, out, h * K + 2 * i + 1);
        }
    }
    return out;
}

// Rows of `w` [kv_heads * rows, in] with each head repeated for `group` query heads in a row
// (fla's repeat '... h d -> ... (h g) d': query head j reads kv head j / group).
Tensor repeat_heads(const Tensor &w, int64_t kv_heads, int64_t rows, int64_t group) {
    if (group == 1) return w;
    Tensor out = Tensor::empty({kv_heads * group * rows, w.dim(1)}, Device::cpu, w.dtype());
    for (int64_t j = 0; j < kv_heads * group; j++) copy_rows(w, (j / group) * rows, rows, out, j * rows);
    return out;
}

CheckpointSource fla_checkpoint(ModelConfig &config, const CheckpointFiles &files) {
    const int64_t D = config.embed_dim, H = config.heads, K = config.key_dim(), V = config.value_dim();
    const int64_t Hkv = config.kv_heads ? config.kv_heads : H, I = config.ffn_dim, vocab = config.vocab_size;
    const bool fused_mlp = !files.contains("model.layers.0.mlp.up_proj.weight");  // fla's 2024 layout
    const std::string norm_name = config.fused_group_norm_name ? "attn.g_norm_swish_gate.weight" : "attn.g_norm.weight";
    std::map<std::string, Shape> expected{{"model.embeddings.weight", {vocab, D}}, {"model.norm.weight", {D}}};
    if (!config.tied_embeddings) expected.emplace("lm_head.weight", Shape{vocab, D});
    auto stored = [](int64_t l, const std::string &rest) { return fmt::format("model.layers.{}.{}", l, rest); };
    for (int64_t l = 0; l < config.layers; l++) {
        expected.emplace(stored(l, "attn_norm.weight"), Shape{D});
        expected.emplace(stored(l, "attn.q_proj.weight"), Shape{H * K, D});
        expected.emplace(stored(l, "attn.k_proj.weight"), Shape{Hkv * K, D});
        expected.emplace(stored(l, "attn.v_proj.weight"), Shape{Hkv * V, D});
        expected.emplace(stored(l, "attn.g_proj.weight"), Shape{H * V, D});
        expected.emplace(stored(l, "attn.o_proj.weight"), Shape{D, H * V});
        if (config.group_norm_weight) expected.emplace(stored(l, norm_name), Shape{V});
        expected.emplace(stored(l, "mlp_norm.weight"), Shape{D});
        if (fused_mlp) {
            expected.emplace(stored(l, "mlp.gate_proj.weight"), Shape{2 * I, D});
        } else {
            expected.emplace(stored(l, "mlp.gate_proj.weight"), Shape{I, D});
            expected.emplace(stored(l, "mlp.up_proj.weight"), Shape{I, D});
        }
        expected.emplace(stored(l, "mlp.down_proj.weight"), Shape{D, I});
    }
    std::set<std::string> optional;
    if (config.tied_embeddings) optional.insert("lm_head.weight");
    check_layout(files, expected, optional, config);

    const CheckpointFiles *f = &files;
    auto plain = [f](std::string name) { return [f, name] { return f->read_stored(name); }; };
    Recipes r;
    r.emplace("embed_tokens.weight", Recipe{{vocab, D}, plain("model.embeddings.weight")});
    r.emplace("layer_norm.weight", Recipe{{D}, plain("model.norm.weight")});
    if (!config.tied_embeddings) r.emplace("output_projection.weight", Recipe{{vocab, D}, plain("lm_head.weight")});
    for (int64_t l = 0; l < config.layers; l++) {
        r.emplace(layer(l, "retention_layer_norm.weight"), Recipe{{D}, plain(stored(l, "attn_norm.weight"))});
        r.emplace(layer(l, "retention.q_proj.weight"), Recipe{{H * K, D}, [f, name = stored(l, "attn.q_proj.weight"), H, K] {
                                                                  return interleave_rotation_pairs(f->read_stored(name), H, K);
                                                              }});
        r.emplace(layer(l, "retention.k_proj.weight"),
                  Recipe{{H * K, D}, [f, name = stored(l, "attn.k_proj.weight"), Hkv, K, H] {
                             return repeat_heads(interleave_rotation_pairs(f->read_stored(name), Hkv, K), Hkv, K, H / Hkv);
                         }});
        r.emplace(layer(l, "retention.v_proj.weight"), Recipe{{H * V, D}, [f, name = stored(l, "attn.v_proj.weight"), Hkv, V, H] {
                                                                  return repeat_heads(f->read_stored(name), Hkv, V, H / Hkv);
                                                              }});
        r.emplace(layer(l, "retention.g_proj.weight"), Recipe{{H * V, D}, plain(stored(l, "attn.g_proj.weight"))});
        r.emplace(layer(l, "retention.out_proj.weight"), Recipe{{D, H * V}, plain(stored(l, "attn.o_proj.weight"))});
        if (config.group_norm_weight) {
            r.emplace(layer(l, "retention.group_norm.weight"), Recipe{{V}, plain(stored(l, norm_name))});
        }
        r.emplace(layer(l, "final_layer_norm.weight"), Recipe{{D}, plain(stored(l, "mlp_norm.weight"))});
        const std::string gate = stored(l, "mlp.gate_proj.weight");
        if (fused_mlp) {  // rows [0, I): the activated branch; [I, 2I): the linear one
            r.emplace(layer(l, "ffn.fc1.weight"), Recipe{{I, D}, [f, gate, I] { return f->read_stored(gate).rows(0, I); }});
            r.emplace(layer(l, "ffn.gate.weight"), Recipe{{I, D}, [f, gate, I] { return f->read_stored(gate).rows(I, I); }});
        } else {
            r.emplace(layer(l, "ffn.fc1.weight"), Recipe{{I, D}, plain(gate)});
            r.emplace(layer(l, "ffn.gate.weight"), Recipe{{I, D}, plain(stored(l, "mlp.up_proj.weight"))});
        }
        r.emplace(layer(l, "ffn.fc2.weight"), Recipe{{D, I}, plain(stored(l, "mlp.down_proj.weight"))});
    }
    return source_of(files, std::move(r));
}

}  // namespace

CheckpointSource canonical_checkpoint(ModelConfig &config, const CheckpointFiles &files) {
    switch (config.dialect) {
    case Dialect::syncdoth:
        return syncdoth_checkpoint(config, files);
    case Dialect::fla:
        return fla_checkpoint(config, files);
    case Dialect::torchscale:
        break;
    }
    CheckpointSource source;
    source.description = files.description();
    source.shapes = files.shapes();
    source.read = [&files](const std::string &name) { return files.read_stored(name); };
    return source;
}

}  // namespace retnet::detail
