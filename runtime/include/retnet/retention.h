// Retention (docs/SEMANTICS.md §1) in its three forms, on generated Halide kernels.
//
// Shapes (row-major, float32):  q, k [B, T, H, K]   v, o [B, T, H, V]   state [B, H, K, V]
// with 1 <= K <= 256, 1 <= V <= 512 (RetNet often has V = 2K), B, T, H >= 1. For each (b, h):
//     S_n = gamma_h S_{n-1} + k_n^T v_n   (S_{-1} = initial state, or zero)
//     o_n = scale * q_n S_n               final state = S_{T-1}
// All three forms compute the same numbers (to float32 rounding); they differ in cost:
//     parallel   O(T^2 (K + V)) work, tiled; the fastest for short sequences
//     chunkwise  O(T C (K + V) + T K V) work: linear in T; the prefill workhorse
//     recurrent  one token at a time: O(K V) per token, the form for decoding
// Every function checks its inputs and throws retnet::Error naming the bad one. Kernels run on the
// device of their tensors (all on one device; see device.h), asynchronously on GPUs: call
// Tensor::synchronize() or copy a result to the host to wait for it.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "retnet/tensor.h"

namespace retnet {

struct RetentionOptions {
    // gamma per head, each in (0, 1); empty: the default gamma_h = 1 - 2^(-5-h).
    std::vector<double> decay;
    // Multiplies q S; default K^-0.5.
    std::optional<double> scale;
};

// The default per-head decay of torchscale and fla.
std::vector<double> default_decay(int64_t heads);

enum class Form { automatic,
                  parallel,
                  chunkwise,
                  recurrent };
const char *form_name(Form form);
Form parse_form(const std::string &name);  // "auto", "parallel", "chunkwise", "recurrent"

// The chunk lengths retention_chunkwise accepts on `device` (compiled variants).
std::vector<int> supported_chunk_lengths(Device device = Device::cpu);
constexpr int kDefaultChunk = 64;

// The automatic choice (docs/SEMANTICS.md §1.5): T == 1 -> recurrent; T <= kParallelMaxT ->
// parallel (one 64-token tile: the chunkwise form's work without its scan); longer sequences ->
// chunkwise with chunk 64, which is faster from T 128 on the CPU and from T 256 on GPUs
// (`retnet bench`, docs/PERF.md).
constexpr int64_t kParallelMaxT = 64;
Form choose_form(int64_t seq_len);

// The three forms writing into caller-provided outputs. `initial_state` may be null (zero state);
// `final_state` may be null (not wanted). Outputs may be views over the caller's memory.
void retention_parallel(const Tensor &q, const Tensor &k, const Tensor &v, Tensor &o,
                        const RetentionOptions &options = {}, const Tensor *initial_state = nullptr,
                        Tensor *final_state = nullptr);
void retention_chunkwise(const Tensor &q, const Tensor &k, const Tensor &v, Tensor &o, int chunk,
                         const RetentionOptions &options = {}, const Tensor *initial_state = nullptr,
                         Tensor *final_state = nullptr);
void retention_recurrent(const Tensor &q, const Tensor &k, const Tensor &v, Tensor &o,
                         const RetentionOptions &options = {}, const Tensor *initial_state = nullptr,
                         Tensor *final_state = nullptr);

// One decoding step for B sequences, one token each: q, k [B, H, K], v [B, H, V];
// `state` [B, H, K, V] is updated in place; o [B, H, V] is written.
void retention_decode_step(const Tensor &q, const Tensor &k, const Tensor &v, Tensor &state, Tensor &o,
                           const RetentionOptions &options = {});

struct RotationTables;  // retnet/layers.h

// retention_decode_step of q and k rotated as rotate_query_key turns them (k also scaled by
// k_scale), in one kernel: a model's decoding step then needs no rotation kernel a layer.
// tables: rotation_tables' cos and sin [B, 1, K/2] of each sequence's position. Built for GPUs
// only (rotated_decode_step_built_for says where); on the CPU it throws an Error.
void retention_decode_step_rotated(const Tensor &q, const Tensor &k, const RotationTables &tables, float k_scale,
                                   const Tensor &v, Tensor &state, Tensor &o, const RetentionOptions &options = {});
bool rotated_decode_step_built_for(Device device);

struct RetentionResult {
    Tensor o;
    Tensor final_state;           // defined only when asked for
    Form form = Form::automatic;  // the form that ran
    int chunk = 0;                // its chunk length, for the chunkwise form
};

// Allocates the outputs and runs `form` (automatic: choose_form). `chunk` 0 means the default.
RetentionResult retention(const Tensor &q, const Tensor &k, const Tensor &v, const RetentionOptions &options = {},
                          Form form = Form::automatic, const Tensor *initial_state = nullptr,
                          bool want_final_state = false, int chunk = 0);

}  // namespace retnet
