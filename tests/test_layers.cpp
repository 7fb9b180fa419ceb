// The layer kernels beside retention (runtime/include/retnet/layers.h) against float64
// references written here from docs/SEMANTICS.md §2, on every device, at awkward sizes: rows that do
// not fill a tile, columns that are not a multiple of the weights' padding, single rows (the
// matrix-vector variants).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <functional>
#include <random>

#include <fmt/format.h>

#include "device_test.h"
#include "reference.h"
#include "retnet/error.h"
#include "retnet/float_formats.h"
#include "retnet/layers.h"
#include "scratch_dir.h"
#include "test_support.h"

namespace retnet::test {
namespace {

double swish(double x) { return x / (1.0 + std::exp(-x)); }
double gelu(double x) { return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0))); }

// x [M, in] W^T for W [out, in], in double; with `magnitude`, |x| |W|^T: the size of the terms
// each output sums, against which float32 rounding is judged (error_against_magnitude).
std::vector<double> product(const std::vector<double> &x, int64_t M, const Tensor &w, bool magnitude = false) {
    const int64_t in = w.dim(1), out = w.dim(0);
    std::vector<double> y(static_cast<size_t>(M * out));
    const float *wd = w.data();  // once: data() checks the device on every call
    for (int64_t m = 0; m < M; m++) {
        for (int64_t n = 0; n < out; n++) {
            double s = 0;
            for (int64_t k = 0; k < in; k++) {
                const double term = x[static_cast<size_t>(m * in + k)] * wd[n * in + k];
                s += magnitude ? std::fabs(term) : term;
            }
            y[static_cast<size_t>(m * out + n)] = s;
        }
    }
    return y;
}

std::vector<double> product(const Tensor &x, const Tensor &w, bool magnitude = false) {
    const float *xd = x.data();
    return product(std::vector<double>(xd, xd + x.numel()), x.dim(0), w, magnitude);
}

// Row sizes covering the buckets (<= 4 rows: matrix-vector; <= 16 and <= 64: split-K on GPUs;
// more), partial tiles and several tiles (300: five GPU row blocks of 64 rows).
const std::vector<int64_t> kRows{1, 3, 4, 5, 17, 40, 64, 70, 300};

// The weight storages this build runs on `device`.
std::vector<WeightStorage> storages_on(Device device) {
    std::vector<WeightStorage> storages;
    for (WeightStorage s : {WeightStorage::f32, WeightStorage::bf16, WeightStorage::f16, WeightStorage::int8}) {
        if (weight_storage_supported(s, device)) storages.push_back(s);
    }
    return storages;
}

// `w` [out, in] as `storage` keeps it (rounded to bfloat16 or float16, widened back exactly; or
// quantized to int8 per output row and scaled back): the weights the kernels multiply by, which
// the float64 reference uses too.
Tensor rounded(const Tensor &w, WeightStorage storage) {
    if (storage == WeightStorage::int8) return int8_dequantized_rows(w);
    Tensor r = w.clone();
    for (int64_t i = 0; i < r.numel(); i++) {
        float &v = r.data()[i];
        if (storage == WeightStorage::bf16) v = bfloat16_to_float(float_to_bfloat16(v));
        if (storage == WeightStorage::f16) v = half_to_float(float_to_half(v));
    }
    return r;
}

class LayersOnDevice : public OnEveryDevice {};

TEST_P(LayersOnDevice, LinearMatchesReference) {
    for (auto [in, out] : std::vector<std::pair<int64_t, int64_t>>{{33, 70}, {64, 64}, {8, 1}, {96, 130}, {5, 20}}) {
        for (int64_t M : kRows) {
            for (WeightStorage storage : storages_on(device())) {
                SCOPED_TRACE(fmt::format("M={} in={} out={} weights {}", M, in, out, weight_storage_name(storage)));
                Tensor x = random_tensor({M, in}), w = random_tensor({out, in}), r = random_tensor({M, out});
                LinearWeight packed = LinearWeight::pack(w, device(), "w", storage);
                const Tensor wr = rounded(w, storage);
                std::vector<double> ref = product(x, wr), magnitude = product(x, wr, true);
                Tensor y = on(device(), poisoned({M, out}));
                linear(on(device(), x), packed, y);
                EXPECT_LE(error_against_magnitude(y, ref, magnitude), 1e-5);

                const float alpha = 1.75f;
                std::vector<double> with_residual = ref, residual_magnitude = magnitude;
                for (size_t i = 0; i < ref.size(); i++) {
                    with_residual[i] += alpha * double(r.data()[i]);
                    residual_magnitude[i] += std::fabs(alpha * double(r.data()[i]));
                }
                Tensor y2 = on(device(), poisoned({M, out}));
                linear_residual(on(device(), x), packed, on(device(), r), alpha, y2);
                EXPECT_LE(error_against_magnitude(y2, with_residual, residual_magnitude), 1e-5);
            }
        }
    }
}

