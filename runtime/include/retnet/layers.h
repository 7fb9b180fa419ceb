// The kernels of a RetNet layer beside retention (docs/SEMANTICS.md §2), on tensors. Activations are
// row-major [M, C] with one row per token (M = B * T); every function checks its tensors and
// throws retnet::Error naming the bad one, and runs on the device of its tensors.
#pragma once

#include <string>
#include <vector>

#include "retnet/tensor.h"

namespace retnet {

// How linear weights are kept: as the checkpoint stores them (float32, bfloat16 or float16:
// 2-byte weights stay 2 bytes in memory and are widened to float32 in registers; float32 where
// the device has no kernels for the format), or converted to one of those (rounded to nearest
// even; float16 refuses a weight past its range), or quantized to int8 with one float32 scale per
// output feature (weight-only: the scale is max |w| of the feature's row / 127, each weight
// rounded to the nearest multiple of it; activations and sums stay float32).
enum class WeightStorage { as_stored,
                           f32,
                           bf16,
                           f16,
                           int8 };
WeightStorage parse_weight_storage(const std::string &name);  // "auto", "f32", "bf16", "f16" or "int8"
const char *weight_storage_name(WeightStorage storage);
// Whether this build has the product kernels for `storage` on `device` (float16 has none on OpenCL).
bool weight_storage_supported(WeightStorage storage, Device device);

// A torch Linear weight [out, in] in the kernels' layout: transposed, its output columns padded
// (zeros) to a multiple of kColumnPadding so that a tile may run past the last one, and cut into
// panels of kPanel columns, [out_padded / kPanel][in][kPanel], so that a tile of outputs walks the
// inputs through contiguous memory.
struct LinearWeight {
    static constexpr int64_t kColumnPadding = 64;  // generators/linear_common.h: kWeightColumnPadding
    static constexpr int64_t kPanel = 16;          // generators/linear_common.h: kWeightPanel

    // `weight` is [out, in] on the host (float32, bfloat16 or float16; a view of a mapped file is
    // read once); the packed copy is made on `device`. Throws on a weight that is not finite.
    static LinearWeight pack(const Tensor &weight, Device device, const std::string &name,
                             WeightStorage storage = WeightStorage::as_stored);

    Tensor packed;  // [out_padded / kPanel, in, kPanel]: float32, bfloat16, float16 or int8
    Tensor scale;   // int8 only: [out_padded] float32, weight (o, i) = scale[o] * packed at offset(o, i)
    int64_t in_features = 0, out_features = 0;
    std::string name;  // for error messages ("layers.0.ffn.fc1.weight")

