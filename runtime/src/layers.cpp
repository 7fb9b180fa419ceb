#include <algorithm>
#include "retnet/layers.h"

#include <cmath>
#include <cstdint>
#include <string>

#include <fmt/format.h>

#include "halide_bridge.h"
#include "kernel_dispatch.h"
#include "retnet/error.h"

namespace retnet {

using detail::check_rank;
using detail::check_same_device;
using detail::check_tensor;
using detail::find_kernel;
using detail::kernel_table;
using detail::KernelBuffer;
using detail::Label;
using detail::run_kernel;

namespace {

void check_weight(const char *fn, const LinearWeight &w, int64_t in_features, const std::string &against) {
    if (!w.packed.defined()) throw Error(fmt::format("{}: weight {}: not loaded", fn, w.name));
    const Shape &s = w.packed.shape();
    if (s.size() != 3 || s[1] != w.in_features || s[2] != LinearWeight::kPanel || s[0] * LinearWeight::kPanel < w.out_features) {
        throw Error(fmt::format("{}: weight {}: expected the packed layout [out_padded / {}, {}, {}], got {}", fn, w.name,
                                LinearWeight::kPanel, w.in_features, LinearWeight::kPanel, shape_string(s)));
    }
    if (w.in_features != in_features) {
        throw Error(fmt::format("{}: weight {} takes {} input features, but {} has {}", fn, w.name, w.in_features,
                                against, in_features));
    }
}

// Checks x [M, in] against the weight and y [M, out]; returns M.
int64_t check_product(const char *fn, const Tensor &x, const LinearWeight &w, const Tensor &y) {
    const std::string f = fn;
    check_rank(x, f + ": x", 2, "M, in");
    check_weight(fn, w, x.dim(1), "x");
    check_tensor(y, f + ": y", {x.dim(0), w.out_features}, "M rows of x, out features of " + w.name);
    return x.dim(0);
}

}  // namespace

const char *activation_name(Activation activation) {
    return activation == Activation::swish ? "swish" : "gelu";
}

namespace {

// The kernel of a product for its weights' storage.
template<typename Fn>
const detail::KernelSet<Fn> &for_storage(const char *fn, const LinearWeight &w, const detail::KernelSet<Fn> &f32,
                                         const detail::KernelSet<Fn> &bf16, const detail::KernelSet<Fn> &f16) {
    switch (w.packed.dtype()) {
    case DType::f32:
        return f32;
    case DType::bf16:
        return bf16;
    case DType::f16:
        return f16;
    default:
        break;
    }
    throw Error(fmt::format("{}: weight {}: no kernel for {} weights", fn, w.name, dtype_name(w.packed.dtype())));
}

// Whether `w` is int8 (then its scales are checked: one per packed column, on x's device).
bool is_int8(const char *fn, const LinearWeight &w, const Tensor &x) {
    if (w.packed.dtype() != DType::i8) return false;
    check_tensor(w.scale, Label(w.name.c_str(), "scale"), {w.padded_out()}, "one per packed column");
    check_same_device(fn, {{"x", &x}, {"scale", &w.scale}});
    return true;
}

// Why two weights cannot be one kernel's (empty where they can): the products that take two
// weights read both in one storage, and a pair of products (a Tuple output) has one shape too.
std::string storage_mismatch(const LinearWeight &a, const LinearWeight &b) {
    if (a.packed.dtype() == b.packed.dtype()) return {};
    return fmt::format("{} is {} but {} is {}: both weights of the product need one storage", a.name,
                       dtype_name(a.packed.dtype()), b.name, dtype_name(b.packed.dtype()));
}

std::string pair_mismatch(const LinearWeight &first, const LinearWeight &second) {
    if (second.out_features != first.out_features || second.packed.shape() != first.packed.shape()) {
        return fmt::format("{} has {} outputs but {} has {}: a pair of products has one shape", second.name,
                           second.out_features, first.name, first.out_features);
    }
    return storage_mismatch(first, second);
}

void check_same_storage(const char *fn, const LinearWeight &a, const LinearWeight &b) {
    const std::string why = storage_mismatch(a, b);
    if (!why.empty()) throw Error(fmt::format("{}: {}", fn, why));
}

}  // namespace

bool weight_storage_supported(WeightStorage storage, Device device) {
    const detail::KernelTable &t = kernel_table();
    switch (storage) {
    case WeightStorage::f32:
        return t.linear.built_for(device);
    case WeightStorage::bf16:
        return t.linear_bf16.built_for(device);
    case WeightStorage::f16:
        return t.linear_f16.built_for(device);
    case WeightStorage::int8:
        return t.linear_int8.built_for(device);
    case WeightStorage::as_stored:
        return t.linear.built_for(device) && t.linear_bf16.built_for(device);
    }
    return false;
}

void linear(const Tensor &x, const LinearWeight &weight, Tensor &y) {
    const char *fn = "linear";
    int64_t rows = check_product(fn, x, weight, y);
    check_same_device(fn, {{"x", &x}, {"weight", &weight.packed}, {"y", &y}});
    // By rows: a few (decoding) take the matrix-vector schedule (kernels.json's bucket_params).
    const detail::KernelTable &table = kernel_table();
    if (is_int8(fn, weight, x)) {
        auto kernel = find_kernel(fn, table.linear_int8, x.device(), rows);
        KernelBuffer hx(x, "linear: x"), hw(weight.packed, weight.name), hs(weight.scale, Label(weight.name.c_str(), "scale")),
            hy(y, "linear: y");
        run_kernel(fn, [&] { return kernel(hx, hw, hs, hy); });
        return;
    }
    auto kernel = find_kernel(fn, for_storage(fn, weight, table.linear, table.linear_bf16, table.linear_f16), x.device(), rows);
    KernelBuffer hx(x, "linear: x"), hw(weight.packed, weight.name), hy(y, "linear: y");
    run_kernel(fn, [&] { return kernel(hx, hw, hy); });
}

void linear_residual(const Tensor &x, const LinearWeight &weight, const Tensor &residual, float alpha, Tensor &y) {
    const char *fn = "linear_residual";
    int64_t rows = check_product(fn, x, weight, y);
    check_tensor(residual, "linear_residual: residual", y.shape(), "as y");
    check_same_device(fn, {{"x", &x}, {"weight", &weight.packed}, {"residual", &residual}, {"y", &y}});
    const detail::KernelTable &table = kernel_table();
    if (is_int8(fn, weight, x)) {
        auto kernel = find_kernel(fn, table.linear_residual_int8, x.device(), rows);
        KernelBuffer hx(x, "linear_residual: x"), hw(weight.packed, weight.name), hs(weight.scale, Label(weight.name.c_str(), "scale")),
            hr(residual, "linear_residual: residual"), hy(y, "linear_residual: y");
        run_kernel(fn, [&] { return kernel(hx, hw, hs, hr, alpha, hy); });
        return;
    }
    auto kernel = find_kernel(fn, for_storage(fn, weight, table.linear_residual, table.linear_residual_bf16, table.linear_residual_f16),
                              x.device(), rows);
    KernelBuffer hx(x, "linear_residual: x"), hw(weight.packed, weight.name), hr(residual, "linear_residual: residual"),
        hy(y, "linear_residual: y");
    run_kernel(fn, [&] { return kernel(hx, hw, hr, alpha, hy); });
}

namespace {

// The pre-norm a product may fold in (the *_normed kernels): its weight [K] and eps.
struct FoldedNorm {
    const Tensor *weight = nullptr;  // none
    float eps = 0.0f;
};

void check_folded_norm(const char *fn, const Tensor &x, const FoldedNorm &norm) {
    if (norm.weight == nullptr) return;
    check_tensor(*norm.weight, Label(fn, "norm_weight"), {x.dim(1)}, "in features of x");
    check_same_device(fn, {{"x", &x}, {"norm_weight", norm.weight}});
    if (x.device() == Device::cpu) {
        throw Error(fmt::format("{}: the products with a folded norm are built for GPUs only: on the CPU use rms_norm, "
                                "then the product",
                                fn));
    }
}

void gated_products(const char *fn, const Tensor &x, const FoldedNorm &norm, const LinearWeight &fc1,
                    const LinearWeight &gate, Activation activation, Tensor &y) {
    int64_t rows = check_product(fn, x, fc1, y);
    check_weight(fn, gate, x.dim(1), "x");
    if (gate.out_features != fc1.out_features) {
        throw Error(fmt::format("{}: {} has {} outputs but {} has {}", fn, gate.name, gate.out_features, fc1.name,
                                fc1.out_features));
    }
    check_same_device(fn, {{"x", &x}, {"fc1", &fc1.packed}, {"gate", &gate.packed}, {"y", &y}});
    check_same_storage(fn, fc1, gate);
    check_folded_norm(fn, x, norm);
    const detail::KernelTable &table = kernel_table();
    const bool swish = activation == Activation::swish;
    // Labels, not strings: these run once per layer and token.
    KernelBuffer hx(x, Label(fn, "x")), h1(fc1.packed, fc1.name), hg(gate.packed, gate.name), hy(y, Label(fn, "y"));
    if (is_int8(fn, fc1, x) && is_int8(fn, gate, x)) {
        KernelBuffer hs1(fc1.scale, Label(fc1.name.c_str(), "scale")), hsg(gate.scale, Label(gate.name.c_str(), "scale"));
        if (norm.weight != nullptr) {
            auto kernel = find_kernel(fn, swish ? table.linear_glu_swish_normed_int8 : table.linear_glu_gelu_normed_int8,
                                      x.device(), rows);
            KernelBuffer hn(*norm.weight, Label(fn, "norm_weight"));
            run_kernel(fn, [&] { return kernel(hx, h1, hs1, hg, hsg, hn, norm.eps, hy); });
            return;
        }
        auto kernel = find_kernel(fn, swish ? table.linear_glu_swish_int8 : table.linear_glu_gelu_int8, x.device(), rows);
        run_kernel(fn, [&] { return kernel(hx, h1, hs1, hg, hsg, hy); });
        return;
    }
    if (norm.weight != nullptr) {
        auto kernel = find_kernel(fn,
                                  swish ? for_storage(fn, fc1, table.linear_glu_swish_normed, table.linear_glu_swish_normed_bf16,
                                                      table.linear_glu_swish_normed_f16)
                                        : for_storage(fn, fc1, table.linear_glu_gelu_normed, table.linear_glu_gelu_normed_bf16,
                                                      table.linear_glu_gelu_normed_f16),
                                  x.device(), rows);
        KernelBuffer hn(*norm.weight, Label(fn, "norm_weight"));
        run_kernel(fn, [&] { return kernel(hx, h1, hg, hn, norm.eps, hy); });
        return;
    }
    auto kernel = find_kernel(fn,
                              swish ? for_storage(fn, fc1, table.linear_glu_swish, table.linear_glu_swish_bf16,
                                                  table.linear_glu_swish_f16)
                                    : for_storage(fn, fc1, table.linear_glu_gelu, table.linear_glu_gelu_bf16,
                                                  table.linear_glu_gelu_f16),
                              x.device(), rows);
    run_kernel(fn, [&] { return kernel(hx, h1, hg, hy); });
}

void pair_products(const char *fn, const Tensor &x, const FoldedNorm &norm, const LinearWeight &first,
                   const LinearWeight &second, Tensor &y_first, Tensor &y_second) {
    const int64_t rows = check_product(fn, x, first, y_first);
    check_product(fn, x, second, y_second);
    // The kernel's two outputs are one Tuple: one shape, so the packed weights' too.
    const std::string why = pair_mismatch(first, second);
    if (!why.empty()) throw Error(fmt::format("{}: {}", fn, why));
    check_same_device(fn, {{"x", &x}, {"first", &first.packed}, {"second", &second.packed}, {"y_first", &y_first}, {"y_second", &y_second}});
    check_folded_norm(fn, x, norm);
    const detail::KernelTable &table = kernel_table();
    KernelBuffer hx(x, Label(fn, "x")), h1(first.packed, first.name), h2(second.packed, second.name),
        hy1(y_first, Label(fn, "y_first")), hy2(y_second, Label(fn, "y_second"));
    if (is_int8(fn, first, x) && is_int8(fn, second, x)) {
        KernelBuffer hs1(first.scale, Label(first.name.c_str(), "scale")), hs2(second.scale, Label(second.name.c_str(), "scale"));
        if (norm.weight != nullptr) {
            auto kernel = find_kernel(fn, table.linear_pair_normed_int8, x.device(), rows);
            KernelBuffer hn(*norm.weight, Label(fn, "norm_weight"));
            run_kernel(fn, [&] { return kernel(hx, h1, hs1, h2, hs2, hn, norm.eps, hy1, hy2); });
            return;
        }
        auto kernel = find_kernel(fn, table.linear_pair_int8, x.device(), rows);
        run_kernel(fn, [&] { return kernel(hx, h1, hs1, h2, hs2, hy1, hy2); });
        return;
    }
    if (norm.weight != nullptr) {
        auto kernel = find_kernel(fn, for_storage(fn, first, table.linear_pair_normed, table.linear_pair_normed_bf16, table.linear_pair_normed_f16),
                                  x.device(), rows);
        KernelBuffer hn(*norm.weight, Label(fn, "norm_weight"));
        run_kernel(fn, [&] { return kernel(hx, h1, h2, hn, norm.eps, hy1, hy2); });
        return;
    }
    auto kernel = find_kernel(fn, for_storage(fn, first, table.linear_pair, table.linear_pair_bf16, table.linear_pair_f16),
                              x.device(), rows);
    run_kernel(fn, [&] { return kernel(hx, h1, h2, hy1, hy2); });
}

}  // namespace

void linear_glu(const Tensor &x, const LinearWeight &fc1, const LinearWeight &gate, Activation activation, Tensor &y) {
    gated_products("linear_glu", x, FoldedNorm{}, fc1, gate, activation, y);
}

void linear_glu_normed(const Tensor &x, const Tensor &norm_weight, float eps, const LinearWeight &fc1,
                       const LinearWeight &gate, Activation activation, Tensor &y) {
    gated_products("linear_glu_normed", x, FoldedNorm{&norm_weight, eps}, fc1, gate, activation, y);
}

void linear_pair(const Tensor &x, const LinearWeight &first, const LinearWeight &second, Tensor &y_first,
                 Tensor &y_second) {
    pair_products("linear_pair", x, FoldedNorm{}, first, second, y_first, y_second);
}

void linear_pair_normed(const Tensor &x, const Tensor &norm_weight, float eps, const LinearWeight &first,
                        const LinearWeight &second, Tensor &y_first, Tensor &y_second) {
    pair_products("linear_pair_normed", x, FoldedNorm{&norm_weight, eps}, first, second, y_first, y_second);
}

bool normed_products_built_for(Device device, DType storage) {
    const detail::KernelTable &t = kernel_table();
    auto built = [&](const auto &f32, const auto &bf16, const auto &f16, const auto &int8) {
        switch (storage) {
        case DType::f32:
            return f32.built_for(device);
        case DType::bf16:
            return bf16.built_for(device);
        case DType::f16:
            return f16.built_for(device);
        case DType::i8:
            return int8.built_for(device);
        default:
            return false;
        }
    };
    return built(t.linear_pair_normed, t.linear_pair_normed_bf16, t.linear_pair_normed_f16, t.linear_pair_normed_int8) &&
           built(t.linear_glu_swish_normed, t.linear_glu_swish_normed_bf16, t.linear_glu_swish_normed_f16,
                 t.linear_glu_swish_normed_int8) &&
           built(t.linear_glu_gelu_normed, t.linear_glu_gelu_normed_bf16, t.linear_glu_gelu_normed_f16,
                 t.linear_glu_gelu_normed_int8);
}

bool can_pair(const LinearWeight &first, const LinearWeight &second) {
    return pair_mismatch(first, second).empty();
}

void rms_norm(const Tensor &x, const Tensor &weight, float eps, Tensor &y) {
    const char *fn = "rms_norm";
    check_rank(x, "rms_norm: x", 2, "M, C");
    check_tensor(weight, "rms_norm: weight", {x.dim(1)}, "C of x");
    check_tensor(y, "rms_norm: y", x.shape(), "as x");
    check_same_device(fn, {{"x", &x}, {"weight", &weight}, {"y", &y}});
    auto kernel = find_kernel(fn, kernel_table().rms_norm, x.device());
    KernelBuffer hx(x, "rms_norm: x"), hw(weight, "rms_norm: weight"), hy(y, "rms_norm: y");
    run_kernel(fn, [&] { return kernel(hx, hw, eps, hy); });
}

void group_norm_gate(const Tensor &x, const Tensor &gate, const Tensor &weight, float eps, Tensor &y) {
    const char *fn = "group_norm_gate";
    check_rank(x, "group_norm_gate: x", 3, "M, H, V");
    check_tensor(gate, "group_norm_gate: gate", x.shape(), "as x");
    check_tensor(weight, "group_norm_gate: weight", {x.dim(2)}, "V of x");
    check_tensor(y, "group_norm_gate: y", x.shape(), "as x");
    check_same_device(fn, {{"x", &x}, {"gate", &gate}, {"weight", &weight}, {"y", &y}});
    auto kernel = find_kernel(fn, kernel_table().group_norm_gate, x.device());
    KernelBuffer hx(x, "group_norm_gate: x"), hg(gate, "group_norm_gate: gate"), hw(weight, "group_norm_gate: weight"),
        hy(y, "group_norm_gate: y");
    run_kernel(fn, [&] { return kernel(hx, hg, hw, eps, hy); });
}

std::vector<float> rotation_angles(int64_t key_dim) {
    if (key_dim < 2 || key_dim % 2 != 0) {
        throw Error(fmt::format("rotation_angles: key dimension: expected an even number >= 2, got {}", key_dim));
    }
    const int64_t pairs = key_dim / 2;
    std::vector<float> angles(static_cast<size_t>(pairs));
    for (int64_t i = 0; i < pairs; i++) {
        // torch.linspace(0, 1, pairs) is [0] for one pair.
        double exponent = pairs == 1 ? 0.0 : static_cast<double>(i) / static_cast<double>(pairs - 1);
        angles[static_cast<size_t>(i)] = static_cast<float>(1.0 / std::pow(10000.0, exponent));
    }
    return angles;
}

RotationTables RotationTables::make(const std::vector<int64_t> &start_positions, int64_t seq_len, int64_t key_dim,
                                    Device device) {
    return make(start_positions, seq_len, rotation_angles(key_dim), device);
}

Tensor rotation_start_positions(const std::vector<int64_t> &start_positions, int64_t seq_len) {
    if (seq_len < 1) throw Error(fmt::format("rotation tables: seq_len: expected at least 1 token, got {}", seq_len));
    Tensor start = Tensor::empty({static_cast<int64_t>(start_positions.size())}, Device::cpu, DType::i32);
    const int64_t last_first = int64_t(INT32_MAX) - (seq_len - 1);
    for (size_t b = 0; b < start_positions.size(); b++) {
        const int64_t first = start_positions[b];
        if (first < 0 || first > last_first) {
            throw Error(fmt::format("rotation tables: start position of sequence {}: expected 0 to {} (its {} positions "
                                    "below 2^31), got {}",
                                    b, last_first, seq_len, first));
        }
        start.data_i32()[b] = static_cast<int32_t>(first);
    }
    return start;
}

RotationTables RotationTables::make(const std::vector<int64_t> &start_positions, int64_t seq_len,
                                    const std::vector<float> &angles, Device device) {
    const Tensor start = rotation_start_positions(start_positions, seq_len);
    const int64_t B = start.dim(0), pairs = static_cast<int64_t>(angles.size());
    std::vector<float> host_angles = angles;
    RotationTables tables{Tensor::empty({B, seq_len, pairs}, device), Tensor::empty({B, seq_len, pairs}, device)};
    rotation_tables(start.to(device), Tensor::view(host_angles.data(), {pairs}).to(device), tables.cos, tables.sin);
    return tables;
}

void rotation_tables(const Tensor &start, const Tensor &angles, Tensor &cos, Tensor &sin) {
    const char *fn = "rotation_tables";
    check_rank(start, "rotation_tables: start", 1, "B");
    if (start.dtype() != DType::i32) {
        throw Error(fmt::format("rotation_tables: start: expected dtype int32, got {}", dtype_name(start.dtype())));
    }
    check_rank(angles, "rotation_tables: angles", 1, "K/2");
    check_rank(cos, "rotation_tables: cos", 3, "B, T, K/2");
    const int64_t B = start.dim(0), T = cos.dim(1), pairs = angles.dim(0);
    check_tensor(angles, "rotation_tables: angles", {pairs}, "K/2");
    check_tensor(cos, "rotation_tables: cos", {B, T, pairs}, "B of start, T, K/2 of angles");
    check_tensor(sin, "rotation_tables: sin", {B, T, pairs}, "as cos");
    check_same_device(fn, {{"start", &start}, {"angles", &angles}, {"cos", &cos}, {"sin", &sin}});
    auto kernel = find_kernel(fn, kernel_table().rotation_tables, start.device());
    KernelBuffer hs(start, "rotation_tables: start"), ha(angles, "rotation_tables: angles"),
        hc(cos, "rotation_tables: cos"), hsin(sin, "rotation_tables: sin");
    run_kernel(fn, [&] { return kernel(hs, ha, hc, hsin); });
}

void rotate_query_key(const Tensor &q, const Tensor &k, const RotationTables &tables, float k_scale, Tensor &q_out,
                      Tensor &k_out) {
    const char *fn = "rotate_query_key";
    check_rank(q, "rotate_query_key: q", 4, "B, T, H, K");
    const int64_t B = q.dim(0), T = q.dim(1), K = q.dim(3);
    if (K % 2 != 0) throw Error(fmt::format("rotate_query_key: q: expected an even head dimension K, got {}", K));
    check_tensor(k, "rotate_query_key: k", q.shape(), "as q");
    check_tensor(tables.cos, "rotate_query_key: cos table", {B, T, K / 2}, "B, T, K/2 of q");
    check_tensor(tables.sin, "rotate_query_key: sin table", {B, T, K / 2}, "B, T, K/2 of q");
    check_tensor(q_out, "rotate_query_key: q_out", q.shape(), "as q");
    check_tensor(k_out, "rotate_query_key: k_out", q.shape(), "as q");
    check_same_device(fn, {{"q", &q}, {"k", &k}, {"cos table", &tables.cos}, {"sin table", &tables.sin}, {"q_out", &q_out}, {"k_out", &k_out}});
    auto kernel = find_kernel(fn, kernel_table().rotate_query_key, q.device());
    KernelBuffer hq(q, "rotate_query_key: q"), hk(k, "rotate_query_key: k"), hc(tables.cos, "cos table"),
        hs(tables.sin, "sin table"), hqo(q_out, "rotate_query_key: q_out"), hko(k_out, "rotate_query_key: k_out");
    run_kernel(fn, [&] { return kernel(hq, hk, hc, hs, k_scale, hqo, hko); });
}

namespace {

// Checks ids [M] (int32) and table [rows, C] against y [M, C]; `fn` names the kernel.
void check_row_gather(const char *fn, const Tensor &ids, const Tensor &table, const Tensor &y, const char *ids_name) {
    const std::string f = fn;
    check_rank(ids, f + ": " + ids_name, 1, "M");
    if (ids.dtype() != DType::i32) {
        throw Error(fmt::format("{}: {}: expected dtype int32, got {}", fn, ids_name, dtype_name(ids.dtype())));
    }
    check_rank(table, f + ": table", 2, "rows, C");
    check_tensor(y, f + ": y", {ids.dim(0), table.dim(1)}, fmt::format("M of {}, C of table", ids_name));
    check_same_device(fn, {{ids_name, &ids}, {"table", &table}, {"y", &y}});
}

}  // namespace

void embedding(const Tensor &tokens, const Tensor &table, float scale, Tensor &y) {
    const char *fn = "embedding";
    check_row_gather(fn, tokens, table, y, "tokens");
    auto kernel = find_kernel(fn, kernel_table().embedding, tokens.device());
    KernelBuffer ht(tokens, "embedding: tokens"), htab(table, "embedding: table"), hy(y, "embedding: y");
    run_kernel(fn, [&] { return kernel(ht, htab, scale, hy); });
}

void gather_rows(const Tensor &ids, const Tensor &table, Tensor &y) {
    const char *fn = "gather_rows";
    check_row_gather(fn, ids, table, y, "ids");
    auto kernel = find_kernel(fn, kernel_table().gather_rows, ids.device());
    KernelBuffer hi(ids, "gather_rows: ids"), htab(table, "gather_rows: table"), hy(y, "gather_rows: y");
    run_kernel(fn, [&] { return kernel(hi, htab, hy); });
}

Tensor last_rows(const Tensor &h, int64_t batch, int64_t seq_len) {
    check_rank(h, "last_rows: h", 2, "B * T, C");
    if (batch < 1 || seq_len < 1 || h.dim(0) != batch * seq_len) {
        throw Error(fmt::format("last_rows: h: expected {} x {} rows, got shape {}", batch, seq_len, shape_string(h.shape())));
    }
    // Exact in int32: the kernels refuse an h of 2^31 elements or more.
    Tensor ids = Tensor::empty({batch}, Device::cpu, DType::i32);
    for (int64_t b = 0; b < batch; b++) ids.data_i32()[b] = static_cast<int32_t>((b + 1) * seq_len - 1);
    Tensor rows = Tensor::empty({batch, h.dim(1)}, h.device());
    gather_rows(ids.to(h.device()), h, rows);
    return rows;
}

}  // namespace retnet