// Two products of one x in one kernel (q and k, v and g), each output checked on its own.
TEST_P(LayersOnDevice, PairOfProductsMatchesReference) {
    for (auto [in, out] : std::vector<std::pair<int64_t, int64_t>>{{33, 70}, {96, 130}}) {
        for (int64_t M : kRows) {
            for (WeightStorage storage : storages_on(device())) {
                SCOPED_TRACE(fmt::format("M={} in={} out={} weights {}", M, in, out, weight_storage_name(storage)));
                Tensor x = random_tensor({M, in}), w1 = random_tensor({out, in}), w2 = random_tensor({out, in});
                const Tensor w1r = rounded(w1, storage), w2r = rounded(w2, storage);
                Tensor y1 = on(device(), poisoned({M, out})), y2 = on(device(), poisoned({M, out}));
                linear_pair(on(device(), x), LinearWeight::pack(w1, device(), "first", storage),
                            LinearWeight::pack(w2, device(), "second", storage), y1, y2);
                EXPECT_LE(error_against_magnitude(y1, product(x, w1r), product(x, w1r, true)), 1e-5) << "first";
                EXPECT_LE(error_against_magnitude(y2, product(x, w2r), product(x, w2r, true)), 1e-5) << "second";
            }
        }
    }
}

TEST(Layers, PairOfProductsRefusesUnlikeWeights) {
    Tensor x = random_tensor({2, 8});
    const LinearWeight a = LinearWeight::pack(random_tensor({5, 8}), Device::cpu, "a", WeightStorage::f32);
    const LinearWeight wider = LinearWeight::pack(random_tensor({6, 8}), Device::cpu, "wider", WeightStorage::f32);
    const LinearWeight bf16 = LinearWeight::pack(random_tensor({5, 8}), Device::cpu, "b", WeightStorage::bf16);
    Tensor y5 = Tensor::empty({2, 5}), y6 = Tensor::empty({2, 6});
    expect_error([&] { linear_pair(x, a, wider, y5, y6); }, {"wider", "6 outputs", "a pair of products has one shape"});
    expect_error([&] { linear_pair(x, a, bf16, y5, y5); }, {"a is float32", "both weights of the product need one storage"});
}

// Products of more than 16384 columns (output heads; generators/linear_common.h's kWideProduct)
// start their GPU blocks in groups of rows where a register-staged schedule has gpu_row_group > 1:
// two more versions of the kernel (rows of x that start at multiples of 4 floats, in 8, or not, in
// 7). Checked here at a width just past it, not a multiple of the tiles, whichever schedule the
// rows > 64 bucket has (100 rows: two register-staged row blocks of 64, a partial group, or one
// partial shared-tile block of 128).
TEST_P(LayersOnDevice, WideProductMatchesReference) {
    const int64_t M = 100, out = 16400;
    for (int64_t in : {8, 7}) {
        for (WeightStorage storage : storages_on(device())) {
            SCOPED_TRACE(fmt::format("M={} in={} out={} weights {}", M, in, out, weight_storage_name(storage)));
            Tensor x = random_tensor({M, in}), w = random_tensor({out, in});
            LinearWeight packed = LinearWeight::pack(w, device(), "w", storage);
            const Tensor wr = rounded(w, storage);
            Tensor y = on(device(), poisoned({M, out}));
            linear(on(device(), x), packed, y);
            EXPECT_LE(error_against_magnitude(y, product(x, wr), product(x, wr, true)), 1e-5);
        }
    }
}

