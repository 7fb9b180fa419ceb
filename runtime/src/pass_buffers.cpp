#include "pass_buffers.h"

#include <algorithm>

#include <fmt/format.h>

#include "retnet/error.h"
#include "retnet/layers.h"

namespace retnet::detail {

PassBuffers::PassBuffers(const ModelConfig &c, int64_t B, int64_t T, int64_t kept, Device dev)
    : batch(B), seq_len(T) {
    const int64_t M = B * T, d = c.embed_dim, H = c.heads, K = c.key_dim(), V = c.value_dim();
    host_ids_ = Tensor::empty({M}, Device::cpu, DType::i32);
    ids = Tensor::empty({M}, dev, DType::i32);
    start = Tensor::empty({B}, dev, DType::i32);
    std::vector<float> host_angles = c.rotation_angles();
    const Tensor view = Tensor::view(host_angles.data(), {static_cast<int64_t>(host_angles.size())});
    angles = dev == Device::cpu ? view.clone() : view.to(dev);  // to() on the host would keep the view
    cos = Tensor::empty({B, T, K / 2}, dev);
    sin = Tensor::empty({B, T, K / 2}, dev);
    h = Tensor::empty({M, d}, dev);
    h_next = Tensor::empty({M, d}, dev);
    normed_input = Tensor::empty({M, d}, dev);
    for (Tensor *t : {&q, &k, &q_rotated, &k_rotated}) *t = Tensor::empty({B, T, H, K}, dev);
    v = Tensor::empty({M, H * V}, dev);
    g = Tensor::empty({M, H * V}, dev);
    o = Tensor::empty({B, T, H, V}, dev);
    gated = Tensor::empty({M, H, V}, dev);
    ffn = Tensor::empty({M, c.ffn_dim}, dev);
    final_norm = Tensor::empty({kept, d}, dev);
    logits = Tensor::empty({kept, c.vocab_size}, dev);
}

void PassBuffers::set_inputs(const std::vector<int32_t> &tokens, const std::vector<int64_t> &positions) {
    if (static_cast<int64_t>(tokens.size()) != host_ids_.numel() || static_cast<int64_t>(positions.size()) != batch) {
        throw Error(fmt::format("PassBuffers: expected {} token ids and {} positions, got {} and {}",
                                host_ids_.numel(), batch, tokens.size(), positions.size()));
    }
    std::copy(tokens.begin(), tokens.end(), host_ids_.data_i32());
    ids.copy_from(host_ids_);
    start.copy_from(rotation_start_positions(positions, seq_len));
}

}  // namespace retnet::detail
