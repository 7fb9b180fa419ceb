#include "bench_model_command.h"

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <memory>
#include <numeric>
#include <optional>
#include <random>
#include <thread>

#include <fmt/format.h>

#include "build_info.h"
#include "cli_checks.h"
#include "model_presets.h"
#include "retnet/error.h"
#include "retnet/files.h"
#include "retnet/model.h"
#include "timing.h"

namespace retnet::apps {
namespace {

struct BenchModelOptions {
    std::string device = "cpu";
    std::string preset = "small";
    std::string model_dir;  // a checkpoint to load (timed) instead of random weights
    std::string weights = "auto";
    ModelConfig config;
    int64_t tokens = 2048, batch = 1;
    std::vector<int64_t> decode_batches{1, 8, 64};
    int decode_steps = 8;
    int chunk = 0;
    std::vector<std::string> forms{"chunkwise"};
    int repeats = 3;
    std::string csv_path;
    // Overrides of the preset's dimensions (0: the preset's).
    int64_t layers = 0, dim = 0, heads = 0, value_dim = 0, ffn_dim = 0, vocab = 0;
};

// Matrix FLOPs per token (every projection, the FFN and the head) and retention's, counted as
// docs/SEMANTICS.md §3 with the chunk length.
double flops_per_token(const ModelConfig &c, int chunk) {
    const double d = double(c.embed_dim), hk = double(c.key_width()), hv = double(c.value_embed_dim), f = double(c.ffn_dim);
    const double per_layer = 2.0 * (2 * d * hk + 2 * d * hv + hv * d + 3 * d * f);
    const double H = double(c.heads), K = double(c.key_dim()), V = double(c.value_dim());
    const double retention = 2.0 * H * (chunk * K + chunk * V + 2 * K * V);
    return double(c.layers) * (per_layer + retention) + 2.0 * d * double(c.vocab_size);
}

double peak_rss_mb() {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    return double(usage.ru_maxrss) / 1024.0;  // KiB on Linux
}

// Bytes a second one copy moves (counting the bytes read), the best of a few: on the CPU every
// core copying its part of two 256 MB buffers; on a GPU, one device-to-device copy of 512 MB.
double copy_bandwidth(Device device) {
    double best = 0;
    if (device == Device::cpu) {
        const size_t bytes = size_t(256) << 20;
        std::vector<char> src(bytes, 1), dst(bytes, 0);
        const size_t workers = std::max(1u, std::thread::hardware_concurrency());
        for (int rep = 0; rep < 5; rep++) {
            const auto t0 = std::chrono::steady_clock::now();
            std::vector<std::thread> threads;
            for (size_t w = 0; w < workers; w++) {
                threads.emplace_back([&, w] {
                    const size_t first = bytes * w / workers, last = bytes * (w + 1) / workers;
                    std::memcpy(dst.data() + first, src.data() + first, last - first);
                });
            }
            for (std::thread &t : threads) t.join();
            best = std::max(best, double(bytes) / std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
        }
        return best;
    }
    const int64_t floats = int64_t(128) << 20;
    Tensor a = Tensor::zeros({floats}, device), b = Tensor::empty({floats}, device);
    b.copy_from(a);
    b.synchronize();
    for (int rep = 0; rep < 5; rep++) {
        const auto t0 = std::chrono::steady_clock::now();
        b.copy_from(a);
        b.synchronize();
        best = std::max(best, double(floats * 4) / std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    return best;
}

// Bytes a second the cores read (every core reading its part of a 1 GB buffer, the best of a few):
// a decode step only reads its weights, and with a copy's writes halving what it can read, a
// streaming kernel beats the copy figure. On a GPU: the copy bandwidth (no read-only probe there).
double read_bandwidth(Device device) {
    if (device != Device::cpu) return copy_bandwidth(device);
    const size_t words = size_t(128) << 20;
    std::vector<uint64_t> data(words, 1);
    const size_t workers = std::max(1u, std::thread::hardware_concurrency());
    double best = 0;
    std::vector<uint64_t> sums(workers);
    for (int rep = 0; rep < 5; rep++) {
        const auto t0 = std::chrono::steady_clock::now();
        std::vector<std::thread> threads;
        for (size_t w = 0; w < workers; w++) {
            threads.emplace_back([&, w] {
                const uint64_t *first = data.data() + words * w / workers, *last = data.data() + words * (w + 1) / workers;
                uint64_t x = 0;
                for (const uint64_t *p = first; p < last; p++) x ^= *p;  // vectorised: the loads are the work
                sums[w] = x;
            });
        }
        for (std::thread &t : threads) t.join();
        best = std::max(best, double(words * 8) / std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    if (std::accumulate(sums.begin(), sums.end(), uint64_t(0)) == 42) std::fputc(' ', stderr);  // keep the reads
    return best;
}

struct Row {
    std::string phase;
    int64_t batch, tokens;
    Timing timing;
    double tokens_per_s, ms_per_token, gflop, bound_ms;
    int64_t launches = 0;   // a CUDA decode step's kernels, replayed from one graph
    double floor_ms = 0.0;  // their launch floor (cuda_graph_launch_floor_ms)
};

void run_bench_model(BenchModelOptions o) {
    const Device device = parse_device(o.device);
    require_device(device);
    const WeightStorage storage = parse_weight_storage(o.weights);
    const int chunk = o.chunk == 0 ? kDefaultChunk : o.chunk;
    std::vector<Form> forms;
    for (const std::string &name : o.forms) {
        Form f = parse_form(name);
        if (f == Form::automatic) throw Error("--forms: name the forms to time (parallel, chunkwise, recurrent), not auto");
        forms.push_back(f);
    }

    // The model: a checkpoint, loaded twice (the first load warms the page cache; the second is
    // timed), or random weights of a preset's shape.
    std::optional<Model> model;
    double load_s = 0, checkpoint_bytes = 0;
    std::string label = o.preset;
    if (!o.model_dir.empty()) {
        namespace fs = std::filesystem;
        for (const auto &entry : fs::directory_iterator(o.model_dir)) {
            if (entry.path().extension() == ".safetensors") checkpoint_bytes += double(entry.file_size());
        }
        model.emplace(Model::load(o.model_dir, device, storage));
        model.reset();
        const auto t0 = std::chrono::steady_clock::now();
        model.emplace(Model::load(o.model_dir, device, storage));
        load_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        label = fs::path(o.model_dir).filename().string();
    } else {
        ModelConfig &c = o.config;
        c = preset_config(o.preset);
        if (o.layers) c.layers = o.layers;
        if (o.dim) c.embed_dim = c.key_embed_dim = o.dim;
        if (o.heads) c.heads = o.heads;
        if (o.value_dim) c.value_embed_dim = o.value_dim;
        if (o.ffn_dim) c.ffn_dim = o.ffn_dim;
        if (o.vocab) c.vocab_size = o.vocab;
        c.validate("retnet bench-model");
        model.emplace(Model::random(c, 42, device, storage));
    }
    const ModelConfig &c = model->config();
    const double bandwidth = copy_bandwidth(device), read = read_bandwidth(device);
    const double step_bound_ms = double(model->decode_weight_bytes()) / read * 1e3;
    fmt::print("retnet bench-model {}: {} layers, d {}, {} heads (K {}, V {}), FFN {}, vocab {}: {:.1f} M parameters, "
               "weights {} ({:.0f} MB) on {}\n",
               label, c.layers, c.embed_dim, c.heads, c.key_dim(), c.value_dim(), c.ffn_dim, c.vocab_size,
               c.parameter_count() / 1e6, weight_storage_name(storage), model->weight_bytes() / 1e6, device_name(device));
    if (load_s > 0) {
        fmt::print("load (page cache): {:.2f} s for {:.0f} MB of checkpoint: {:.2f} GB/s\n", load_s, checkpoint_bytes / 1e6,
                   checkpoint_bytes / load_s / 1e9);
    }
    fmt::print("copy bandwidth {:.1f} GB/s, read bandwidth {:.1f} GB/s{}; a decode step reads {:.0f} MB of weights: bound {:.3f} "
               "ms a step at the read bandwidth\n",
               bandwidth / 1e9, read / 1e9, device == Device::cpu ? "" : " (the copy's)", model->decode_weight_bytes() / 1e6,
               step_bound_ms);

    std::mt19937 rng(7);
    std::uniform_int_distribution<int32_t> id(0, static_cast<int32_t>(c.vocab_size - 1));
    std::vector<Row> rows;
    for (Form form : forms) {
        std::vector<int32_t> tokens(static_cast<size_t>(o.batch * o.tokens));
        for (int32_t &t : tokens) t = id(rng);
        TimingPolicy policy;
        policy.warmup = form == Form::recurrent ? 0 : 1;
        policy.min_repeats = form == Form::recurrent ? 1 : o.repeats;
        policy.min_seconds = 0;
        Timing t = time_call(
            [&] {
                DecodeState state = model->new_state(o.batch);
                Tensor logits = model->forward(tokens, o.batch, o.tokens, state, form, chunk);
                logits.synchronize();
            },
            policy);
        const double n = double(tokens.size());
        rows.push_back({fmt::format("prefill_{}", form_name(form)), o.batch, o.tokens, t, n / (t.median_ms / 1e3),
                        t.median_ms / n, flops_per_token(c, chunk) * n / 1e9, 0});
    }
    // On CUDA each batch is timed twice: kernel by kernel, then replayed from a captured graph.
    std::vector<bool> graph_modes = device == Device::cuda ? std::vector<bool>{false, true} : std::vector<bool>{false};
    for (int64_t B : o.decode_batches) {
        for (bool graphs : graph_modes) {
            model->set_cuda_graphs(graphs);
            // Decode steps after a short prefill: each step one token for each of B sequences.
            DecodeState state = model->new_state(B);
            std::vector<int32_t> prompt(static_cast<size_t>(B * 16));
            for (int32_t &t : prompt) t = id(rng);
            model->forward(prompt, B, 16, state, Form::chunkwise).synchronize();
            std::vector<int32_t> step(static_cast<size_t>(B));
            TimingPolicy policy;
            policy.warmup = 2;  // the first step of a batch loads modules, the second captures its graph
            policy.min_repeats = o.decode_steps;
            policy.min_seconds = 0;
            Timing t = time_call(
                [&] {
                    for (int32_t &token : step) token = id(rng);
                    model->decode_step(step, state).synchronize();
                },
                policy);
            Row row{device == Device::cuda && !graphs ? "decode_kernels" : "decode", B, 1, t,
                    double(B) / (t.median_ms / 1e3), t.median_ms, flops_per_token(c, 1) * double(B) / 1e9, step_bound_ms};
            if (graphs) {
                const Model::DecodeGraphStatus status = model->decode_graph_status();
                if (status.replaying) {
                    row.launches = status.kernels;
                    row.floor_ms = cuda_graph_launch_floor_ms(status.kernels);
                } else {
                    fmt::print("decode B {}: not replayed from a CUDA graph: {}\n", B, status.note);
                }
            }
            rows.push_back(row);
        }
    }
    model->set_cuda_graphs(true);

    fmt::print("{:<18} {:>4} {:>6} {:>11} {:>11} {:>12} {:>9} {:>10} {:>8} {:>9}\n", "phase", "B", "T", "ms", "ms/token",
               "tokens/s", "GFLOP/s", "bound ms", "launches", "floor ms");
    for (const Row &r : rows) {
        fmt::print("{:<18} {:>4} {:>6} {:>11.3f} {:>11.4f} {:>12.1f} {:>9.1f} {:>10} {:>8} {:>9}\n", r.phase, r.batch,
                   r.tokens, r.timing.median_ms, r.ms_per_token, r.tokens_per_s, r.gflop / (r.timing.median_ms / 1e3),
                   r.bound_ms > 0 ? fmt::format("{:.3f}", r.bound_ms) : "-",
                   r.launches > 0 ? fmt::format("{}", r.launches) : "-",
                   r.launches > 0 ? fmt::format("{:.3f}", r.floor_ms) : "-");
    }
    const double peak_mb = peak_rss_mb();
    fmt::print("peak resident memory {:.0f} MB\n", peak_mb);
    if (!o.csv_path.empty()) {
        AtomicOutputFile csv(o.csv_path, "--csv");  // an existing file is replaced only by a complete one
        csv.write("commit,machine,device,model,weights,phase,B,T,median_ms,min_ms,repeats,ms_per_token,tokens_per_s,"
                  "gflop,bound_ms,weight_mb,copy_gbps,read_gbps,load_s,peak_mb,launches,floor_ms\n");
        for (const Row &r : rows) {
            csv.write(fmt::format("{},{},{},{},{},{},{},{},{:.4f},{:.4f},{},{:.5f},{:.2f},{:.3f},{:.4f},{:.1f},{:.2f},{:.2f},{:.3f},{:.0f},{},{:.4f}\n",
                                  build_commit(), machine_name(), device_name(device), label,
                                  weight_storage_name(storage), r.phase, r.batch, r.tokens, r.timing.median_ms,
                                  r.timing.min_ms, r.timing.repeats, r.ms_per_token, r.tokens_per_s, r.gflop, r.bound_ms,
                                  model->weight_bytes() / 1e6, bandwidth / 1e9, read / 1e9, load_s, peak_mb,
                                  r.launches, r.floor_ms));
        }
        csv.commit();
    }
}

}  // namespace

void add_bench_model_command(CLI::App &app) {
    auto o = std::make_shared<BenchModelOptions>();
    CLI::App *cmd = app.add_subcommand(
        "bench-model", "Time a whole model: prefill tokens/s, decode ms per step against the weight-streaming bound, "
                       "load, memory");
    cmd->add_option("--device,-d", o->device, "cpu, cuda or opencl")->capture_default_str();
    std::string preset_help = "random weights of these dimensions:";
    for (const Preset &p : presets()) preset_help += fmt::format(" {} ({});", p.name, p.about);
    cmd->add_option("--preset", o->preset, preset_help)->capture_default_str();
    cmd->add_option("--model,-m", o->model_dir, "load this checkpoint instead (its load from the page cache is timed)");
    add_weights_option(cmd, &o->weights);
    cmd->add_option("--layers", o->layers, "decoder_layers (0: the preset's)")->check(IntegerIn(0, 1024));
    cmd->add_option("--dim", o->dim, "decoder_embed_dim, and the key width (0: the preset's)")->check(IntegerIn(0, 1 << 17));
    cmd->add_option("--heads", o->heads, "decoder_retention_heads (0: the preset's)")->check(IntegerIn(0, 1 << 17));
    cmd->add_option("--value-dim", o->value_dim, "decoder_value_embed_dim (0: the preset's)")->check(IntegerIn(0, 1 << 17));
    cmd->add_option("--ffn-dim", o->ffn_dim, "decoder_ffn_embed_dim (0: the preset's)")->check(IntegerIn(0, 1 << 20));
    cmd->add_option("--vocab", o->vocab, "vocab_size (0: the preset's)")->check(IntegerIn(0, (1 << 24) - 1));
    cmd->add_option("--tokens,-T", o->tokens, "prefill tokens per sequence")->capture_default_str()->check(IntegerIn(1, 1 << 24));
    cmd->add_option("--batch,-B", o->batch, "prefill sequences")->capture_default_str()->check(IntegerIn(1, 1 << 16));
    cmd->add_option("--decode-batches", o->decode_batches, "sequences per decode step, one row each")
        ->capture_default_str()
        ->check(IntegerIn(1, 1 << 16));
    cmd->add_option("--decode-steps", o->decode_steps, "timed decode steps per batch (median)")
        ->capture_default_str()
        ->check(IntegerIn(1, 100000));
    cmd->add_option("--chunk,-C", o->chunk, "chunk length of the chunkwise form (0: 64)")->check(IntegerIn(0, 1 << 16));
    cmd->add_option("--forms", o->forms, "prefill forms to time (parallel, chunkwise, recurrent)")->capture_default_str();
    cmd->add_option("--repeats", o->repeats, "timed prefills per form (median)")->capture_default_str()->check(IntegerIn(1, 1000));
    cmd->add_option("--csv", o->csv_path, "also write the rows to this CSV file");
    cmd->callback([o] { run_bench_model(*o); });
}

}  // namespace retnet::apps