TEST_P(LayersOnDevice, GatedFeedForwardMatchesReference) {
    for (Activation act : {Activation::swish, Activation::gelu}) {
        for (int64_t M : kRows) {
            for (WeightStorage storage : storages_on(device())) {
                const int64_t in = 40, out = 75;
                SCOPED_TRACE(fmt::format("{} M={} weights {}", activation_name(act), M, weight_storage_name(storage)));
                Tensor x = random_tensor({M, in}), w1 = random_tensor({out, in}), wg = random_tensor({out, in});
                const Tensor w1r = rounded(w1, storage), wgr = rounded(wg, storage);
                std::vector<double> a = product(x, w1r), b = product(x, wgr), ref(a.size());
                std::vector<double> am = product(x, w1r, true), bm = product(x, wgr, true), magnitude(a.size());
                for (size_t i = 0; i < a.size(); i++) {
                    ref[i] = (act == Activation::swish ? swish(a[i]) : gelu(a[i])) * b[i];
                    magnitude[i] = am[i] * bm[i];  // |act(a)| <= |a|; the product's rounding scales with both
                }
                Tensor y = on(device(), poisoned({M, out}));
                linear_glu(on(device(), x), LinearWeight::pack(w1, device(), "fc1", storage),
                           LinearWeight::pack(wg, device(), "gate", storage), act, y);
                EXPECT_LE(error_against_magnitude(y, ref, magnitude), 1e-5);
            }
        }
    }
}

// x's rows RMS-normalised in float64 as rms_norm defines it: x g / sqrt(mean x^2 + eps), [M, in].
std::vector<double> normed_rows(const Tensor &x, const Tensor &g, float eps) {
    const int64_t M = x.dim(0), in = x.dim(1);
    std::vector<double> out(static_cast<size_t>(M * in));
    for (int64_t m = 0; m < M; m++) {
        double squares = 0;
        for (int64_t k = 0; k < in; k++) squares += double(x.data()[m * in + k]) * x.data()[m * in + k];
        const double factor = 1.0 / std::sqrt(squares / double(in) + double(eps));
        for (int64_t k = 0; k < in; k++) {
            out[static_cast<size_t>(m * in + k)] = double(x.data()[m * in + k]) * factor * g.data()[k];
        }
    }
    return out;
}

// The pre-norm folded into the pair and gated products (decoding on GPUs): against rms_norm's
// definition and the products in float64, every storage, rows in every bucket; on the CPU, which
// has no such kernels, a clear refusal.
TEST_P(LayersOnDevice, NormedProductsMatchReference) {
    const int64_t in = 96, out = 70;
    const float eps = 1e-6f;
    if (device() == Device::cpu) {
        Tensor x = random_tensor({2, in}), g = random_tensor({in}), y1 = Tensor::empty({2, out}), y2 = Tensor::empty({2, out});
        const LinearWeight w = LinearWeight::pack(random_tensor({out, in}), Device::cpu, "w", WeightStorage::f32);
        expect_error([&] { linear_pair_normed(x, g, eps, w, w, y1, y2); }, {"linear_pair_normed", "GPUs only", "rms_norm"});
        expect_error([&] { linear_glu_normed(x, g, eps, w, w, Activation::swish, y1); }, {"linear_glu_normed", "GPUs only"});
        return;
    }
    for (int64_t M : kRows) {
        for (WeightStorage storage : storages_on(device())) {
            SCOPED_TRACE(fmt::format("M={} weights {}", M, weight_storage_name(storage)));
            Tensor x = random_tensor({M, in}), g = random_tensor({in});
            Tensor w1 = random_tensor({out, in}), w2 = random_tensor({out, in});
            const Tensor w1r = rounded(w1, storage), w2r = rounded(w2, storage);
            const std::vector<double> xn = normed_rows(x, g, eps);
            const std::vector<double> a = product(xn, M, w1r), b = product(xn, M, w2r);
            const std::vector<double> am = product(xn, M, w1r, true), bm = product(xn, M, w2r, true);
            const LinearWeight p1 = LinearWeight::pack(w1, device(), "first", storage);
            const LinearWeight p2 = LinearWeight::pack(w2, device(), "second", storage);
            Tensor y1 = on(device(), poisoned({M, out})), y2 = on(device(), poisoned({M, out}));
            linear_pair_normed(on(device(), x), on(device(), g), eps, p1, p2, y1, y2);
            EXPECT_LE(error_against_magnitude(y1, a, am), 1e-5) << "first";
            EXPECT_LE(error_against_magnitude(y2, b, bm), 1e-5) << "second";
            for (Activation act : {Activation::swish, Activation::gelu}) {
                std::vector<double> ref(a.size()), magnitude(a.size());
                for (size_t i = 0; i < a.size(); i++) {
                    ref[i] = (act == Activation::swish ? swish(a[i]) : gelu(a[i])) * b[i];
                    magnitude[i] = am[i] * bm[i];
                }
                Tensor y = on(device(), poisoned({M, out}));
                linear_glu_normed(on(device(), x), on(device(), g), eps, p1, p2, act, y);
                EXPECT_LE(error_against_magnitude(y, ref, magnitude), 1e-5) << activation_name(act);
            }
        }
    }
}

