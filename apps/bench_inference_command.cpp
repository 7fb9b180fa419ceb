#include "bench_inference_command.h"

#include <functional>
#include <memory>
#include <new>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "build_info.h"
#include "cli_checks.h"
#include "model_presets.h"
#include "retnet/error.h"
#include "retnet/files.h"
#include "retnet/model.h"
#include "retnet/transformer.h"
#include "timing.h"

namespace retnet::apps {
namespace {

struct BenchInferenceOptions {
    std::string device = "cpu";
    std::string preset = "small";
    std::string weights = "f32";
    std::string cache = "f32";
    int64_t layers = 0;  // 0: the preset's
    std::vector<int64_t> contexts{1024, 2048, 4096, 8192, 16384, 32768};
    std::vector<int64_t> batches{1, 4, 16, 64};
    int64_t batch_context = 8192;
    std::vector<int64_t> prefill_lengths{1024, 2048, 4096};
    int steps = 5;
    std::string csv_path;
};

// One measurement: a model, what was measured, at which batch and context; or why it could not be.
struct Point {
    std::string model, measure;
    int64_t batch, context;
    double ms = 0, tokens_per_s = 0, state_mb = 0;
    std::string status = "ok";
};

// Runs `measure`, turning a refusal (a cache or state that does not fit, an allocation the device
// refused) into a point that says so, so that one large point does not end the run.
Point measured(const std::string &model, const std::string &measure, int64_t batch, int64_t context,
               const std::function<void(Point &)> &run) {
    Point p{model, measure, batch, context};
    try {
        run(p);
    } catch (const Error &e) {
        p.status = fmt::format("does not fit: {}", e.what());
    } catch (const std::bad_alloc &) {
        p.status = "does not fit: the host's memory ran out";
    }
    return p;
}

std::vector<int32_t> random_tokens(int64_t n, int64_t vocab, std::mt19937 &rng) {
    std::uniform_int_distribution<int32_t> id(0, static_cast<int32_t>(vocab - 1));
    std::vector<int32_t> tokens(static_cast<size_t>(n));
    for (int32_t &t : tokens) t = id(rng);
    return tokens;
}

void run_bench_inference(const BenchInferenceOptions &o) {
    const Device device = parse_device(o.device);
    require_device(device);
    const WeightStorage storage = parse_weight_storage(o.weights);
    const CacheStorage cache = parse_cache_storage(o.cache, "--cache");
    ModelConfig rc = preset_config(o.preset);
    if (o.layers) rc.layers = o.layers;
    rc.validate("retnet bench-inference");
    const TransformerConfig tc = transformer_like(rc);
    const Model retnet = Model::random(rc, 42, device, storage);
    const TransformerModel transformer = TransformerModel::random(tc, 43, device, storage);
    fmt::print("retnet bench-inference {} on {}, weights {}, KV cache {}:\n", o.preset, device_name(device),
               weight_storage_name(storage), cache_storage_name(cache));
    fmt::print("  RetNet: {} layers, d {}, {} heads (K {}, V {}), FFN {}: {:.1f} M parameters, {:.0f} MB of weights\n",
               rc.layers, rc.embed_dim, rc.heads, rc.key_dim(), rc.value_dim(), rc.ffn_dim, rc.parameter_count() / 1e6,
               retnet.weight_bytes() / 1e6);
    fmt::print("  Transformer: {} layers, d {}, {} heads of {}, SwiGLU FFN {}: {:.1f} M parameters, {:.0f} MB of weights\n",
               tc.layers, tc.embed_dim, tc.heads, tc.head_dim(), tc.ffn_dim, tc.parameter_count() / 1e6,
               transformer.weight_bytes() / 1e6);

    std::mt19937 rng(11);
    TimingPolicy policy;
    policy.warmup = 1;
    policy.min_repeats = o.steps;
    policy.min_seconds = 0;
    // One decode step of B sequences at `context` tokens each, without prefilling the context: the
    // cost of a step does not depend on what the RetNet's state or the Transformer's caches hold,
    // so fresh ones are moved to the position (the caches then hold zeros).
    auto retnet_step = [&](int64_t B, int64_t context, Point &p) {
        DecodeState state = retnet.new_state(B);
        for (int64_t &pos : state.positions) pos = context;
        p.state_mb = state.memory_bytes() / 1e6;
        const std::vector<int32_t> step = random_tokens(B, rc.vocab_size, rng);
        const Timing t = time_call([&] { retnet.decode_step(step, state).synchronize(); }, policy);
        p.ms = t.median_ms;
        p.tokens_per_s = double(B) / (t.median_ms / 1e3);
    };
    auto transformer_step = [&](int64_t B, int64_t context, Point &p) {
        TransformerState state = transformer.new_state(B, context + policy.warmup + o.steps + 1, cache);
        p.state_mb = state.memory_bytes() / 1e6;
        transformer.set_length(state, context);
        const std::vector<int32_t> step = random_tokens(B, tc.vocab_size, rng);
        const Timing t = time_call([&] { transformer.forward(step, B, 1, state).synchronize(); }, policy);
        p.ms = t.median_ms;
        p.tokens_per_s = double(B) / (t.median_ms / 1e3);
    };
    std::vector<Point> points;
    auto both = [&](const std::string &measure, int64_t B, int64_t context) {
        points.push_back(measured("retnet", measure, B, context, [&](Point &p) { retnet_step(B, context, p); }));
        points.push_back(measured("transformer", measure, B, context, [&](Point &p) { transformer_step(B, context, p); }));
    };
    for (int64_t context : o.contexts) both("decode_latency", 1, context);
    for (int64_t B : o.batches) both("throughput", B, o.batch_context);
    TimingPolicy once = policy;
    once.min_repeats = 1;
    for (int64_t T : o.prefill_lengths) {
        const std::vector<int32_t> tokens = random_tokens(T, rc.vocab_size, rng);
        points.push_back(measured("retnet", "prefill", 1, T, [&](Point &p) {
            const Timing t = time_call(
                [&] {
                    DecodeState state = retnet.new_state(1);
                    retnet.forward(tokens, 1, T, state, Form::chunkwise, 0, false).synchronize();
                },
                once);
            p.ms = t.median_ms;
            p.tokens_per_s = double(T) / (t.median_ms / 1e3);
        }));
        points.push_back(measured("transformer", "prefill", 1, T, [&](Point &p) {
            const Timing t = time_call(
                [&] {
                    TransformerState state = transformer.new_state(1, T, cache);
                    transformer.forward(tokens, 1, T, state).synchronize();
                },
                once);
            p.ms = t.median_ms;
            p.tokens_per_s = double(T) / (t.median_ms / 1e3);
        }));
    }

    fmt::print("{:<12} {:<15} {:>4} {:>8} {:>11} {:>11} {:>11}  {}\n", "model", "measure", "B", "context", "ms",
               "tokens/s", "state MB", "status");
    for (const Point &p : points) {
        fmt::print("{:<12} {:<15} {:>4} {:>8} {:>11.3f} {:>11.1f} {:>11.1f}  {}\n", p.model, p.measure, p.batch,
                   p.context, p.ms, p.tokens_per_s, p.state_mb, p.status);
    }
    if (!o.csv_path.empty()) {
        AtomicOutputFile csv(o.csv_path, "--csv");
        csv.write("commit,machine,device,preset,weights,cache,model,measure,B,context,ms,tokens_per_s,weight_mb,state_mb,status\n");
        for (const Point &p : points) {
            const double weight_mb = (p.model == "retnet" ? retnet.weight_bytes() : transformer.weight_bytes()) / 1e6;
            std::string status = p.status;
            for (char &ch : status) {
                if (ch == ',' || ch == '\n') ch = ';';
            }
            csv.write(fmt::format("{},{},{},{},{},{},{},{},{},{},{:.4f},{:.2f},{:.1f},{:.1f},{}\n", build_commit(),
                                  machine_name(), device_name(device), o.preset, weight_storage_name(storage),
                                  cache_storage_name(cache), p.model,
                                  p.measure, p.batch, p.context, p.ms, p.tokens_per_s, weight_mb, p.state_mb, status));
        }
        csv.commit();
    }
}

}  // namespace

void add_bench_inference_command(CLI::App &app) {
    auto o = std::make_shared<BenchInferenceOptions>();
    CLI::App *cmd = app.add_subcommand(
        "bench-inference", "RetNet against a Transformer of the same size: decode latency by context, throughput by "
                           "batch, memory, prefill time (the paper's inference comparison)");
    cmd->add_option("--device,-d", o->device, "cpu, cuda or opencl")->capture_default_str();
    std::string preset_help = "dimensions of both models:";
    for (const Preset &p : presets()) preset_help += fmt::format(" {} ({});", p.name, p.about);
    cmd->add_option("--preset", o->preset, preset_help)->capture_default_str();
    cmd->add_option("--weights", o->weights, "weight storage of both models: f32 or bf16")->capture_default_str();
    cmd->add_option("--cache", o->cache, "the Transformer's KV cache: f32 or bf16 (half the memory, rounded to nearest)")
        ->capture_default_str();
    cmd->add_option("--layers", o->layers, "layers of both (0: the preset's)")->check(IntegerIn(0, 1024));
    cmd->add_option("--contexts", o->contexts, "context lengths of the latency sweep (B 1)")
        ->capture_default_str()
        ->check(IntegerIn(1, 1 << 20));
    cmd->add_option("--batches", o->batches, "batch sizes of the throughput sweep")->capture_default_str()->check(IntegerIn(1, 1 << 12));
    cmd->add_option("--batch-context", o->batch_context, "context length of the throughput sweep")
        ->capture_default_str()
        ->check(IntegerIn(1, 1 << 20));
    cmd->add_option("--prefill-lengths", o->prefill_lengths, "prompt lengths of the prefill sweep (B 1)")
        ->capture_default_str()
        ->check(IntegerIn(1, 1 << 20));
    cmd->add_option("--steps", o->steps, "timed decode steps per point (median)")->capture_default_str()->check(IntegerIn(1, 1000));
    cmd->add_option("--csv", o->csv_path, "also write the points to this CSV file");
    cmd->callback([o] { run_bench_inference(*o); });
}

}  // namespace retnet::apps
