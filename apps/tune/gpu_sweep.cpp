// retnet-gpu-sweep: times the CUDA schedule variants built with -DRETNET_GPU_SWEEP=ON at the bench
// shapes on the GPU machine (the sequence forms at one shape per tuning bucket, the decode step's
// narrow kernel at B1 H16, the products at 2048^3 in float32 and bf16, and the split-K variants of
// bf16 and int8 at the decoding shapes M 1, 8 and 64, one per bucket), checks each against the CPU
// kernels (themselves checked against float64 by the tests), and writes the fastest per kernel and
// bucket to a tuning database (schedules/tuned/cuda.json), which the next build turns into the
// tuned CUDA variants. The tiled products are also timed and printed, not recorded, at the output
// head's shape (N 32000, weights far beyond the L2 cache, where the order of the blocks matters:
// products that wide have a block order of their own). The GPU machine has no Halide compiler,
// so the candidates are compiled here ahead of time instead of with the JIT that `retnet tune`
// uses on the CPU.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <functional>
#include <random>
#include <sstream>
#include <tuple>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "gpu_sweep_table.h"
#include "kernel_table.h"
#include "halide_bridge.h"
#include "random_tensor.h"
#include "retnet/error.h"
#include "retnet/layers.h"
#include "retnet/retention.h"
#include "tuning_db.h"