// Weights that arrive as bfloat16, float16 or float32 (a checkpoint's) stay so, bit for bit, unless
// another storage is asked for; float32 storage widens them exactly. The shapes cover the packer's
// vector blocks (8 x 8 16-bit, 4 x 4 32-bit), its 64 x 64 tiles and the edges of both.
TEST(Layers, PackedWeightsKeepTheirStoredPrecision) {
    for (auto [out, in] : std::vector<std::pair<int64_t, int64_t>>{{5, 3}, {70, 37}, {16, 136}}) {
        for (DType dtype : {DType::bf16, DType::f16, DType::f32}) {
            SCOPED_TRACE(fmt::format("[{}, {}] {}", out, in, dtype_name(dtype)));
            Tensor stored = Tensor::empty({out, in}, Device::cpu, dtype);
            auto value = [](int64_t k) { return 0.01f * float(k % 997) - 3.1f; };
            for (int64_t k = 0; k < stored.numel(); k++) {
                if (dtype == DType::f32) stored.data()[k] = value(k);
                if (dtype == DType::bf16) stored.data_u16()[k] = float_to_bfloat16(value(k));
                if (dtype == DType::f16) stored.data_u16()[k] = float_to_half(value(k));
            }
            auto as_float = [&](int64_t k) {
                return dtype == DType::f32    ? stored.data()[k]
                       : dtype == DType::bf16 ? bfloat16_to_float(stored.data_u16()[k])
                                              : half_to_float(stored.data_u16()[k]);
            };
            const LinearWeight kept = LinearWeight::pack(stored, Device::cpu, "w");
            ASSERT_EQ(kept.packed.dtype(), dtype);
            const LinearWeight widened = LinearWeight::pack(stored, Device::cpu, "w", WeightStorage::f32);
            ASSERT_EQ(widened.packed.dtype(), DType::f32);
            const int64_t padded = kept.padded_out(), size = int64_t(dtype_size(dtype));
            const auto *kept_bytes = static_cast<const uint8_t *>(kept.packed.bytes());
            const auto *stored_bytes = static_cast<const uint8_t *>(stored.bytes());
            int64_t wrong = 0;
            for (int64_t o = 0; o < out; o++) {
                for (int64_t i = 0; i < in; i++) {
                    wrong += std::memcmp(kept_bytes + kept.offset(o, i) * size, stored_bytes + (o * in + i) * size, size) != 0;
                    wrong += widened.packed.data()[widened.offset(o, i)] != as_float(o * in + i);
                }
            }
            for (int64_t o = out; o < padded; o++) {
                for (int64_t i = 0; i < in; i++) {
                    for (int64_t b = 0; b < size; b++) wrong += kept_bytes[kept.offset(o, i) * size + b] != 0;
                }
            }
            EXPECT_EQ(wrong, 0);
        }
    }
}

