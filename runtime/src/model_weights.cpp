// Building a Model's weights: the checkpoint's names and shapes (torchscale's state dict), loading
// them from a .safetensors file, packing them for the kernels on a device, or making random ones.
#include <filesystem>
#include <random>
#include <set>

#include <fmt/format.h>

#include "checkpoint_dialects.h"
#include "checkpoint_files.h"
#include "retnet/checked.h"
#include "retnet/error.h"
#include "retnet/model.h"
#include "retnet/safetensors.h"

namespace retnet {

namespace {

std::string layer_name(int64_t layer, const char *rest) {
    return fmt::format("layers.{}.{}", layer, rest);
}

// Buffers torchscale may save beside the weights; the runtime recomputes them.
bool is_recomputed_buffer(const std::string &name) {
    return name == "retnet_rel_pos.angle" || name == "retnet_rel_pos.decay";
}

}  // namespace

std::vector<std::pair<std::string, Shape>> Model::checkpoint_layout(const ModelConfig &c) {
    const int64_t d = c.embed_dim, hk = c.key_width(), hv = c.value_embed_dim, f = c.ffn_dim;
    std::vector<std::pair<std::string, Shape>> layout{{"embed_tokens.weight", {c.vocab_size, d}}};
    if (c.layernorm_embedding) layout.push_back({"layernorm_embedding.weight", {d}});
    for (int64_t l = 0; l < c.layers; l++) {
        layout.push_back({layer_name(l, "retention_layer_norm.weight"), {d}});
        layout.push_back({layer_name(l, "retention.q_proj.weight"), {hk, d}});
        layout.push_back({layer_name(l, "retention.k_proj.weight"), {hk, d}});
        layout.push_back({layer_name(l, "retention.v_proj.weight"), {hv, d}});
        layout.push_back({layer_name(l, "retention.g_proj.weight"), {hv, d}});
        layout.push_back({layer_name(l, "retention.out_proj.weight"), {d, hv}});
        // Not torchscale's: fla's per-head output norm weight (docs/SEMANTICS.md §2.6).
        if (c.group_norm_weight) layout.push_back({layer_name(l, "retention.group_norm.weight"), {c.value_dim()}});
        layout.push_back({layer_name(l, "final_layer_norm.weight"), {d}});
        layout.push_back({layer_name(l, "ffn.fc1.weight"), {f, d}});
        layout.push_back({layer_name(l, "ffn.gate.weight"), {f, d}});
        layout.push_back({layer_name(l, "ffn.fc2.weight"), {d, f}});
    }
    layout.push_back({"layer_norm.weight", {d}});
    if (!c.tied_embeddings) layout.push_back({"output_projection.weight", {c.vocab_size, d}});
    return layout;
}

Model Model::from_tensors(const ModelConfig &config, const std::map<std::string, Tensor> &tensors, Device device,
                          const std::string &source, WeightStorage storage) {
    CheckpointSource checkpoint;
    checkpoint.description = source;
    for (const auto &[name, t] : tensors) checkpoint.shapes.emplace(name, t.shape());
    checkpoint.read = [&tensors](const std::string &name) {
        const Tensor &t = tensors.at(name);
        return t.to(Device::cpu);
    };
    return from_checkpoint(config, checkpoint, device, storage);
}

Model Model::from_checkpoint(const ModelConfig &config, const CheckpointSource &checkpoint, Device device,
                             WeightStorage storage) {
    const std::string &source = checkpoint.description;
    config.validate(source);
    // At least 1 byte a weight (int8), 2 for 16-bit floats, 4 when converted to float32; each
    // tensor is checked again as it is allocated.
    const uint64_t bytes_per_weight = storage == WeightStorage::f32 ? 4 : storage == WeightStorage::int8 ? 1
                                                                                                         : 2;
    require_fits_in_memory(checked_mul(uint64_t(config.parameter_count()), bytes_per_weight, source),
                           fmt::format("{}: the model's weights", source));
    const auto layout = checkpoint_layout(config);
    // Every name and shape is accounted for before anything is read: all missing and unexpected
    // names at once, then the first wrong shape.
    std::set<std::string> expected;
    std::vector<std::string> missing, unexpected;
    for (const auto &[name, shape] : layout) {
        expected.insert(name);
        if (!checkpoint.shapes.count(name)) missing.push_back(name);
    }
    for (const auto &[name, shape] : checkpoint.shapes) {
        const bool tied_copy = config.tied_embeddings && name == "output_projection.weight";
        if (!expected.count(name) && !is_recomputed_buffer(name) && !tied_copy) unexpected.push_back(name);
    }
    if (!missing.empty()) {
        throw Error(fmt::format("{}: missing {} tensor(s) the config needs: {}", source, missing.size(), fmt::join(missing, ", ")));
    }
    if (!unexpected.empty()) {
        throw Error(fmt::format("{}: {} unexpected tensor(s) for this config (wrong config, or an unsupported option?): {}",
                                source, unexpected.size(), fmt::join(unexpected, ", ")));
    }
    for (const auto &[name, shape] : layout) {
        const Shape &got = checkpoint.shapes.at(name);
        if (got != shape) {
            throw Error(fmt::format("{}: tensor '{}': expected shape {}, got {}", source, name, shape_string(shape),
                                    shape_string(got)));
        }
    }

    // One tensor at a time: read as stored (a view of the mapped file), packed for the kernels in
    // the storage asked for, released (its pages dropped). Norms and the embedding table are float32.
    // A weight the conversion refuses (not finite, beyond float16) is named with the checkpoint.
    auto in_checkpoint = [&](auto &&convert) {
        try {
            return convert();
        } catch (const Error &e) {
            throw Error(fmt::format("{}: {}", source, e.what()));
        }
    };
    auto vec = [&](const std::string &name) {
        return in_checkpoint([&] { return to_float32(checkpoint.read(name), name).to(device); });
    };
    auto lin = [&](const std::string &name) {
        return in_checkpoint([&] { return LinearWeight::pack(checkpoint.read(name), device, name, storage); });
    };
    Model m;
    m.config_ = config;
    m.device_ = device;
    ModelWeights &w = m.weights_;
    // The largest tensors first (the embedding and the output projection: each hundreds of MB at
    // real sizes), while little else is held: the peak is then the kept weights plus one layer
    // tensor's conversion, not plus an embedding's.
    Tensor embed = checkpoint.read("embed_tokens.weight");
    w.embed_tokens = in_checkpoint([&] { return to_float32(embed, "embed_tokens.weight").to(device); });
    w.output = config.tied_embeddings
                   ? in_checkpoint([&] {
                         return LinearWeight::pack(embed, device, "embed_tokens.weight (tied output projection)", storage);
                     })
                   : lin("output_projection.weight");
    embed = Tensor();
    if (config.layernorm_embedding) w.embedding_norm = vec("layernorm_embedding.weight");
    for (int64_t l = 0; l < config.layers; l++) {
        LayerWeights lw;
        lw.retention_norm = vec(layer_name(l, "retention_layer_norm.weight"));
        lw.q = lin(layer_name(l, "retention.q_proj.weight"));
        lw.k = lin(layer_name(l, "retention.k_proj.weight"));
        lw.v = lin(layer_name(l, "retention.v_proj.weight"));
        lw.g = lin(layer_name(l, "retention.g_proj.weight"));
        lw.out = lin(layer_name(l, "retention.out_proj.weight"));
        lw.group_norm = config.group_norm_weight ? vec(layer_name(l, "retention.group_norm.weight"))
                                                 : Tensor::full({config.value_dim()}, 1.0f, device);
        lw.ffn_norm = vec(layer_name(l, "final_layer_norm.weight"));
        lw.fc1 = lin(layer_name(l, "ffn.fc1.weight"));
        lw.gate = lin(layer_name(l, "ffn.gate.weight"));
        lw.fc2 = lin(layer_name(l, "ffn.fc2.weight"));
        w.layers.push_back(std::move(lw));
    }
    w.final_norm = vec("layer_norm.weight");
    return m;
}

Model Model::load(const std::string &dir, Device device, WeightStorage storage) {
    namespace fs = std::filesystem;
    if (!fs::is_directory(dir)) throw Error(fmt::format("{}: model directory not found", dir));
    ModelConfig config = ModelConfig::load((fs::path(dir) / "config.json").string());
    const detail::CheckpointFiles files = detail::CheckpointFiles::open(dir);
    const CheckpointSource checkpoint = detail::canonical_checkpoint(config, files);
    return from_checkpoint(config, checkpoint, device, storage);
}

Model Model::random(const ModelConfig &config, uint64_t seed, Device device, WeightStorage storage) {
    config.validate("Model::random");
    require_fits_in_memory(checked_mul(uint64_t(config.parameter_count()), uint64_t(2 * sizeof(float)), "Model::random"),
                           "Model::random: the random weights and their packed copy");
    std::mt19937_64 rng(seed);
    std::map<std::string, Tensor> tensors;
    for (const auto &[name, shape] : checkpoint_layout(config)) {
        Tensor t = Tensor::empty(shape);
        // Linear weights ~ U(-1/sqrt(in), 1/sqrt(in)) (torch's default scale), norm weights near 1.
        const bool norm = shape.size() == 1;
        const double bound = norm ? 0.1 : 1.0 / std::sqrt(static_cast<double>(shape.back()));
        std::uniform_real_distribution<float> dist(static_cast<float>(-bound), static_cast<float>(bound));
        for (int64_t i = 0; i < t.numel(); i++) t.data()[i] = (norm ? 1.0f : 0.0f) + dist(rng);
        tensors.emplace(name, t);
    }
    return from_tensors(config, tensors, device, fmt::format("Model::random(seed {})", seed), storage);
}

}  // namespace retnet
