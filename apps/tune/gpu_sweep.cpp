// retnet-gpu-sweep: times the CUDA schedule variants built with -DRETNET_GPU_SWEEP=ON at the bench
// shapes on the GPU machine, checks each against the CPU kernels (themselves checked against
// float64 by the tests), and writes the fastest per kernel to a tuning database
// (schedules/tuned/cuda.json), which the next build turns into the tuned CUDA variants. The GPU
// machine has no Halide compiler, so the candidates are compiled here ahead of time instead of
// with the JIT that `retnet tune` uses on the CPU.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <functional>
#include <random>
#include <sstream>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "gpu_sweep_table.h"
#include "halide_bridge.h"
#include "random_tensor.h"
#include "retnet/error.h"
#include "retnet/layers.h"
#include "retnet/retention.h"
#include "retnet/tuning_buckets.h"
#include "tuning_db.h"

namespace retnet::tune {
namespace {

double relative_error(const Tensor &a, const Tensor &b) {
    Tensor x = a.to(Device::cpu), y = b.device() == Device::cpu ? b : b.to(Device::cpu);
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

}  // namespace
}  // namespace retnet::tune

int main(int argc, char **argv) {
    using namespace retnet;
    using namespace retnet::tune;
    std::string db_path = "schedules/tuned/cuda.json", device_name_text = "GPU";
    int repeats = 20;
    CLI::App app{"retnet-gpu-sweep: time the CUDA schedule variants and record the fastest"};
    app.add_option("--db", db_path, "tuning database to write")->capture_default_str();
    app.add_option("--device-name", device_name_text, "the GPU's name, for the records")->capture_default_str();
    app.add_option("--repeats", repeats, "timed calls per variant (median)")->capture_default_str();
    CLI11_PARSE(app, argc, argv);
    try {
        require_device(Device::cuda);
        std::mt19937 rng(5);
        // linear at the bench-model's prefill shape: 2048 rows, d = 768.
        const int64_t M = 2048, K = 768, N = 768;
        Tensor x = apps::random_tensor({M, K}, Device::cpu, rng), w = apps::random_tensor({N, K}, Device::cpu, rng);
        Tensor y_cpu = Tensor::empty({M, N});
        linear(x, LinearWeight::pack(w, Device::cpu, "w"), y_cpu);
        LinearWeight wg = LinearWeight::pack(w, Device::cuda, "w");
        Tensor xg = x.to(Device::cuda), yg = Tensor::empty({M, N}, Device::cuda);
        // chunkwise at ANCHORS.md's B4 T2048 H16 K = V = 128.
        const int64_t B = 4, T = 2048, H = 16, D = 128;
        Tensor q = apps::random_tensor({B, T, H, D}, Device::cpu, rng), k = apps::random_tensor({B, T, H, D}, Device::cpu, rng), v = apps::random_tensor({B, T, H, D}, Device::cpu, rng);
        Tensor o_cpu = Tensor::empty({B, T, H, D});
        retention_chunkwise(q, k, v, o_cpu, 64);
        Tensor qg = q.to(Device::cuda), kg = k.to(Device::cuda), vg = v.to(Device::cuda);
        Tensor og = Tensor::empty({B, T, H, D}, Device::cuda), sg = Tensor::empty({B, H, D, D}, Device::cuda);
        Tensor s0 = Tensor::zeros({B, H, D, D}, Device::cuda);
        std::vector<float> log_gamma;
        for (double g : default_decay(H)) log_gamma.push_back(static_cast<float>(std::log(g)));
        Tensor decay = Tensor::view(log_gamma.data(), {H}).to(Device::cuda);
        const float scale = static_cast<float>(1.0 / std::sqrt(double(D)));

        std::map<std::string, std::vector<Measured>> results;
        for (const detail::SweepVariant &s : detail::sweep_variants()) {
            double ms = 0, err = 0;
            try {
                if (std::string(s.kernel) == "linear") {
                    auto fn = reinterpret_cast<detail::LinearKernel>(s.entry);
                    detail::KernelBuffer hx(xg, "x"), hw(wg.packed, "w"), hy(yg, "y");
                    auto call = [&] { detail::run_kernel(s.library, [&] { return fn(hx, hw, hy); }); };
                    call();
                    err = relative_error(yg, y_cpu);
                    ms = median_ms(call, yg, repeats);
                } else {
                    auto fn = reinterpret_cast<detail::SequenceKernel>(s.entry);
                    detail::KernelBuffer hq(qg, "q"), hk(kg, "k"), hv(vg, "v"), hd(decay, "decay"), hs0(s0, "s0"),
                        ho(og, "o"), hs(sg, "state");
                    auto call = [&] {
                        detail::run_kernel(s.library, [&] { return fn(hq, hk, hv, hd, scale, false, hs0, ho, hs); });
                    };
                    call();
                    err = relative_error(og, o_cpu);
                    ms = median_ms(call, og, repeats);
                }
            } catch (const Error &e) {
                fmt::print("{} ({}): failed: {}\n", s.library, s.params, e.what());
                continue;
            }
            fmt::print("{:<28} {:<90} {:9.3f} ms  error {:.2e}{}\n", s.library, s.params, ms, err,
                       err <= 1e-5 ? "" : "  DISCARDED (wrong result)");
            if (err <= 1e-5) results[s.kernel].push_back({&s, ms, err});
        }
        std::vector<TuningRecord> db = read_tuning_db(db_path);
        std::time_t now = std::time(nullptr);
        char date[32];
        std::strftime(date, sizeof date, "%Y-%m-%d", std::gmtime(&now));
        fmt::print("\n| kernel | shape | default ms | best ms | best parameters |\n|---|---|---|---|---|\n");
        for (auto &[kernel, measured] : results) {
            const Measured &first = measured.front();  // the default schedule comes first in each list
            const Measured &best = *std::min_element(measured.begin(), measured.end(),
                                                     [](const Measured &a, const Measured &b) { return a.ms < b.ms; });
            const bool is_linear = kernel == "linear";
            const bool keep_default = !(best.ms < 0.98 * first.ms);
            const Measured &chosen = keep_default ? first : best;
            TuningRecord r;
            r.kernel = kernel;
            r.generator = chosen.variant->generator;
            r.fixed = parse_params(chosen.variant->fixed);
            r.target = std::string(RETNET_CUDA_TARGET_STRING) + " on " + device_name_text;
            r.bucket = is_linear ? linear_bucket(M) : sequence_bucket(T);
            r.shape = is_linear ? fmt::format("M{} K{} N{}", M, K, N) : fmt::format("B{} T{} H{} K{} V{}", B, T, H, D, D);
            r.params = parse_params(chosen.variant->params);
            r.time_ms = chosen.ms;
            r.default_ms = first.ms;
            r.date = date;
            r.tool_version = "retnet-gpu-sweep 1";
            upsert(db, r);
            fmt::print("| {} | {} | {:.3f} | {:.3f} | {} |\n", kernel, r.shape, first.ms, chosen.ms, chosen.variant->params);
        }
        write_tuning_db(db_path, db);
        fmt::print("\nwrote {}\n", db_path);
    } catch (const Error &e) {
        fmt::print(stderr, "retnet-gpu-sweep: error: {}\n", e.what());
        return 1;
    }
    return 0;
}