// int8: one scale per output feature (its row's largest magnitude / 127), every weight within
// half a scale step of the original, the padding zero; a row of zeros has scale 0.
TEST(Layers, Int8WeightsKeepAScalePerOutputFeature) {
    const int64_t out = 70, in = 33;
    Tensor w = random_tensor({out, in});
    for (int64_t i = 0; i < in; i++) w.data()[5 * in + i] = 0.0f;
    const LinearWeight q = LinearWeight::pack(w, Device::cpu, "w", WeightStorage::int8);
    ASSERT_EQ(q.packed.dtype(), DType::i8);
    const int64_t padded = q.padded_out();
    ASSERT_EQ(q.scale.shape(), (Shape{padded}));
    EXPECT_EQ(q.byte_size(), in * padded + 4 * padded);
    for (int64_t o = 0; o < out; o++) {
        float max = 0.0f;
        for (int64_t i = 0; i < in; i++) max = std::max(max, std::fabs(w.data()[o * in + i]));
        EXPECT_EQ(q.scale.data()[o], max / 127.0f) << o;
        bool reaches_127 = max == 0.0f;
        for (int64_t i = 0; i < in; i++) {
            const int8_t v = q.packed.data_i8()[q.offset(o, i)];
            EXPECT_GE(v, -127);
            EXPECT_LE(std::fabs(double(v) * q.scale.data()[o] - w.data()[o * in + i]), 0.5001 * q.scale.data()[o]);
            reaches_127 |= std::abs(v) == 127;
        }
        EXPECT_TRUE(reaches_127) << "row " << o << ": its largest weight is +-127";
    }
    for (int64_t o = out; o < padded; o++) {
        EXPECT_EQ(q.scale.data()[o], 0.0f);
        for (int64_t i = 0; i < in; i++) EXPECT_EQ(q.packed.data_i8()[q.offset(o, i)], 0) << "padding";
    }
    EXPECT_EQ(parse_weight_storage("int8"), WeightStorage::int8);
    expect_error([] { parse_weight_storage("int4"); }, {"weights", "int8", "int4"});
}

TEST(Layers, PackingRefusesWeightsItCannotKeep) {
    Tensor bits = Tensor::empty({2, 2}, Device::cpu, DType::bf16);
    for (int i = 0; i < 4; i++) bits.data_u16()[i] = float_to_bfloat16(1.0f);
    bits.data_u16()[3] = 0x7fc0;  // a bfloat16 NaN
    expect_error([&] { LinearWeight::pack(bits, Device::cpu, "layers.3.ffn.fc2.weight"); },
                 {"layers.3.ffn.fc2.weight", "element 3 (row 1, column 1) is not finite"});
    // Inside a vector block of a larger weight, in every stored format.
    for (DType dtype : {DType::bf16, DType::f16, DType::f32}) {
        Tensor w = Tensor::empty({24, 40}, Device::cpu, dtype);
        std::memset(w.bytes(), 0, static_cast<size_t>(w.byte_size()));
        const int64_t at = 9 * 40 + 10;
        if (dtype == DType::f32) w.data()[at] = std::numeric_limits<float>::infinity();
        if (dtype == DType::bf16) w.data_u16()[at] = 0xff80;  // -infinity
        if (dtype == DType::f16) w.data_u16()[at] = 0x7e00;   // NaN
        expect_error([&] { LinearWeight::pack(w, Device::cpu, "w"); }, {"w", "element 370 (row 9, column 10) is not finite"});
    }
    Tensor inf = Tensor::full({2, 2}, 1.0f);
    inf.data()[2] = std::numeric_limits<float>::infinity();
    expect_error([&] { LinearWeight::pack(inf, Device::cpu, "q", WeightStorage::int8); },
                 {"q", "element 2 (row 1, column 0) is not finite"});
    Tensor big = Tensor::full({2, 2}, 1e5f);
    expect_error([&] { LinearWeight::pack(big, Device::cpu, "w", WeightStorage::f16); }, {"w", "beyond float16's range"});
}

// Narrowing rounds to nearest, ties to even, for every bfloat16 and float16 value and the midpoints
// between neighbours.
TEST(FloatFormats, NarrowingRoundsToNearestEven) {
    for (uint32_t b = 0; b < 0x10000; b++) {
        const uint16_t bits = static_cast<uint16_t>(b);
        const float bf = bfloat16_to_float(bits), h = half_to_float(bits);
        if (std::isfinite(bf)) EXPECT_EQ(float_to_bfloat16(bf), bits) << b;
        if (std::isfinite(h)) EXPECT_EQ(float_to_half(h), bits) << b;
        // The midpoint to the next value up (same sign, larger magnitude) goes to the even one.
        const uint16_t next = static_cast<uint16_t>(bits + 1);
        if (std::isfinite(h) && (bits & 0x7fff) < 0x7bff) {
            const float mid = static_cast<float>((double(h) + double(half_to_float(next))) / 2);
            EXPECT_EQ(float_to_half(mid), (bits & 1) ? next : bits) << b;
        }
        if (std::isfinite(bf) && (bits & 0x7fff) < 0x7f7f) {
            const double mid = (double(bf) + double(bfloat16_to_float(next))) / 2;
            EXPECT_EQ(float_to_bfloat16(static_cast<float>(mid)), (bits & 1) ? next : bits) << b;
        }
    }
    EXPECT_EQ(float_to_half(65520.0f), 0x7c00);  // past the largest half, rounding up: infinity
    EXPECT_EQ(float_to_half(65519.0f), 0x7bff);
}

