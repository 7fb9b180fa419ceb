#include "bench_attention_command.h"

#include <cmath>
#include <memory>
#include <random>

#include <fmt/format.h>

#include "build_info.h"
#include "cli_checks.h"
#include "random_tensor.h"
#include "retnet/attention.h"
#include "retnet/error.h"
#include "retnet/files.h"
#include "timing.h"

namespace retnet::apps {
namespace {

struct BenchAttentionOptions {
    std::string device = "cpu";
    int64_t batch = 1, heads = 16, head_dim = 128;
    std::vector<int64_t> contexts{1024, 4096, 8192};
    std::vector<int64_t> prefill_lengths{1024};
    int repeats = 10;
    std::string csv_path;
};

void run_bench_attention(const BenchAttentionOptions &o) {
    const Device device = parse_device(o.device);
    require_device(device);
    const int64_t B = o.batch, H = o.heads, D = o.head_dim;
    std::mt19937 rng(3);
    TimingPolicy policy;
    policy.warmup = 2;
    policy.min_repeats = o.repeats;
    policy.min_seconds = 0;
    struct Row {
        std::string phase;
        int64_t context;
        Timing timing;
        double gbps;
    };
    std::vector<Row> rows;
    const float scale = static_cast<float>(1.0 / std::sqrt(double(D)));
    for (int64_t L : o.contexts) {
        // One query per sequence over L cached positions (random keys and values).
        KvCache cache{random_tensor({B, H, D, L}, device, rng), random_tensor({B, H, L, D}, device, rng)};
        Tensor q = random_tensor({B, 1, H, D}, device, rng), out = Tensor::empty({B, 1, H, D}, device);
        const std::vector<int64_t> lengths(static_cast<size_t>(B), L);
        const Timing t = time_call(
            [&] {
                attention(q, cache, lengths, scale, out);
                out.synchronize();
            },
            policy);
        rows.push_back({"decode", L, t, 2.0 * double(cache.keys.byte_size()) / (t.median_ms / 1e3) / 1e9});
    }
    for (int64_t T : o.prefill_lengths) {
        // A prompt of T tokens into an empty cache: the append and the causal attention.
        KvCache cache = KvCache::empty(B, H, D, T, device);
        Tensor q = random_tensor({B, T, H, D}, device, rng), k = random_tensor({B, T, H, D}, device, rng);
        Tensor v = random_tensor({B, T, H, D}, device, rng), out = Tensor::empty({B, T, H, D}, device);
        const std::vector<int64_t> start(static_cast<size_t>(B), 0), lengths(static_cast<size_t>(B), T);
        const Timing t = time_call(
            [&] {
                kv_cache_append(k, v, start, cache);
                attention(q, cache, lengths, scale, out);
                out.synchronize();
            },
            policy);
        rows.push_back({"prefill", T, t, 0});
    }
    fmt::print("retnet bench-attention on {}: B {}, H {}, D {}, float32 cache\n", device_name(device), B, H, D);
    fmt::print("{:<8} {:>8} {:>12} {:>12} {:>12}\n", "phase", "context", "ms (median)", "ms (min)", "cache GB/s");
    for (const Row &r : rows) {
        fmt::print("{:<8} {:>8} {:>12.4f} {:>12.4f} {:>12}\n", r.phase, r.context, r.timing.median_ms, r.timing.min_ms,
                   r.gbps > 0 ? fmt::format("{:.1f}", r.gbps) : "-");
    }
    if (!o.csv_path.empty()) {
        AtomicOutputFile csv(o.csv_path, "--csv");
        csv.write("commit,machine,device,phase,B,H,D,context,median_ms,min_ms,cache_gbps\n");
        for (const Row &r : rows) {
            csv.write(fmt::format("{},{},{},{},{},{},{},{},{:.5f},{:.5f},{:.2f}\n", build_commit(), machine_name(),
                                  device_name(device), r.phase, B, H, D, r.context, r.timing.median_ms, r.timing.min_ms,
                                  r.gbps));
        }
        csv.commit();
    }
}

}  // namespace

void add_bench_attention_command(CLI::App &app) {
    auto o = std::make_shared<BenchAttentionOptions>();
    CLI::App *cmd = app.add_subcommand("bench-attention",
                                       "Time the Transformer baseline's attention over a KV cache (decode and prefill)");
    cmd->add_option("--device,-d", o->device, "cpu, cuda or opencl")->capture_default_str();
    cmd->add_option("--batch,-B", o->batch, "sequences")->capture_default_str()->check(IntegerIn(1, 1 << 12));
    cmd->add_option("--heads,-H", o->heads, "attention heads")->capture_default_str()->check(IntegerIn(1, 1 << 10));
    cmd->add_option("--head-dim,-D", o->head_dim, "features per head")->capture_default_str()->check(IntegerIn(1, 1 << 10));
    cmd->add_option("--contexts", o->contexts, "cached positions of the decode points")
        ->capture_default_str()
        ->check(IntegerIn(1, 1 << 20));
    cmd->add_option("--prefill-lengths", o->prefill_lengths, "prompt lengths of the prefill points")
        ->capture_default_str()
        ->check(IntegerIn(1, 1 << 20));
    cmd->add_option("--repeats", o->repeats, "timed calls per point (median)")->capture_default_str()->check(IntegerIn(1, 100000));
    cmd->add_option("--csv", o->csv_path, "also write the rows to this CSV file");
    cmd->callback([o] { run_bench_attention(*o); });
}

}  // namespace retnet::apps
