#include "retnet/transformer.h"

#include <algorithm>
#include <cmath>
#include <random>

#include <fmt/format.h>

#include "retnet/checked.h"
#include "retnet/error.h"

namespace retnet {

int64_t TransformerConfig::parameter_count() const {
    const int64_t d = embed_dim;
    return 2 * vocab_size * d + d + layers * (4 * d * d + 3 * d * ffn_dim + 2 * d);
}

void TransformerConfig::validate(const std::string &source) const {
    for (auto [name, value] : {std::pair{"layers", layers}, {"embed_dim", embed_dim}, {"heads", heads}, {"ffn_dim", ffn_dim}, {"vocab_size", vocab_size}}) {
        if (value < 1 || value > (int64_t(1) << 24)) {
            throw Error(fmt::format("{}: {}: expected 1 to 2^24, got {}", source, name, value));
        }
    }
    if (embed_dim % heads != 0 || head_dim() % 2 != 0) {
        throw Error(fmt::format("{}: heads: expected a divisor of embed_dim {} leaving an even head dimension, got {}",
                                source, embed_dim, heads));
    }
}

int64_t TransformerState::memory_bytes() const {
    int64_t bytes = 0;
    for (const KvCache &c : layers) bytes += c.memory_bytes();
    return bytes;
}

TransformerModel TransformerModel::random(const TransformerConfig &config, uint64_t seed, Device device,
                                          WeightStorage storage) {
    config.validate("TransformerModel::random");
    require_fits_in_memory(checked_mul(uint64_t(config.parameter_count()), uint64_t(sizeof(float)), "TransformerModel"),
                           "TransformerModel::random: its weights");
    std::mt19937_64 rng(seed);
    // Matrices ~ U(-1/sqrt(in), 1/sqrt(in)) (torch's default scale), norm weights near 1: one at a
    // time, packed as they are drawn.
    auto draw = [&](const Shape &shape, bool norm) {
        Tensor t = Tensor::empty(shape);
        const double bound = norm ? 0.1 : 1.0 / std::sqrt(static_cast<double>(shape.back()));
        std::uniform_real_distribution<float> dist(static_cast<float>(-bound), static_cast<float>(bound));
        for (int64_t i = 0; i < t.numel(); i++) t.data()[i] = (norm ? 1.0f : 0.0f) + dist(rng);
        return t;
    };
    const int64_t d = config.embed_dim, f = config.ffn_dim;
    auto matrix = [&](int64_t out, int64_t in, const std::string &name) {
        return LinearWeight::pack(draw({out, in}, false), device, name, storage);
    };
    TransformerModel m;
    m.config_ = config;
    m.device_ = device;
    m.embed_tokens = draw({config.vocab_size, d}, false).to(device);
    for (int64_t l = 0; l < config.layers; l++) {
        const std::string p = fmt::format("layers.{}.", l);
        Layer layer;
        layer.attention_norm = draw({d}, true).to(device);
        layer.q = matrix(d, d, p + "q");
        layer.k = matrix(d, d, p + "k");
        layer.v = matrix(d, d, p + "v");
        layer.out = matrix(d, d, p + "out");
        layer.ffn_norm = draw({d}, true).to(device);
        layer.fc1 = matrix(f, d, p + "fc1");
        layer.gate = matrix(f, d, p + "gate");
        layer.fc2 = matrix(d, f, p + "fc2");
        m.layers_.push_back(std::move(layer));
    }
    m.final_norm = draw({d}, true).to(device);
    // Llama's rotary angles theta_i = 10000^(-2i / D), on feature pairs (2i, 2i + 1).
    const int64_t D = config.head_dim();
    for (int64_t i = 0; i < D / 2; i++) m.angles_.push_back(static_cast<float>(std::pow(10000.0, -2.0 * double(i) / double(D))));
    m.output_ = matrix(config.vocab_size, d, "output");
    return m;
}

int64_t TransformerModel::weight_bytes() const {
    int64_t bytes = embed_tokens.byte_size() + final_norm.byte_size() + output_.byte_size();
    for (const Layer &l : layers_) {
        bytes += l.attention_norm.byte_size() + l.ffn_norm.byte_size();
        for (const LinearWeight *w : {&l.q, &l.k, &l.v, &l.out, &l.fc1, &l.gate, &l.fc2}) bytes += w->byte_size();
    }
    return bytes;
}

TransformerState TransformerModel::new_state(int64_t batch, int64_t capacity, CacheStorage storage) const {
    // On the host, every layer's cache is checked against the free memory before the first is made:
    // layer by layer, a state that does not fit would fill the memory before the last one was
    // refused. (A GPU's caches pass through the host one at a time, which KvCache::empty checks.)
    if (device_ == Device::cpu) {
        const uint64_t layer_bytes = KvCache::bytes_for(batch, config_.heads, config_.head_dim(), capacity, storage);
        const std::string what = fmt::format("KV caches of {} layers for {} sequences x {} positions ({})",
                                             config_.layers, batch, capacity, cache_storage_name(storage));
        require_available_memory(checked_mul(layer_bytes, uint64_t(config_.layers), what), what);
    }
    TransformerState state;
    for (int64_t l = 0; l < config_.layers; l++) {
        state.layers.push_back(KvCache::empty(batch, config_.heads, config_.head_dim(), capacity, device_, storage));
    }
    state.lengths.assign(static_cast<size_t>(batch), 0);
    return state;
}

void TransformerModel::set_length(TransformerState &state, int64_t length) const {
    if (state.layers.empty() || length < 0 || length > state.layers[0].capacity()) {
        throw Error(fmt::format("TransformerModel::set_length: length: expected 0 to the caches' capacity, got {}", length));
    }
    std::fill(state.lengths.begin(), state.lengths.end(), length);
}

Tensor TransformerModel::forward(const std::vector<int32_t> &tokens, int64_t batch, int64_t seq_len,
                                 TransformerState &state) const {
    const TransformerConfig &c = config_;
    const int64_t B = batch, T = seq_len, M = B * T, d = c.embed_dim, H = c.heads, D = c.head_dim();
    const char *fn = "TransformerModel::forward";
    if (B < 1 || T < 1 || static_cast<int64_t>(tokens.size()) != B * T) {
        throw Error(fmt::format("{}: tokens: expected {} x {} ids, got {}", fn, B, T, tokens.size()));
    }
    if (static_cast<int64_t>(state.lengths.size()) != B || static_cast<int64_t>(state.layers.size()) != c.layers) {
        throw Error(fmt::format("{}: state: expected one for {} sequences and {} layers, got {} and {}", fn, B, c.layers,
                                state.lengths.size(), state.layers.size()));
    }
    for (size_t b = 0; b < tokens.size(); b++) {
        if (tokens[b] < 0 || tokens[b] >= c.vocab_size) {
            throw Error(fmt::format("{}: tokens: id {} is outside the vocabulary [0, {})", fn, tokens[b], c.vocab_size));
        }
    }
    const int64_t capacity = state.layers[0].capacity();
    for (int64_t length : state.lengths) {
        if (length + T > capacity) {
            throw Error(fmt::format("{}: the caches hold {} positions; {} + {} tokens do not fit", fn, capacity, length, T));
        }
    }
    const Device dev = device_;
    const float eps = static_cast<float>(c.norm_eps);
    Tensor ids = Tensor::empty({M}, Device::cpu, DType::i32);
    std::copy(tokens.begin(), tokens.end(), ids.data_i32());
    Tensor h = Tensor::empty({M, d}, dev), h_next = Tensor::empty({M, d}, dev), a = Tensor::empty({M, d}, dev);
    embedding(ids.to(dev), embed_tokens, 1.0f, h);
    const RotationTables tables = RotationTables::make(state.lengths, T, angles_, dev);
    std::vector<int64_t> lengths_after = state.lengths;
    for (int64_t &l : lengths_after) l += T;
    const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(D)));

    Tensor q = Tensor::empty({B, T, H, D}, dev), k = Tensor::empty({B, T, H, D}, dev), v = Tensor::empty({B, T, H, D}, dev);
    Tensor q_rot = Tensor::empty({B, T, H, D}, dev), k_rot = Tensor::empty({B, T, H, D}, dev);
    Tensor o = Tensor::empty({B, T, H, D}, dev), ffn = Tensor::empty({M, c.ffn_dim}, dev);
    for (int64_t l = 0; l < c.layers; l++) {
        const Layer &w = layers_[static_cast<size_t>(l)];
        KvCache &cache = state.layers[static_cast<size_t>(l)];
        rms_norm(h, w.attention_norm, eps, a);
        Tensor q2 = q.reshape({M, d}), k2 = k.reshape({M, d}), v2 = v.reshape({M, d});
        linear(a, w.q, q2);
        linear(a, w.k, k2);
        linear(a, w.v, v2);
        rotate_query_key(q, k, tables, 1.0f, q_rot, k_rot);
        kv_cache_append(k_rot, v, state.lengths, cache);
        attention(q_rot, cache, lengths_after, scale, o);
        linear_residual(o.reshape({M, d}), w.out, h, 1.0f, h_next);
        std::swap(h, h_next);
        rms_norm(h, w.ffn_norm, eps, a);
        linear_glu(a, w.fc1, w.gate, Activation::swish, ffn);
        linear_residual(ffn, w.fc2, h, 1.0f, h_next);
        std::swap(h, h_next);
    }
    state.lengths = lengths_after;
    // The last position of each sequence through the final norm and the output projection.
    Tensor normed = Tensor::empty({B, d}, dev), logits = Tensor::empty({B, c.vocab_size}, dev);
    rms_norm(last_rows(h, B, T), final_norm, eps, normed);
    linear(normed, output_, logits);
    return logits;
}

}  // namespace retnet