TEST_P(LayersOnDevice, RmsNormMatchesReference) {
    // C past one pass of a chunked GPU schedule (threads x chunk) too, with a partial last pass.
    for (auto [M, C] : std::vector<std::pair<int64_t, int64_t>>{{1, 768}, {7, 33}, {20, 1}, {3, 1000}, {2, 2048}, {2, 5000}}) {
        SCOPED_TRACE(fmt::format("M={} C={}", M, C));
        Tensor x = random_tensor({M, C}), w = random_tensor({C});
        const float eps = 1e-5f;
        const std::vector<double> ref = normed_rows(x, w, eps);
        Tensor y = on(device(), poisoned({M, C}));
        rms_norm(on(device(), x), on(device(), w), eps, y);
        EXPECT_LE(relative_error(y, ref), 1e-6);
    }
}

TEST_P(LayersOnDevice, GroupNormGateMatchesReference) {
    for (auto [M, H, V] : std::vector<std::tuple<int64_t, int64_t, int64_t>>{{1, 3, 256}, {9, 2, 7}, {4, 5, 100}, {2, 3, 1100}}) {
        SCOPED_TRACE(fmt::format("M={} H={} V={}", M, H, V));
        Tensor x = random_tensor({M, H, V}), g = random_tensor({M, H, V}), w = random_tensor({V});
        const float eps = 1e-6f;
        std::vector<double> ref(static_cast<size_t>(M * H * V));
        for (int64_t row = 0; row < M * H; row++) {
            double ss = 0;
            for (int64_t c = 0; c < V; c++) ss += double(x.data()[row * V + c]) * x.data()[row * V + c];
            const double inv = 1.0 / std::sqrt(ss / V + eps);
            for (int64_t c = 0; c < V; c++) {
                const int64_t i = row * V + c;
                ref[static_cast<size_t>(i)] = x.data()[i] * inv * double(w.data()[c]) * swish(g.data()[i]);
            }
        }
        Tensor y = on(device(), poisoned({M, H, V}));
        group_norm_gate(on(device(), x), on(device(), g), on(device(), w), eps, y);
        EXPECT_LE(relative_error(y, ref), 1e-6);
    }
}

TEST_P(LayersOnDevice, RotationMatchesReference) {
    for (auto [B, T, H, K] : std::vector<std::tuple<int64_t, int64_t, int64_t, int64_t>>{{2, 5, 3, 8}, {1, 1, 2, 256}, {3, 7, 1, 2}}) {
        SCOPED_TRACE(fmt::format("B={} T={} H={} K={}", B, T, H, K));
        const std::vector<int64_t> starts = B == 1 ? std::vector<int64_t>{4000} : std::vector<int64_t>{0, 17, 123456};
        std::vector<int64_t> start(starts.begin(), starts.begin() + B);
        Tensor q = random_tensor({B, T, H, K}), k = random_tensor({B, T, H, K});
        const std::vector<float> angles = rotation_angles(K);
        const double k_scale = 0.25;
        const std::vector<double> ref_q = reference_rotation(q, start, angles, 1.0);
        const std::vector<double> ref_k = reference_rotation(k, start, angles, k_scale);
        Tensor qo = on(device(), poisoned(q.shape())), ko = on(device(), poisoned(k.shape()));
        rotate_query_key(on(device(), q), on(device(), k), RotationTables::make(start, T, K, device()),
                         static_cast<float>(k_scale), qo, ko);
        EXPECT_LE(relative_error(qo, ref_q), 1e-6);
        EXPECT_LE(relative_error(ko, ref_k), 1e-6);
    }
}