namespace retnet::tune {
namespace {

double relative_error(const Tensor &a, const Tensor &b) {
    Tensor x = a.to(Device::cpu), y = b.to(Device::cpu);
    double num = 0, den = 0;
    for (int64_t i = 0; i < x.numel(); i++) {
        const double d = double(x.data()[i]) - y.data()[i];
        num += d * d;
        den += double(y.data()[i]) * y.data()[i];
    }
    return std::isnan(num) ? NAN : std::sqrt(num / den);
}

double median_ms(const std::function<void()> &call, const Tensor &wait_on, int repeats) {
    for (int i = 0; i < 3; i++) call();
    wait_on.synchronize();
    std::vector<double> samples;
    for (int i = 0; i < repeats; i++) {
        const auto t0 = std::chrono::steady_clock::now();
        call();
        wait_on.synchronize();
        samples.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    std::sort(samples.begin(), samples.end());
    return samples[samples.size() / 2];
}

std::map<std::string, int> parse_params(const std::string &text) {
    std::map<std::string, int> params;
    std::stringstream in(text);
    for (std::string item; std::getline(in, item, ',');) {
        if (item.empty()) continue;
        const size_t eq = item.find('=');
        params[item.substr(0, eq)] = std::stoi(item.substr(eq + 1));
    }
    return params;
}

struct Measured {
    const detail::SweepVariant *variant;
    double ms;
    double error;
};

// The default per-head decay on the GPU, as the kernels take it: gamma itself (the decode step)
// or log(gamma) (the sequence forms).
Tensor default_decay_on_gpu(int64_t H, bool as_log) {
    std::vector<float> values;
    for (double g : default_decay(H)) values.push_back(static_cast<float>(as_log ? std::log(g) : g));
    return Tensor::view(values.data(), {H}).to(Device::cuda);
}

// One sequence shape: its inputs on the GPU and, as the expected output, the CPU chunkwise
// kernel's (which the tests check against float64).
struct SequenceCase {
    int64_t B, T, H, K, V;
    Tensor q, k, v, o, state, zero_state, decay, expected;
    float scale;

    std::string shape() const { return fmt::format("B{} T{} H{} K{} V{}", B, T, H, K, V); }
};

SequenceCase sequence_case(int64_t B, int64_t T, int64_t H, int64_t K, int64_t V, std::mt19937 &rng) {
    SequenceCase c{B, T, H, K, V};
    Tensor q = apps::random_tensor({B, T, H, K}, Device::cpu, rng), k = apps::random_tensor({B, T, H, K}, Device::cpu, rng);
    Tensor v = apps::random_tensor({B, T, H, V}, Device::cpu, rng);
    c.expected = Tensor::empty({B, T, H, V});
    retention_chunkwise(q, k, v, c.expected, 64);
    c.q = q.to(Device::cuda), c.k = k.to(Device::cuda), c.v = v.to(Device::cuda);
    c.o = Tensor::empty({B, T, H, V}, Device::cuda), c.state = Tensor::empty({B, H, K, V}, Device::cuda);
    c.zero_state = Tensor::zeros({B, H, K, V}, Device::cuda);
    c.decay = default_decay_on_gpu(H, /*as_log=*/true);
    c.scale = static_cast<float>(1.0 / std::sqrt(double(K)));
    return c;
}

// The decode step at B1 H16 K = V = 128 from a random state; expected: the CPU kernel's output
// and updated state.
struct DecodeCase {
    Tensor q, k, v, o, state, initial_state, gamma, expected_o, expected_state;
    float scale;
};

DecodeCase decode_case(std::mt19937 &rng) {
    const int64_t B = 1, H = 16, D = 128;
    DecodeCase c;
    Tensor q = apps::random_tensor({B, H, D}, Device::cpu, rng), k = apps::random_tensor({B, H, D}, Device::cpu, rng);
    Tensor v = apps::random_tensor({B, H, D}, Device::cpu, rng);
    c.initial_state = apps::random_tensor({B, H, D, D}, Device::cpu, rng);
    c.expected_state = c.initial_state.clone();
    c.expected_o = Tensor::empty({B, H, D});
    retention_decode_step(q, k, v, c.expected_state, c.expected_o);
    c.q = q.to(Device::cuda), c.k = k.to(Device::cuda), c.v = v.to(Device::cuda);
    c.o = Tensor::empty({B, H, D}, Device::cuda);
    c.gamma = default_decay_on_gpu(H, /*as_log=*/false);
    c.scale = static_cast<float>(1.0 / std::sqrt(double(D)));
    return c;
}

// A decoding product y [M, N] = x [M, K] W^T with bfloat16 or int8 weights: 8 copies of W (each
// 16 MB in bfloat16 at K 2048, N 4096: 128 MB in all, beyond the L2 cache; int8 half that, still
// beyond it), the first's product on the CPU expected.
struct DecodeProduct {
    int64_t M, K, N;
    std::vector<LinearWeight> weights;
    Tensor x, y, expected;
};

DecodeProduct decode_product(WeightStorage storage, int64_t M, int64_t K, int64_t N, std::mt19937 &rng) {
    DecodeProduct c{M, K, N, {}, {}, {}, {}};
    Tensor w = apps::random_tensor({N, K}, Device::cpu, rng), x = apps::random_tensor({M, K}, Device::cpu, rng);
    c.expected = Tensor::empty({M, N});
    linear(x, LinearWeight::pack(w, Device::cpu, "w", storage), c.expected);
    for (int copy = 0; copy < 8; copy++) c.weights.push_back(LinearWeight::pack(w, Device::cuda, "w", storage));
    c.x = x.to(Device::cuda);
    c.y = Tensor::empty({M, N}, Device::cuda);
    return c;
}

// A prefill product at one of fla-hub 1.3B's shapes (2048 rows, d = 2048; N 2048 or the head's
// 32000) in the given weight storage, its product on the CPU expected.
struct PrefillProduct {
    LinearWeight weight;
    Tensor x, y, expected;
};

constexpr int64_t kHeadColumns = 32000;

PrefillProduct prefill_product(WeightStorage storage, int64_t N, std::mt19937 &rng) {
    const int64_t M = 2048, K = 2048;
    Tensor x = apps::random_tensor({M, K}, Device::cpu, rng), w = apps::random_tensor({N, K}, Device::cpu, rng);
    PrefillProduct c{LinearWeight::pack(w, Device::cuda, "w", storage), x.to(Device::cuda), Tensor::empty({M, N}, Device::cuda),
                     Tensor::empty({M, N})};
    linear(x, LinearWeight::pack(w, Device::cpu, "w", storage), c.expected);
    return c;
}

// Whether a linear variant sums over K in slices (the decoding schedule) rather than in tiles.
bool splits_k(const detail::SweepVariant &s) {
    const auto params = parse_params(s.params);
    const auto slices = params.find("gpu_k_slices");
    return slices != params.end() && slices->second > 1;
}

}  // namespace
}  // namespace retnet::tune

int main(int argc, char **argv) {
    using namespace retnet;
    using namespace retnet::tune;
    std::string db_path = "schedules/tuned/cuda.json", device_name_text = "GPU";
    int repeats = 20;
    std::vector<std::string> only_kernels;
    CLI::App app{"retnet-gpu-sweep: time the CUDA schedule variants and record the fastest"};
    app.add_option("--db", db_path, "tuning database to write")->capture_default_str();
    app.add_option("--device-name", device_name_text, "the GPU's name, for the records")->capture_default_str();
    app.add_option("--repeats", repeats, "timed calls per variant (median)")->capture_default_str();
    app.add_option("--kernels", only_kernels, "time only these kernels (default: every kernel with variants)");
    CLI11_PARSE(app, argc, argv);
    try {
        require_device(Device::cuda);
        std::mt19937 rng(5);
        PrefillProduct prefill_f32 = prefill_product(WeightStorage::f32, 2048, rng),
                       prefill_bf16 = prefill_product(WeightStorage::bf16, 2048, rng),
                       head_f32 = prefill_product(WeightStorage::f32, kHeadColumns, rng),
                       head_bf16 = prefill_product(WeightStorage::bf16, kHeadColumns, rng);
        // The sequence forms at one docs/ANCHORS.md shape per tuning bucket: T > 1024 (B4 T2048 H16
        // K = V = 128) and T <= 1024 (B8 T1024 H8 K = V = 64).
        const std::vector<SequenceCase> sequences{sequence_case(4, 2048, 16, 128, 128, rng),
                                                  sequence_case(8, 1024, 8, 64, 64, rng)};
        DecodeCase decode = decode_case(rng);
        // M 1, 8 and 64 decide the rows <= 4, <= 16 and <= 64 buckets' records.
        std::vector<DecodeProduct> decode_products, decode_products_int8;
        for (int64_t M : {1, 8, 64}) {
            decode_products.push_back(decode_product(WeightStorage::bf16, M, 2048, 4096, rng));
            decode_products_int8.push_back(decode_product(WeightStorage::int8, M, 2048, 4096, rng));
        }

        // Results per (kernel, bucket, shape); each list starts with the first variant of the manifest's
        // sweep list that ran at that shape: the baseline, which another variant must beat by 2% to be
        // written (the manifest lists the bucket's schedule in use first where it can).
        struct Key {
            std::string kernel, bucket, shape;
            bool operator<(const Key &o) const { return std::tie(kernel, bucket, shape) < std::tie(o.kernel, o.bucket, o.shape); }
        };
        std::map<Key, std::vector<Measured>> results;
        auto report = [&](const detail::SweepVariant &s, const Key &key, double ms, double err) {
            fmt::print("{:<28} {:<22} {:<90} {:9.4f} ms  error {:.2e}{}\n", s.library, key.shape, s.params, ms, err,
                       err <= 1e-5 ? "" : "  DISCARDED (wrong result)");
            if (err <= 1e-5) results[key].push_back({&s, ms, err});
        };
        for (const detail::SweepVariant &s : detail::sweep_variants()) {
            if (!only_kernels.empty() && std::find(only_kernels.begin(), only_kernels.end(), s.kernel) == only_kernels.end()) continue;
            try {
                const std::string kernel = s.kernel;
                const detail::KernelTable &table = detail::kernel_table();
                auto time_prefill = [&](detail::LinearKernel fn, const PrefillProduct &c, const std::string &bucket,
                                        const std::string &storage) {
                    detail::KernelBuffer hx(c.x, "x"), hw(c.weight.packed, "w"), hy(c.y, "y");
                    auto call = [&] { detail::run_kernel(s.library, [&] { return fn(hx, hw, hy); }); };
                    call();
                    const double err = relative_error(c.y, c.expected);
                    const auto shape = c.x.shape();
                    report(s, {kernel, bucket, fmt::format("{}M{} K{} N{}", storage, shape[0], shape[1], c.y.shape()[1])},
                           median_ms(call, c.y, repeats), err);
                };
                // Decoding's products: each call reads another of the weight copies, so that the
                // weights come from memory and not from the L2 cache, as in a model's step.
                // `make_product(c)` gives a call of the variant on one copy: (x, copy, y).
                auto time_decoding = [&](std::vector<DecodeProduct> &cases, const std::string &storage,
                                         const auto &buckets, auto make_product) {
                    for (DecodeProduct &c : cases) {
                        auto product = make_product(c);
                        detail::KernelBuffer hx(c.x, "x"), hy(c.y, "y");
                        size_t next = 0;
                        auto call = [&] {
                            detail::run_kernel(s.library, [&] { return product(hx, next, hy); });
                            next = (next + 1) % c.weights.size();
                        };
                        call();
                        const double err = relative_error(c.y, c.expected);
                        next = 0;
                        report(s, {kernel, buckets->name_of(c.M), fmt::format("{} M{} K{} N{}", storage, c.M, c.K, c.N)},
                               median_ms(call, c.y, 10 * repeats), err);
                    }
                };
                if (auto *linear_fn = std::get_if<detail::LinearKernel>(&s.entry); linear_fn && kernel == "linear_bf16" &&
                                                                                   !splits_k(s)) {
                    for (const PrefillProduct *c : {&prefill_bf16, &head_bf16}) {
                        time_prefill(*linear_fn, *c, table.linear_bf16.buckets->name_of(c->x.shape()[0]), "bf16 ");
                    }
                } else if (linear_fn && kernel == "linear_bf16") {
                    auto fn = *linear_fn;
                    time_decoding(decode_products, "bf16", table.linear_bf16.buckets, [&](DecodeProduct &c) {
                        std::vector<detail::KernelBuffer> weights;
                        for (const LinearWeight &w : c.weights) weights.emplace_back(w.packed, "w");
                        return [fn, weights](detail::KernelBuffer &hx, size_t copy, detail::KernelBuffer &hy) mutable {
                            return fn(hx, weights[copy], hy);
                        };
                    });
                } else if (auto *int8_fn = std::get_if<detail::LinearInt8Kernel>(&s.entry); int8_fn && splits_k(s)) {
                    auto fn = *int8_fn;
                    time_decoding(decode_products_int8, "int8", table.linear_int8.buckets, [&](DecodeProduct &c) {
                        std::vector<detail::KernelBuffer> weights, scales;
                        for (const LinearWeight &w : c.weights) {
                            weights.emplace_back(w.packed, "w");
                            scales.emplace_back(w.scale, "scale");
                        }
                        return [fn, weights, scales](detail::KernelBuffer &hx, size_t copy, detail::KernelBuffer &hy) mutable {
                            return fn(hx, weights[copy], scales[copy], hy);
                        };
                    });
                } else if (linear_fn) {
                    for (const PrefillProduct *c : {&prefill_f32, &head_f32}) {
                        time_prefill(*linear_fn, *c, table.linear.buckets->name_of(c->x.shape()[0]), "");
                    }
                } else if (auto *decode_fn = std::get_if<detail::DecodeStepKernel>(&s.entry)) {
                    auto fn = *decode_fn;
                    Tensor state = decode.initial_state.to(Device::cuda);
                    detail::KernelBuffer hq(decode.q, "q"), hk(decode.k, "k"), hv(decode.v, "v"), hg(decode.gamma, "gamma"),
                        hs(state, "state"), hs_out(state, "state"), ho(decode.o, "o");
                    auto call = [&] {
                        detail::run_kernel(s.library, [&] { return fn(hq, hk, hv, hg, decode.scale, hs, ho, hs_out); });
                    };
                    call();  // one step from the initial state: checked; then timed, step after step
                    const double err = std::max(relative_error(decode.o, decode.expected_o),
                                                relative_error(state, decode.expected_state));
                    report(s, {kernel, table.retention_decode_step_kv128.buckets->name_of(16), "B1 H16 K128 V128"},
                           median_ms(call, decode.o, 10 * repeats), err);
                } else if (auto *sequence_fn = std::get_if<detail::SequenceKernel>(&s.entry)) {
                    auto fn = *sequence_fn;
                    for (const SequenceCase &c : sequences) {
                        detail::KernelBuffer hq(c.q, "q"), hk(c.k, "k"), hv(c.v, "v"), hd(c.decay, "decay"),
                            hs0(c.zero_state, "s0"), ho(c.o, "o"), hs(c.state, "state");
                        auto call = [&] {
                            detail::run_kernel(s.library, [&] { return fn(hq, hk, hv, hd, c.scale, false, hs0, ho, hs); });
                        };
                        call();
                        const double err = relative_error(c.o, c.expected);
                        report(s, {kernel, table.retention_chunkwise.buckets->name_of(c.T), c.shape()},
                               median_ms(call, c.o, repeats), err);
                    }
                } else {
                    fmt::print("{}: no sweep harness for this kernel's signature\n", s.library);
                }
            } catch (const Error &e) {
                fmt::print("{} ({}): failed: {}\n", s.library, s.params, e.what());
            }
        }
        std::vector<TuningRecord> db = read_tuning_db(db_path);
        std::time_t now = std::time(nullptr);
        char date[32];
        std::strftime(date, sizeof date, "%Y-%m-%d", std::gmtime(&now));
        fmt::print("\n| kernel | shape | default ms | best ms | best parameters |\n|---|---|---|---|---|\n");
        for (auto &[key, measured] : results) {
            const Measured &first = measured.front();  // the baseline
            const Measured &best = *std::min_element(measured.begin(), measured.end(),
                                                     [](const Measured &a, const Measured &b) { return a.ms < b.ms; });
            // One record per bucket: the head's shape is shown, not recorded.
            const bool shown_only = key.shape.find(fmt::format("N{}", kHeadColumns)) != std::string::npos;
            const bool keep_default = !shown_only && !(best.ms < 0.98 * first.ms);
            const Measured &chosen = keep_default ? first : best;
            fmt::print("| {} | {} | {:.4f} | {:.4f} | {}{} |\n", key.kernel, key.shape, first.ms, chosen.ms,
                       chosen.variant->params, shown_only ? " (shown, not recorded)" : "");
            if (shown_only) continue;
            TuningRecord r;
            r.kernel = key.kernel;
            r.generator = chosen.variant->generator;
            r.fixed = {};  // the manifest's parameters of the kernel; the candidate's are all in params
            r.target = std::string(RETNET_CUDA_TARGET_STRING) + " on " + device_name_text;
            r.bucket = key.bucket;
            r.shape = key.shape;
            r.params = parse_params(chosen.variant->params);
            r.time_ms = chosen.ms;
            r.default_ms = first.ms;
            r.date = date;
            r.tool_version = "retnet-gpu-sweep 3";
            upsert(db, r);
        }
        write_tuning_db(db_path, db);
        fmt::print("\nwrote {}\n", db_path);
    } catch (const Error &e) {
        fmt::print(stderr, "retnet-gpu-sweep: error: {}\n", e.what());
        return 1;
    }
    return 0;
}