    int64_t byte_size() const { return packed.byte_size() + scale.byte_size(); }
    int64_t padded_out() const { return packed.dim(0) * kPanel; }
    // Where weight (o, i) (torch's [out, in] indices) is in `packed`, in elements.
    int64_t offset(int64_t o, int64_t i) const { return ((o / kPanel) * in_features + i) * kPanel + o % kPanel; }
};

enum class Activation { swish,
                        gelu };
const char *activation_name(Activation activation);

// A host tensor of float32, bfloat16 or float16 as float32 (itself if already float32), checked
// finite; `name` names it in errors.
Tensor to_float32(const Tensor &t, const std::string &name);

// y [M, out] = x [M, in] W^T (any weight storage; x and y float32).
void linear(const Tensor &x, const LinearWeight &weight, Tensor &y);
// y = alpha * residual + x W^T (the residual connection, deepnorm's alpha).
void linear_residual(const Tensor &x, const LinearWeight &weight, const Tensor &residual, float alpha, Tensor &y);
// y = act(x W1^T) * (x Wgate^T) (torchscale's GLU feed-forward, before fc2).
void linear_glu(const Tensor &x, const LinearWeight &fc1, const LinearWeight &gate, Activation activation, Tensor &y);
// y_first = x W_first^T and y_second = x W_second^T in one kernel: two weights of one storage and
// one shape [out, in], read by one pass over x (q and k, v and g).
void linear_pair(const Tensor &x, const LinearWeight &first, const LinearWeight &second, Tensor &y_first,
                 Tensor &y_second);
// Whether linear_pair takes these two weights (one storage, one shape); where not, it throws an
// Error that says why.
bool can_pair(const LinearWeight &first, const LinearWeight &second);
// linear_pair and linear_glu of rms_norm(x, norm_weight, eps), each in one kernel: a decoding
// step's pre-norms then need no kernels of their own. Built for GPUs only, with the decoding
// (split-K) schedule at every row count; normed_products_built_for says where, for weights of one
// storage (f16 ones on CUDA only).
void linear_pair_normed(const Tensor &x, const Tensor &norm_weight, float eps, const LinearWeight &first,
                        const LinearWeight &second, Tensor &y_first, Tensor &y_second);
void linear_glu_normed(const Tensor &x, const Tensor &norm_weight, float eps, const LinearWeight &fc1,
                       const LinearWeight &gate, Activation activation, Tensor &y);
bool normed_products_built_for(Device device, DType storage);

// y [M, C] = x * rsqrt(mean(x^2) + eps) * weight [C], per row.
void rms_norm(const Tensor &x, const Tensor &weight, float eps, Tensor &y);
// y [M, H, V] = x * rsqrt(mean over V of x^2 + eps) * weight * swish(gate), per row and head; weight
// [V] (ones: torchscale's norm has none).
void group_norm_gate(const Tensor &x, const Tensor &gate, const Tensor &weight, float eps, Tensor &y);

// The rotation angles of one head dimension K (even): theta_i = 10000^(-i / (K/2 - 1)),
// i < K/2, rounded to float32 like torchscale's buffer.
std::vector<float> rotation_angles(int64_t key_dim);

// cos and sin of position * theta_i for every (b, t, i), position = start[b] + t, as torchscale
// computes them (float32 position times float32 angle, then float32 cos and sin): [B, T, K/2],
// made by the rotation_tables kernel on `device`. Positions must stay below 2^31.
struct RotationTables {
    static RotationTables make(const std::vector<int64_t> &start_positions, int64_t seq_len, int64_t key_dim,
                               Device device);
    // With the given angles theta_i (K/2 of them: another dialect's, or a checkpoint's buffer).
    static RotationTables make(const std::vector<int64_t> &start_positions, int64_t seq_len,
                               const std::vector<float> &angles, Device device);
    Tensor cos, sin;
};

// Each sequence's first position as the rotation kernel takes it (int32 [B], on the host); throws,
// naming the sequence, unless 0 <= start and start + seq_len - 1 < 2^31.
Tensor rotation_start_positions(const std::vector<int64_t> &start_positions, int64_t seq_len);

// The tables on tensors already on a device: start [B] (int32, each sequence's first position) and
// angles [K/2] in, cos and sin [B, T, K/2] out (T from their shape). The kernel adds t to start in
// int32: callers keep start + T below 2^31.
void rotation_tables(const Tensor &start, const Tensor &angles, Tensor &cos, Tensor &sin);

// q_out = rotate(q), k_out = rotate(k) * k_scale; q, k [B, T, H, K].
void rotate_query_key(const Tensor &q, const Tensor &k, const RotationTables &tables, float k_scale, Tensor &q_out,
                      Tensor &k_out);

// y [M, C] = scale * table[tokens[m]]; tokens [M] int32 ids (checked against the vocabulary by
// the caller: see Model; the kernel clamps them into the table anyway); table [vocab, C].
void embedding(const Tensor &tokens, const Tensor &table, float scale, Tensor &y);

// y [M, C] = table[ids[m]]: rows of a [rows, C] table by int32 index (clamped into the table).
void gather_rows(const Tensor &ids, const Tensor &table, Tensor &y);

// Each sequence's last row of h [B * T, C] (row-major [B, T, C]), as [B, C] on h's device: gathered
// there, rather than every hidden state copied to the host.
Tensor last_rows(const Tensor &h, int64_t batch, int64_t seq_len);

}  // namespace retnet