TEST_P(LayersOnDevice, RotationTablesMatchReference) {
    // Large positions too: the phase is rounded to float32 first (as torchscale does), and the
    // kernels' cos and sin must reduce such phases exactly.
    for (auto [starts, T, K] : std::vector<std::tuple<std::vector<int64_t>, int64_t, int64_t>>{
             {{0, 17, 123456}, 9, 8}, {{4000}, 1, 256}, {{2147483000}, 3, 2}, {{5, 0}, 70, 64}}) {
        SCOPED_TRACE(fmt::format("B={} T={} K={}", starts.size(), T, K));
        const std::vector<float> angles = rotation_angles(K);
        const int64_t B = static_cast<int64_t>(starts.size()), pairs = K / 2;
        RotationTables tables = RotationTables::make(starts, T, angles, device());
        Tensor cos = to_host(tables.cos), sin = to_host(tables.sin);
        ASSERT_EQ(cos.shape(), (Shape{B, T, pairs}));
        double worst = 0.0;
        for (int64_t b = 0; b < B; b++) {
            for (int64_t t = 0; t < T; t++) {
                const float position = static_cast<float>(starts[static_cast<size_t>(b)] + t);
                for (int64_t i = 0; i < pairs; i++) {
                    const double phase = double(position * angles[static_cast<size_t>(i)]);
                    const int64_t at = (b * T + t) * pairs + i;
                    worst = std::max({worst, std::abs(cos.data()[at] - std::cos(phase)),
                                      std::abs(sin.data()[at] - std::sin(phase))});
                    if (std::isnan(cos.data()[at]) || std::isnan(sin.data()[at])) worst = INFINITY;
                }
            }
        }
        EXPECT_LE(worst, 1e-6);
    }
    // The written tables fill poisoned outputs whole, on tensors already on the device.
    Tensor start = Tensor::empty({2}, Device::cpu, DType::i32);
    start.data_i32()[0] = 3;
    start.data_i32()[1] = 11;
    std::vector<float> angles = rotation_angles(4);
    Tensor cos = on(device(), poisoned({2, 5, 2})), sin = on(device(), poisoned({2, 5, 2}));
    rotation_tables(on(device(), start), on(device(), Tensor::view(angles.data(), {2})), cos, sin);
    Tensor host = to_host(sin);
    for (int64_t i = 0; i < host.numel(); i++) ASSERT_FALSE(std::isnan(host.data()[i])) << "element " << i;
    EXPECT_NEAR(host.data()[(1 * 5 + 4) * 2 + 0], std::sin(15.0), 1e-6);  // sequence 1, t 4: position 15, angle 1
}

TEST(RotationTables, RefuseBadPositionsByName) {
    EXPECT_THROW(RotationTables::make({-1}, 1, 4, Device::cpu), Error);
    EXPECT_THROW(RotationTables::make({int64_t(INT32_MAX)}, 2, 4, Device::cpu), Error);
    try {
        RotationTables::make({0, int64_t(1) << 40}, 1, 4, Device::cpu);
        FAIL() << "a position beyond 2^31 was accepted";
    } catch (const Error &e) {
        EXPECT_NE(std::string(e.what()).find("start position of sequence 1"), std::string::npos) << e.what();
    }
}

TEST(RotationAngles, FollowTorchscale) {
    // theta_i = 10000^(-i / (K/2 - 1)): 1 for i = 0, 1e-4 for the last pair.
    std::vector<float> a = rotation_angles(8);
    ASSERT_EQ(a.size(), 4u);
    EXPECT_EQ(a[0], 1.0f);
    EXPECT_FLOAT_EQ(a[1], static_cast<float>(std::pow(10000.0, -1.0 / 3.0)));
    EXPECT_FLOAT_EQ(a[3], 1e-4f);
    EXPECT_EQ(rotation_angles(2), std::vector<float>{1.0f});  // one pair: linspace(0, 1, 1) = [0]
    EXPECT_THROW(rotation_angles(7), Error);
}

// Rows of `table` picked by `ids` (int32) and scaled, in float64.
std::vector<double> reference_rows(const Tensor &table, const Tensor &ids, double scale) {
    const int64_t C = table.dim(1);
    std::vector<double> ref;
    for (int64_t m = 0; m < ids.dim(0); m++) {
        const int64_t row = ids.data_i32()[m];
        for (int64_t c = 0; c < C; c++) ref.push_back(scale * table.data()[row * C + c]);
    }
    return ref;
}

