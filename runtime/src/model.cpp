#include "retnet/model.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <optional>
#include <string>

#include <fmt/format.h>

#include "retnet/checked.h"
#include "retnet/error.h"
#include "decode_graphs.h"
#include "pass_buffers.h"

namespace retnet {

int64_t DecodeState::memory_bytes() const {
    int64_t bytes = 0;
    for (const Tensor &s : layer_states) bytes += s.numel() * static_cast<int64_t>(sizeof(float));
    return bytes;
}

DecodeState DecodeState::clone() const {
    DecodeState copy;
    for (const Tensor &s : layer_states) copy.layer_states.push_back(s.clone());
    copy.positions = positions;
    return copy;
}

Model::Model() : decode_graphs_(std::make_shared<detail::DecodeGraphs>()) {}

namespace {

// The bytes of every weight a decode step reads whole: the layers, the norms and the output head
// (of the embedding table a step reads one row).
int64_t whole_weight_bytes(const ModelWeights &w) {
    int64_t bytes = w.output.byte_size() + w.final_norm.byte_size() + w.embedding_norm.byte_size();
    for (const LayerWeights &l : w.layers) {
        for (const LinearWeight *p : {&l.q, &l.k, &l.v, &l.g, &l.out, &l.fc1, &l.gate, &l.fc2}) bytes += p->byte_size();
        bytes += l.retention_norm.byte_size() + l.group_norm.byte_size() + l.ffn_norm.byte_size();
    }
    return bytes;
}

// Two projections of one input in one kernel when decoding (at most kPairMaxRows rows) and their
// weights allow it (one storage, one shape: a model's q and k, v and g always do), else one
// product each. Decoding's products are a few microseconds of launch and latency each on a GPU;
// a prefill's are long, and there the pair's tile, which holds both products' sums, was slower on
// the CPU (3-7% at the small preset, T 1024) and is untimed on the GPU.
constexpr int64_t kPairMaxRows = 64;

// Whether the environment variable `name` is set to 0: the kernel fusions below can be turned off
// at start-up, so that one binary times both ways (as RETNET_CUDA_GRAPHS=0 does for graphs).
bool turned_off(const char *name) {
    const char *setting = std::getenv(name);
    return setting != nullptr && std::string(setting) == "0";
}

// On GPUs, decoding's pre-norms fold into the products that read them (linear_pair_normed,
// linear_glu_normed): two norm kernels a layer fewer, each a few microseconds of latency for
// kilobytes of work. Where the kernels are built for the weights' storages, for the rows the pairs
// take, unless RETNET_FOLD_NORMS=0.
bool fold_norms(Device device, int64_t rows, const LayerWeights &layer) {
    static const bool enabled = !turned_off("RETNET_FOLD_NORMS");
    return enabled && rows <= kPairMaxRows && normed_products_built_for(device, layer.q.packed.dtype()) &&
           normed_products_built_for(device, layer.fc1.packed.dtype());
}

// Likewise the rotation of q and k folds into the decoding step's retention kernel
// (retention_decode_step_rotated): one kernel a layer fewer. Unless RETNET_FOLD_ROTATION=0.
bool fold_rotation(Device device) {
    static const bool enabled = !turned_off("RETNET_FOLD_ROTATION");
    return enabled && rotated_decode_step_built_for(device);
}

void project_pair(const Tensor &x, const LinearWeight &first, const LinearWeight &second, Tensor &y_first,
                  Tensor &y_second) {
    if (x.dim(0) <= kPairMaxRows && can_pair(first, second)) {
        linear_pair(x, first, second, y_first, y_second);
        return;
    }
    linear(x, first, y_first);
    linear(x, second, y_second);
}

}  // namespace

int64_t Model::decode_weight_bytes() const {
    return whole_weight_bytes(weights_) + weights_.embed_tokens.byte_size() / std::max<int64_t>(1, config_.vocab_size);
}

int64_t Model::weight_bytes() const { return whole_weight_bytes(weights_) + weights_.embed_tokens.byte_size(); }

DecodeState Model::new_state(int64_t batch) const {
    if (batch < 1) throw Error(fmt::format("Model::new_state: batch: expected at least 1 sequence, got {}", batch));
    DecodeState state;
    const ModelConfig &c = config_;
    for (int64_t l = 0; l < c.layers; l++) {
        state.layer_states.push_back(Tensor::zeros({batch, c.heads, c.key_dim(), c.value_dim()}, device_));
    }
    state.positions.assign(static_cast<size_t>(batch), 0);
    return state;
}

void Model::check_tokens(const std::vector<int32_t> &tokens, int64_t batch, int64_t seq_len, const DecodeState &state,
                         const char *fn) const {
    if (batch < 1 || seq_len < 1) {
        throw Error(fmt::format("{}: expected at least one sequence of at least one token, got {} x {}", fn, batch, seq_len));
    }
    if (static_cast<int64_t>(tokens.size()) != checked_mul(batch, seq_len, fmt::format("{}: {} sequences x {} tokens", fn, batch, seq_len))) {
        throw Error(fmt::format("{}: tokens: expected {} ids ({} sequences x {} tokens), got {}", fn, batch * seq_len,
                                batch, seq_len, tokens.size()));
    }
    if (state.batch() != batch || static_cast<int64_t>(state.layer_states.size()) != config_.layers) {
        throw Error(fmt::format("{}: state: expected a state for {} sequences and {} layers (Model::new_state), got one for "
                                "{} sequences and {} layers",
                                fn, batch, config_.layers, state.batch(),
                                state.layer_states.size()));
    }
    for (size_t i = 0; i < tokens.size(); i++) {
        if (tokens[i] < 0 || tokens[i] >= config_.vocab_size) {
            throw Error(fmt::format("{}: tokens: id {} (sequence {}, position {}) is outside the vocabulary [0, {})", fn,
                                    tokens[i], static_cast<int64_t>(i) / seq_len, static_cast<int64_t>(i) % seq_len,
                                    config_.vocab_size));
        }
    }
}

Tensor Model::forward(const std::vector<int32_t> &tokens, int64_t batch, int64_t seq_len, DecodeState &state, Form form,
                      int chunk, bool all_logits) const {
    check_tokens(tokens, batch, seq_len, state, "Model::forward");
    if (form == Form::chunkwise && chunk != 0) {
        // Checked before any layer runs, so that a bad chunk leaves the state untouched.
        const std::vector<int> lengths = supported_chunk_lengths(device_);
        if (std::find(lengths.begin(), lengths.end(), chunk) == lengths.end()) {
            throw Error(fmt::format("Model::forward: chunk: expected one of {} on {}, got {}", fmt::join(lengths, ", "),
                                    device_name(device_), chunk));
        }
    }
    if (form == Form::automatic) form = choose_form(seq_len) == Form::parallel ? Form::parallel : Form::chunkwise;
    if (form != Form::recurrent) {
        return run(tokens, batch, seq_len, state, form == Form::parallel ? Pass::parallel : Pass::chunkwise, chunk,
                   all_logits);
    }

    // Token by token through the decode step; the logits are gathered on the host.
    const int64_t vocab = config_.vocab_size;
    const int64_t kept = all_logits ? seq_len : 1;
    Tensor logits = Tensor::empty({batch, kept, vocab});
    std::vector<int32_t> step_tokens(static_cast<size_t>(batch));
    for (int64_t t = 0; t < seq_len; t++) {
        for (int64_t b = 0; b < batch; b++) step_tokens[static_cast<size_t>(b)] = tokens[static_cast<size_t>(b * seq_len + t)];
        Tensor step = run(step_tokens, batch, 1, state, Pass::decode_step, 0, true);
        if (!all_logits && t + 1 < seq_len) continue;
        Tensor host = step.to(Device::cpu);
        const int64_t slot = all_logits ? t : 0;
        for (int64_t b = 0; b < batch; b++) {
            std::copy(host.data() + b * vocab, host.data() + (b + 1) * vocab, logits.data() + (b * kept + slot) * vocab);
        }
    }
    return logits.to(device_);
}

Tensor Model::decode_step(const std::vector<int32_t> &tokens, DecodeState &state) const {
    const int64_t batch = static_cast<int64_t>(tokens.size());
    check_tokens(tokens, batch, 1, state, "Model::decode_step");
    if (device_ == Device::cuda) return decode_step_from_graph(tokens, state);
    return run(tokens, batch, 1, state, Pass::decode_step, 0, true).reshape({batch, config_.vocab_size});
}

Tensor Model::decode_step_from_graph(const std::vector<int32_t> &tokens, DecodeState &state) const {
    detail::DecodeGraphs &graphs = *decode_graphs_;
    std::lock_guard<std::mutex> lock(graphs.mutex);
    const int64_t batch = state.batch();
    if (!graphs.enabled) {
        graphs.batch.reset();
        return run(tokens, batch, 1, state, Pass::decode_step, 0, true).reshape({batch, config_.vocab_size});
    }
    if (!graphs.batch || !graphs.batch->fits(state)) {
        graphs.batch.reset();  // its buffers go back before the new ones are made
        graphs.batch = std::make_unique<detail::DecodeGraphs::Batch>(config_, state, device_);
    }
    detail::DecodeGraphs::Batch &b = *graphs.batch;
    b.buffers.set_inputs(tokens, state.positions);
    auto queue_step = [&] { run(tokens, batch, 1, state, Pass::decode_step, 0, true, &b.buffers); };
    if (b.graph.captured()) {
        b.graph.launch();
        for (int64_t &p : state.positions) p += 1;
    } else if (b.steps_run == 0 || b.capture_failed) {
        queue_step();  // the first step loads every kernel's module: not capturable
        b.steps_run++;
    } else {
        // A capture queues nothing that runs: the state is as it was, but the pass has moved the
        // positions on, which a failed capture must undo.
        const std::vector<int64_t> positions = state.positions;
        std::string why;
        if (b.graph.capture(queue_step, &why)) {
            b.graph.launch();
        } else {
            state.positions = positions;
            b.capture_failed = true;
            graphs.last_failure = why;
            queue_step();
        }
    }
    // A copy: the buffers are overwritten by the next step, and callers may keep the logits.
    return b.buffers.logits.clone().reshape({batch, config_.vocab_size});
}

void Model::set_cuda_graphs(bool on) {
    std::lock_guard<std::mutex> lock(decode_graphs_->mutex);
    decode_graphs_->enabled = on;
}

Model::DecodeGraphStatus Model::decode_graph_status() const {
    detail::DecodeGraphs &graphs = *decode_graphs_;
    std::lock_guard<std::mutex> lock(graphs.mutex);
    DecodeGraphStatus status;
    if (device_ != Device::cuda) {
        status.note = "CUDA only";
    } else if (!graphs.enabled) {
        status.note = "graphs off";
    } else if (graphs.batch && graphs.batch->graph.captured()) {
        status.replaying = true;
        status.kernels = graphs.batch->graph.kernels();
    } else if (graphs.batch && graphs.batch->capture_failed) {
        status.note = "capture failed: " + graphs.last_failure;
    } else {
        status.note = "not captured yet (a batch's first step runs kernel by kernel)";
    }
    return status;
}

// One pass of the layer stack over B x T tokens: a prefill (parallel or chunkwise retention, which
// also hands back each layer's state) or, with T = 1, a decode step that updates the states in place.
// `kept` buffers (a CUDA graph's) come with their ids and start positions set; otherwise the pass
// makes its own. Nothing is allocated, copied or synchronised here with kept buffers, so that the
// whole pass can be captured.
Tensor Model::run(const std::vector<int32_t> &tokens, int64_t batch, int64_t seq_len, DecodeState &state, Pass pass,
                  int chunk, bool all_logits, detail::PassBuffers *kept) const {
    const ModelConfig &c = config_;
    const int64_t B = batch, T = seq_len, M = B * T, d = c.embed_dim, H = c.heads, K = c.key_dim(), V = c.value_dim();
    const Device dev = device_;
    const float eps = static_cast<float>(c.layernorm_eps);
    const float alpha = static_cast<float>(c.residual_alpha());
    const bool step = pass == Pass::decode_step;
    // The output head runs on every position, or on each sequence's last.
    const bool last_only = !all_logits && T > 1;

    std::optional<detail::PassBuffers> own;
    if (kept == nullptr) {
        // Every activation of one call at once: refused by name when it cannot fit, rather than
        // failing an allocation halfway through the layers (T comes from files and flags).
        const std::string what = fmt::format("Model::forward of {} x {} tokens", B, T);
        const uint64_t per_row = uint64_t(3 * d + 4 * H * K + 4 * H * V + c.ffn_dim + (all_logits ? c.vocab_size : 0));
        require_fits_in_memory(checked_mul(checked_mul(uint64_t(M), per_row, what), uint64_t(sizeof(float)), what), what);
        own.emplace(c, B, T, last_only ? B : M, dev);
        own->set_inputs(tokens, state.positions);
        kept = &*own;
    }
    detail::PassBuffers &buf = *kept;
    // Handles on the buffers' memory: swapping them leaves the buffers as they are.
    Tensor h = buf.h, h_next = buf.h_next, a = buf.normed_input;

    embedding(buf.ids, weights_.embed_tokens, static_cast<float>(c.embed_scale()), h);
    if (c.layernorm_embedding) {
        rms_norm(h, weights_.embedding_norm, eps, a);
        std::swap(h, a);
    }
    const RotationTables tables{buf.cos, buf.sin};
    rotation_tables(buf.start, buf.angles, buf.cos, buf.sin);
    const float k_scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(K)));
    RetentionOptions retention_options;
    retention_options.scale = 1.0;      // k carries K^-0.5 already
    retention_options.decay = c.decay;  // empty: the default gamma_h

    const bool folded_norms = fold_norms(dev, M, weights_.layers.front());
    const bool folded_rotation = step && fold_rotation(dev);
    Tensor q = buf.q, k = buf.k, q_rot = buf.q_rotated, k_rot = buf.k_rotated, v = buf.v, g = buf.g;
    Tensor o = buf.o, gated = buf.gated, ffn = buf.ffn;
    Tensor final_state = step ? Tensor() : Tensor::empty({B, H, K, V}, dev);

    for (int64_t l = 0; l < c.layers; l++) {
        const LayerWeights &w = weights_.layers[static_cast<size_t>(l)];
        Tensor &layer_state = state.layer_states[static_cast<size_t>(l)];
        // Retention sublayer.
        Tensor q2 = q.reshape({M, H * K}), k2 = k.reshape({M, H * K});
        if (folded_norms && can_pair(w.q, w.k) && can_pair(w.v, w.g)) {
            linear_pair_normed(h, w.retention_norm, eps, w.q, w.k, q2, k2);
            linear_pair_normed(h, w.retention_norm, eps, w.v, w.g, v, g);
        } else {
            rms_norm(h, w.retention_norm, eps, a);
            project_pair(a, w.q, w.k, q2, k2);
            project_pair(a, w.v, w.g, v, g);
        }
        if (folded_rotation) {
            Tensor o3 = o.reshape({B, H, V});
            retention_decode_step_rotated(q.reshape({B, H, K}), k.reshape({B, H, K}), tables, k_scale,
                                          v.reshape({B, H, V}), layer_state, o3, retention_options);
        } else {
            rotate_query_key(q, k, tables, k_scale, q_rot, k_rot);
            if (step) {
                Tensor o3 = o.reshape({B, H, V});
                retention_decode_step(q_rot.reshape({B, H, K}), k_rot.reshape({B, H, K}), v.reshape({B, H, V}),
                                      layer_state, o3, retention_options);
            } else if (pass == Pass::parallel) {
                retention_parallel(q_rot, k_rot, v.reshape({B, T, H, V}), o, retention_options, &layer_state,
                                   &final_state);
                std::swap(layer_state, final_state);
            } else {
                retention_chunkwise(q_rot, k_rot, v.reshape({B, T, H, V}), o, chunk == 0 ? kDefaultChunk : chunk,
                                    retention_options, &layer_state, &final_state);
                std::swap(layer_state, final_state);
            }
        }
        group_norm_gate(o.reshape({M, H, V}), g.reshape({M, H, V}), w.group_norm, eps, gated);
        linear_residual(gated.reshape({M, H * V}), w.out, h, alpha, h_next);
        std::swap(h, h_next);
        // Feed-forward sublayer.
        if (folded_norms) {
            linear_glu_normed(h, w.ffn_norm, eps, w.fc1, w.gate, c.activation, ffn);
        } else {
            rms_norm(h, w.ffn_norm, eps, a);
            linear_glu(a, w.fc1, w.gate, c.activation, ffn);
        }
        linear_residual(ffn, w.fc2, h, alpha, h_next);
        std::swap(h, h_next);
    }
    for (int64_t &p : state.positions) p += T;

    // Final norm and output projection, for every position or only the last of each sequence.
    const Tensor rows = last_only ? last_rows(h, B, T) : h;
    Tensor normed = buf.final_norm, logits = buf.logits;
    rms_norm(rows, weights_.final_norm, eps, normed);
    linear(normed, weights_.output, logits);
    return logits.reshape({B, last_only ? 1 : T, c.vocab_size});
}

}  // namespace retnet
