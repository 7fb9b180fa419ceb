// A RetNet language model (docs/SEMANTICS.md §2) on the generated kernels: weights loaded from a
// checkpoint in any of the three layouts (docs/CHECKPOINT_DIALECTS.md) onto a Device, run three ways:
//   - forward(..., Form::parallel / Form::chunkwise): prefill a batch of sequences at once; each
//     layer's retention returns its final state, so decoding can continue from a prompt that was
//     prefilled in parallel (torchscale's parallel form keeps no state);
//   - decode_step(): one token per sequence, every layer's state updated in place (O(1) per token);
//   - forward(..., Form::recurrent): the whole sequence through decode_step, token by token.
// Positions continue across calls: a DecodeState remembers how many tokens each sequence has seen.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "retnet/layers.h"
#include "retnet/model_config.h"
#include "retnet/retention.h"
#include "retnet/tensor.h"

namespace retnet {

namespace detail {
struct PassBuffers;
class DecodeGraphs;
}  // namespace detail

// What a model remembers of B sequences: every layer's retention state [B, H, K, V] and the number
// of tokens each sequence has consumed (its next position).
struct DecodeState {
    std::vector<Tensor> layer_states;
    std::vector<int64_t> positions;

    int64_t batch() const { return static_cast<int64_t>(positions.size()); }
    // Copies of a DecodeState share its tensors (the model updates them in place); clone() does not.
    DecodeState clone() const;
    int64_t memory_bytes() const;
};

struct LayerWeights {
    Tensor retention_norm;  // [d]
    LinearWeight q, k, v, g, out;
    Tensor group_norm;  // [V]: the per-head output norm's weight (ones unless the checkpoint has one)
    Tensor ffn_norm;    // [d]
    LinearWeight fc1, gate, fc2;
};

struct ModelWeights {
    Tensor embed_tokens;    // [vocab, d], row per token
    Tensor embedding_norm;  // [d], only with layernorm_embedding
    std::vector<LayerWeights> layers;
    Tensor final_norm;    // [d]
    LinearWeight output;  // the output projection (a copy of embed_tokens when tied)
};

// A checkpoint's tensors, by name: their shapes up front (checked before anything is read), and
// each tensor read on demand on the host as stored (float32, bfloat16 or float16; often a view of
// the mapped file), so that loading holds one unpacked tensor at a time.
struct CheckpointSource {
    std::string description;  // names the checkpoint in errors
    std::map<std::string, Shape> shapes;
    std::function<Tensor(const std::string &name)> read;
};

class Model {
public:
    Model();  // empty: made by load(), from_tensors(), from_checkpoint() or random()
    // Loads DIR/config.json and DIR/model.safetensors (F32, F16 or BF16; torchscale names).
    // Linear weights are kept as `storage` says (layers.h: as stored, or converted).
    static Model load(const std::string &dir, Device device = Device::cpu,
                      WeightStorage storage = WeightStorage::as_stored);
    // From a config and a host tensor per checkpoint name (what load() reads from the file).
    static Model from_tensors(const ModelConfig &config, const std::map<std::string, Tensor> &tensors, Device device,
                              const std::string &source, WeightStorage storage = WeightStorage::as_stored);
    static Model from_checkpoint(const ModelConfig &config, const CheckpointSource &checkpoint, Device device,
                                 WeightStorage storage = WeightStorage::as_stored);
    // Random weights (fixed by `seed`), for benchmarks.
    static Model random(const ModelConfig &config, uint64_t seed, Device device = Device::cpu,
                        WeightStorage storage = WeightStorage::as_stored);

    const ModelConfig &config() const { return config_; }
    Device device() const { return device_; }
    // The bytes its weights take on its device (packed, as stored).
    int64_t weight_bytes() const;
    // The bytes of weights one decode step reads: every linear weight and one embedding row.
    int64_t decode_weight_bytes() const;

    // A fresh state for `batch` sequences: zero retention states, positions 0.
    DecodeState new_state(int64_t batch) const;

    // Runs B sequences of T tokens (`tokens` row-major [B, T]) from `state`, leaving `state` after
    // the last token. Returns logits [B, T, vocab] on the model's device, or only the last
    // position's, [B, 1, vocab], when `all_logits` is false. `chunk` 0: the default chunk length.
    Tensor forward(const std::vector<int32_t> &tokens, int64_t batch, int64_t seq_len, DecodeState &state,
                   Form form = Form::chunkwise, int chunk = 0, bool all_logits = true) const;

    // One token per sequence (`tokens` [B]); returns logits [B, vocab] on the model's device.
    // On CUDA a batch's steps after its first replay a captured graph of the whole step (one
    // launch); set_cuda_graphs(false), or RETNET_CUDA_GRAPHS=0 in the environment, runs them
    // kernel by kernel instead. The setting is shared by copies of this Model.
    Tensor decode_step(const std::vector<int32_t> &tokens, DecodeState &state) const;
    void set_cuda_graphs(bool on);

    // How the last decode steps ran on CUDA: replayed from a graph of `kernels` launches, or not
    // (`note` says why: graphs off, not captured yet, or the capture's failure).
    struct DecodeGraphStatus {
        bool replaying = false;
        int64_t kernels = 0;
        std::string note;
    };
    DecodeGraphStatus decode_graph_status() const;

    // Every checkpoint tensor name this config needs, and the shape it must have.
    static std::vector<std::pair<std::string, Shape>> checkpoint_layout(const ModelConfig &config);

private:
    // What one pass of the layer stack does with retention: a prefill in one of the sequence
    // forms (handing back each layer's state), or one decode step (states updated in place).
    enum class Pass { parallel,
                      chunkwise,
                      decode_step };
    Tensor run(const std::vector<int32_t> &tokens, int64_t batch, int64_t seq_len, DecodeState &state, Pass pass,
               int chunk, bool all_logits, detail::PassBuffers *kept = nullptr) const;
    Tensor decode_step_from_graph(const std::vector<int32_t> &tokens, DecodeState &state) const;
    void check_tokens(const std::vector<int32_t> &tokens, int64_t batch, int64_t seq_len, const DecodeState &state,
                      const char *fn) const;

    ModelConfig config_;
    Device device_ = Device::cpu;
    ModelWeights weights_;
    std::shared_ptr<detail::DecodeGraphs> decode_graphs_;  // CUDA only
};

}  // namespace retnet