Tensor random_ids(int64_t count, int64_t rows) {
    static std::mt19937 rng(std::random_device{}());
    std::uniform_int_distribution<int32_t> pick(0, static_cast<int32_t>(rows - 1));
    Tensor ids = Tensor::empty({count}, Device::cpu, DType::i32);
    for (int64_t m = 0; m < count; m++) ids.data_i32()[m] = pick(rng);
    ids.data_i32()[0] = static_cast<int32_t>(rows - 1);  // the last row, always
    return ids;
}

TEST_P(LayersOnDevice, EmbeddingMatchesReference) {
    const int64_t vocab = 11, C = 70, M = 9;
    Tensor table = random_tensor({vocab, C}), ids = random_ids(M, vocab);
    Tensor y = on(device(), poisoned({M, C}));
    embedding(on(device(), ids), on(device(), table), 2.5f, y);
    EXPECT_LE(relative_error(y, reference_rows(table, ids, 2.5)), 1e-7);
}

TEST_P(LayersOnDevice, GatherRowsMatchesReference) {
    // More rows than a float32 represents exactly as an id (row 2^24 + 1): the row gather is exact in
    // int32, where the embedding-as-gather it replaces read ids as floats.
    const int64_t rows = (int64_t(1) << 24) + 2, C = 1, M = 33;
    Tensor table = Tensor::empty({rows, C});
    for (int64_t r = 0; r < rows; r++) table.data()[r] = static_cast<float>(r % 1000003);
    Tensor ids = random_ids(M, rows);
    Tensor y = on(device(), poisoned({M, C}));
    gather_rows(on(device(), ids), on(device(), table), y);
    EXPECT_EQ(relative_error(y, reference_rows(table, ids, 1.0)), 0.0);
}

TEST(Layers, RowGathersRefuseFloatIds) {
    Tensor table = random_tensor({4, 3}), y = Tensor::empty({2, 3});
    try {
        gather_rows(Tensor::zeros({2}), table, y);
        FAIL() << "expected an error";
    } catch (const Error &e) {
        EXPECT_NE(std::string(e.what()).find("gather_rows: ids: expected dtype int32, got float32"), std::string::npos)
            << e.what();
    }
}

TEST(Layers, ShapeErrorsNameTheInput) {
    Tensor x = random_tensor({3, 8}), w = random_tensor({5, 8});
    LinearWeight packed = LinearWeight::pack(w, Device::cpu, "layers.0.ffn.fc1.weight");
    Tensor wrong_x = random_tensor({3, 9}), y = Tensor::empty({3, 5}), wrong_y = Tensor::empty({3, 6});
    try {
        linear(wrong_x, packed, y);
        FAIL() << "expected an error";
    } catch (const Error &e) {
        EXPECT_NE(std::string(e.what()).find("layers.0.ffn.fc1.weight takes 8 input features, but x has 9"), std::string::npos) << e.what();
    }
    EXPECT_THROW(linear(x, packed, wrong_y), Error);
    EXPECT_THROW(rms_norm(x, random_tensor({7}), 1e-6f, y), Error);
    EXPECT_THROW(group_norm_gate(random_tensor({2, 3, 4}), random_tensor({2, 3, 5}), Tensor::full({4}, 1.0f), 1e-6f, wrong_y),
                 Error);
    Tensor y4 = Tensor::empty({2, 3, 4});
    expect_error([&] { group_norm_gate(random_tensor({2, 3, 4}), random_tensor({2, 3, 4}), Tensor::full({3}, 1.0f), 1e-6f, y4); },
                 {"group_norm_gate: weight", "4"});
    // A linear weight not in the packed layout (a caller's own LinearWeight) is refused by name.
    LinearWeight raw{random_tensor({4, 8}), Tensor(), 4, 8, "raw.weight"};
    Tensor y8 = Tensor::empty({1, 8});
    expect_error([&] { linear(random_tensor({1, 4}), raw, y8); }, {"raw.weight", "packed layout"});
}

INSTANTIATE_TEST_SUITE_P(Devices, LayersOnDevice, ::testing::ValuesIn(all_devices()), device_test_name);

}  // namespace
}  // namespace retnet::test
