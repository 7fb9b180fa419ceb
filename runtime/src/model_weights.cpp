// Building a Model's weights: the checkpoint's names and shapes (torchscale's state dict), loading
// them from a .safetensors file, packing them for the kernels on a device, or making random ones.
#include <filesystem>
#include <random>
#include <set>

#include <fmt/format.h>

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
    const int64_t d = c.embed_dim, hv = c.value_embed_dim, f = c.ffn_dim;
    std::vector<std::pair<std::string, Shape>> layout{{"embed_tokens.weight", {c.vocab_size, d}}};
    if (c.layernorm_embedding) layout.push_back({"layernorm_embedding.weight", {d}});
    for (int64_t l = 0; l < c.layers; l++) {
        layout.push_back({layer_name(l, "retention_layer_norm.weight"), {d}});
        layout.push_back({layer_name(l, "retention.q_proj.weight"), {d, d}});
        layout.push_back({layer_name(l, "retention.k_proj.weight"), {d, d}});
        layout.push_back({layer_name(l, "retention.v_proj.weight"), {hv, d}});
        layout.push_back({layer_name(l, "retention.g_proj.weight"), {hv, d}});
        layout.push_back({layer_name(l, "retention.out_proj.weight"), {d, hv}});
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
                          const std::string &source) {
    config.validate(source);
    const auto layout = checkpoint_layout(config);
    // Every name is accounted for before anything is packed: all missing and unexpected names at once.
    std::set<std::string> expected;
    std::vector<std::string> missing, unexpected;
    for (const auto &[name, shape] : layout) {
        expected.insert(name);
        if (!tensors.count(name)) missing.push_back(name);
    }
    for (const auto &[name, tensor] : tensors) {
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
    auto host = [&](const std::string &name, const Shape &shape) {
        const Tensor &t = tensors.at(name);
        if (t.shape() != shape) {
            throw Error(fmt::format("{}: tensor '{}': expected shape {}, got {}", source, name, shape_string(shape),
                                    shape_string(t.shape())));
        }
        return t.device() == Device::cpu ? t : t.to(Device::cpu);
    };
    for (const auto &[name, shape] : layout) host(name, shape);  // every shape, before any upload

    const int64_t d = config.embed_dim, hv = config.value_embed_dim, f = config.ffn_dim;
    auto vec = [&](const std::string &name) { return host(name, {d}).to(device); };
    auto lin = [&](const std::string &name, int64_t out, int64_t in) {
        return LinearWeight::pack(host(name, {out, in}), device, name);
    };
    Model m;
    m.config_ = config;
    m.device_ = device;
    ModelWeights &w = m.weights_;
    Tensor embed = host("embed_tokens.weight", {config.vocab_size, d});
    w.embed_tokens = embed.to(device);
    if (config.layernorm_embedding) w.embedding_norm = vec("layernorm_embedding.weight");
    for (int64_t l = 0; l < config.layers; l++) {
        LayerWeights lw;
        lw.retention_norm = vec(layer_name(l, "retention_layer_norm.weight"));
        lw.q = lin(layer_name(l, "retention.q_proj.weight"), d, d);
        lw.k = lin(layer_name(l, "retention.k_proj.weight"), d, d);
        lw.v = lin(layer_name(l, "retention.v_proj.weight"), hv, d);
        lw.g = lin(layer_name(l, "retention.g_proj.weight"), hv, d);
        lw.out = lin(layer_name(l, "retention.out_proj.weight"), d, hv);
        lw.ffn_norm = vec(layer_name(l, "final_layer_norm.weight"));
        lw.fc1 = lin(layer_name(l, "ffn.fc1.weight"), f, d);
        lw.gate = lin(layer_name(l, "ffn.gate.weight"), f, d);
        lw.fc2 = lin(layer_name(l, "ffn.fc2.weight"), d, f);
        w.layers.push_back(std::move(lw));
    }
    w.final_norm = vec("layer_norm.weight");
    w.output = config.tied_embeddings ? LinearWeight::pack(embed, device, "embed_tokens.weight (tied output projection)")
                                      : lin("output_projection.weight", config.vocab_size, d);
    return m;
}

Model Model::load(const std::string &dir, Device device) {
    namespace fs = std::filesystem;
    const std::string config_path = (fs::path(dir) / "config.json").string();
    const std::string weights_path = (fs::path(dir) / "model.safetensors").string();
    if (!fs::is_directory(dir)) throw Error(fmt::format("{}: model directory not found", dir));
    ModelConfig config = ModelConfig::load(config_path);
    SafetensorsFile file = SafetensorsFile::open(weights_path);
    std::map<std::string, Tensor> tensors;
    for (const auto &[name, entry] : file.entries()) {
        if (is_recomputed_buffer(name)) continue;
        tensors.emplace(name, file.read(name));
    }
    return from_tensors(config, tensors, device, weights_path);
}

Model Model::random(const ModelConfig &config, uint64_t seed, Device device) {
    config.validate("Model::random");
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
    return from_tensors(config, tensors, device, fmt::format("Model::random(seed {})", seed));
}

}  // namespace retnet
