#include "bench_command.h"

#include <algorithm>
#include <fstream>
#include <memory>
#include <random>
#include <thread>
#include <cstdlib>

#include <optional>

#include <fmt/format.h>

#include "HalideRuntime.h"
#include "retnet/error.h"
#include "retnet/files.h"
#include "retnet/retention.h"
#include "build_info.h"
#include "random_tensor.h"
#include "timing.h"
#include "work_counts.h"

namespace retnet::apps {
namespace {

// One (B, T, H, K, V) row of the sequence forms.
struct SequenceShape {
    int64_t B, T, H, K, V;
};

// The fp32 shapes of docs/ANCHORS.md, measured there for fla on an H200.
const std::vector<SequenceShape> kGpuAnchorShapes{
    {8, 1024, 8, 64, 64}, {4, 2048, 16, 128, 128}, {2, 16384, 16, 128, 128}, {4, 4096, 8, 128, 256}, {1, 8192, 96, 128, 128}};

struct BenchOptions {
    std::string device = "cpu";
    std::vector<int64_t> seq_lens{256, 2048, 8192};
    int64_t parallel_max_t = 2048;  // the parallel form is O(T^2): longer T only when asked
    int64_t batch = 1, heads = 8, key_dim = 64, value_dim = 128;
    int chunk = kDefaultChunk;
    std::vector<std::string> forms{"parallel", "chunkwise", "recurrent"};
    std::vector<int64_t> decode_batches{1, 8, 64};
    std::vector<int64_t> decode_heads{16};
    int64_t decode_key_dim = 128, decode_value_dim = 128;
    bool full = false;
    bool no_decode = false, decode_only = false;  // one kind of row (side-by-side scripts time a row at a time)
    int threads = 0;
    TimingPolicy timing;
    std::string csv_path;
};

struct Row {
    std::string kernel;
    int64_t B, T, H, K, V, C;
    Timing timing;
    WorkCount work;
};

// The default decay for the first 48 heads; beyond that (where 1 - 2^(-5-h) rounds to 1) the
// bench cycles through them again: the decay values do not change the work.
RetentionOptions bench_options(int64_t heads) {
    RetentionOptions options;
    std::vector<double> first = default_decay(std::min<int64_t>(heads, 48));
    for (int64_t h = 0; h < heads; h++) options.decay.push_back(first[static_cast<size_t>(h % 48)]);
    return options;
}

Row bench_sequence_form(Form form, const SequenceShape &s, Device device, const BenchOptions &opt, std::mt19937 &rng) {
    const int64_t B = s.B, T = s.T, H = s.H, K = s.K, V = s.V;
    Tensor q = random_tensor({B, T, H, K}, device, rng), k = random_tensor({B, T, H, K}, device, rng);
    Tensor v = random_tensor({B, T, H, V}, device, rng);
    Tensor o = Tensor::empty({B, T, H, V}, device), state = Tensor::empty({B, H, K, V}, device);
    const RetentionOptions options = bench_options(H);
    std::function<void()> call;
    switch (form) {
    case Form::parallel:
        call = [&] { retention_parallel(q, k, v, o, options, nullptr, &state); };
        break;
    case Form::recurrent:
        call = [&] { retention_recurrent(q, k, v, o, options, nullptr, &state); };
        break;
    default:
        call = [&] { retention_chunkwise(q, k, v, o, opt.chunk, options, nullptr, &state); };
        break;
    }
    // GPU kernels run asynchronously: the timed region ends when they have finished.
    Timing timing = time_call([&] { call(); o.synchronize(); }, opt.timing);
    return {form_name(form), B, T, H, K, V, form == Form::chunkwise ? opt.chunk : 0, timing,
            sequence_work(B, T, H, K, V, opt.chunk)};
}

// The decode step, `steps` calls issued back to back, then one synchronisation; the per-step time
// is reported. steps = 1 is the synchronised step ("decode_step"). On a GPU, kQueuedSteps
// ("decode_queue") separates the host's cost of issuing a step (this runtime, Halide's and the
// driver's) from the round trip of waiting for each one.
constexpr int kQueuedSteps = 32;
Row bench_decode(int64_t B, int64_t H, Device device, const BenchOptions &opt, std::mt19937 &rng, int steps) {
    const int64_t K = opt.decode_key_dim, V = opt.decode_value_dim;
    Tensor q = random_tensor({B, H, K}, device, rng), k = random_tensor({B, H, K}, device, rng);
    Tensor v = random_tensor({B, H, V}, device, rng);
    // A state decays by gamma each step: random values stay finite over many repeats.
    Tensor state = random_tensor({B, H, K, V}, device, rng), o = Tensor::empty({B, H, V}, device);
    const RetentionOptions options = bench_options(H);
    Timing timing = time_call(
        [&] {
            for (int i = 0; i < steps; i++) retention_decode_step(q, k, v, state, o, options);
            o.synchronize();
        },
        opt.timing);
    timing.median_ms /= steps;
    timing.min_ms /= steps;
    return {steps == 1 ? "decode_step" : "decode_queue", B, 1, H, K, V, 0, timing, decode_step_work(B, H, K, V)};
}

void print_table(const std::vector<Row> &rows) {
    fmt::print("{:<12} {:>4} {:>6} {:>4} {:>4} {:>4} {:>4} {:>11} {:>9} {:>8}\n", "kernel", "B", "T", "H", "K", "V", "C",
               "ms (median)", "GFLOP/s", "GB/s");
    for (const Row &r : rows) {
        const double seconds = r.timing.median_ms / 1e3;
        fmt::print("{:<12} {:>4} {:>6} {:>4} {:>4} {:>4} {:>4} {:>11.4f} {:>9.1f} {:>8.1f}\n", r.kernel, r.B, r.T, r.H, r.K,
                   r.V, r.C == 0 ? std::string("-") : std::to_string(r.C), r.timing.median_ms,
                   r.work.flops / seconds / 1e9, r.work.bytes / seconds / 1e9);
    }
}

void write_csv(const std::vector<Row> &rows, Device device, AtomicOutputFile &out) {
    out.write("commit,machine,device,kernel,B,T,H,K,V,C,median_ms,min_ms,repeats,gflop,gbyte,gflops,gbps\n");
    const std::string build = fmt::format("{},{},{}", build_commit(), machine_name(), device_name(device));
    for (const Row &r : rows) {
        const double seconds = r.timing.median_ms / 1e3;
        out.write(fmt::format("{},{},{},{},{},{},{},{},{:.6f},{:.6f},{},{:.6f},{:.6f},{:.3f},{:.3f}\n", build, r.kernel, r.B, r.T, r.H,
                              r.K, r.V, r.C, r.timing.median_ms, r.timing.min_ms, r.timing.repeats, r.work.flops / 1e9,
                              r.work.bytes / 1e9, r.work.flops / seconds / 1e9, r.work.bytes / seconds / 1e9));
    }
    out.commit();
}

void run_bench(BenchOptions opt, const CLI::App &cmd) {
    const Device device = parse_device(opt.device);
    require_device(device);  // a missing driver or device: a clear error, exit status 1
    const bool gpu = device != Device::cpu;
    if (gpu && cmd.count("--chunk") == 0) opt.chunk = 64;
    if (gpu && cmd.count("--decode-batches") == 0) opt.decode_batches = {1, 8, 64, 256};
    if (gpu && cmd.count("--decode-heads") == 0) opt.decode_heads = {16, 32};
    if (opt.full) {
        opt.seq_lens = {256, 1024, 2048, 4096, 8192, 16384};
        opt.parallel_max_t = 16384;
        if (!gpu) opt.decode_batches = {1, 2, 4, 8, 16, 32, 64};
    }
    if (opt.no_decode && opt.decode_only) throw Error("--no-decode and --decode-only: expected at most one, got both");
    if (opt.decode_only) opt.forms.clear();
    if (opt.no_decode) opt.decode_heads.clear();
    std::vector<Form> forms;
    for (const std::string &name : opt.forms) {
        Form f = parse_form(name);
        if (f == Form::automatic) throw Error("--forms: name the forms to time (parallel, chunkwise, recurrent), not auto");
        forms.push_back(f);
    }
    // Refuse what would fail later before spending minutes timing: the chunk and the CSV path.
    const std::vector<int> chunks = supported_chunk_lengths(device);
    if (std::find(forms.begin(), forms.end(), Form::chunkwise) != forms.end() &&
        std::find(chunks.begin(), chunks.end(), opt.chunk) == chunks.end()) {
        throw Error(fmt::format("--chunk: expected one of {} on {}, got {}", fmt::join(chunks, ", "), device_name(device),
                                opt.chunk));
    }
    std::optional<AtomicOutputFile> csv;  // an existing file is replaced only by a complete one
    if (!opt.csv_path.empty()) csv.emplace(opt.csv_path, "--csv");
    // The shapes: on a GPU the fp32 rows of docs/ANCHORS.md unless --seq-lens is given; on the CPU,
    // B H K V from the options at each --seq-lens.
    std::vector<SequenceShape> shapes;
    if (gpu && cmd.count("--seq-lens") == 0 && !opt.full) {
        shapes = kGpuAnchorShapes;
    } else {
        for (int64_t T : opt.seq_lens) shapes.push_back({opt.batch, T, opt.heads, opt.key_dim, opt.value_dim});
    }
    // Halide's CPU thread pool uses HL_NUM_THREADS, else one thread per core.
    int threads = opt.threads;
    if (threads > 0) {
        halide_set_num_threads(threads);
    } else {
        const char *env = std::getenv("HL_NUM_THREADS");
        threads = env ? std::atoi(env) : static_cast<int>(std::thread::hardware_concurrency());
    }
    if (gpu) {
        fmt::print("retnet bench: fp32 on {}; FLOPs and bytes as docs/SEMANTICS.md §3, counted with chunk {} for every form\n",
                   device_name(device), opt.chunk);
    } else {
        fmt::print("retnet bench: fp32 on the CPU, {} thread(s); FLOPs and bytes as docs/SEMANTICS.md §3, counted with "
                   "chunk {} for every form\n",
                   threads, opt.chunk);
    }
    std::mt19937 rng(1234);
    std::vector<Row> rows;
    for (Form form : forms) {
        for (const SequenceShape &s : shapes) {
            if (form == Form::parallel && s.T > opt.parallel_max_t) continue;
            rows.push_back(bench_sequence_form(form, s, device, opt, rng));
        }
    }
    for (int64_t H : opt.decode_heads) {
        for (int64_t B : opt.decode_batches) {
            rows.push_back(bench_decode(B, H, device, opt, rng, 1));
            if (gpu) rows.push_back(bench_decode(B, H, device, opt, rng, kQueuedSteps));
        }
    }
    print_table(rows);
    if (!opt.csv_path.empty()) {
        write_csv(rows, device, *csv);
        fmt::print("wrote {} rows to {}\n", rows.size(), opt.csv_path);
    }
}

}  // namespace

void add_bench_command(CLI::App &app) {
    auto opt = std::make_shared<BenchOptions>();
    CLI::App *cmd = app.add_subcommand("bench", "Time the retention kernels (a quick default set; --full for all)");
    cmd->add_option("--device,-d", opt->device, "where to run: cpu, cuda or opencl")->capture_default_str();
    cmd->add_option("--seq-lens,-T", opt->seq_lens, "sequence lengths of the sequence forms (GPU default: docs/ANCHORS.md shapes)")->capture_default_str();
    cmd->add_option("--parallel-max-t", opt->parallel_max_t, "longest T timed for the O(T^2) parallel form")->capture_default_str();
    cmd->add_option("--batch,-B", opt->batch, "batch size of the sequence forms")->capture_default_str()->check(CLI::Range(1, 1 << 20));
    cmd->add_option("--heads,-H", opt->heads, "heads of the sequence forms")->capture_default_str()->check(CLI::Range(1, 1 << 16));
    cmd->add_option("--key-dim,-K", opt->key_dim, "key dimension per head")->capture_default_str();
    cmd->add_option("--value-dim,-V", opt->value_dim, "value dimension per head")->capture_default_str();
    cmd->add_option("--chunk,-C", opt->chunk, "chunk length of the chunkwise form")->capture_default_str();
    cmd->add_option("--forms", opt->forms, "forms to time")->capture_default_str();
    cmd->add_option("--decode-batches", opt->decode_batches, "batch sizes of the decode step (GPU default: 1 8 64 256)")->capture_default_str();
    cmd->add_option("--decode-heads", opt->decode_heads, "head counts of the decode step (GPU default: 16 32)")->capture_default_str();
    cmd->add_option("--decode-key-dim", opt->decode_key_dim, "K of the decode step")->capture_default_str();
    cmd->add_option("--decode-value-dim", opt->decode_value_dim, "V of the decode step")->capture_default_str();
    cmd->add_flag("--full", opt->full, "T from 256 to 16384 for every form, decode B from 1 to 64");
    cmd->add_flag("--no-decode", opt->no_decode, "time the sequence forms only");
    cmd->add_flag("--decode-only", opt->decode_only, "time the decode step only");
    cmd->add_option("--threads", opt->threads, "worker threads (default: Halide's, one per core)")->check(CLI::Range(0, 1024));
    cmd->add_option("--warmup", opt->timing.warmup, "untimed calls before timing")->capture_default_str()->check(CLI::Range(0, 1000));
    cmd->add_option("--repeats", opt->timing.min_repeats, "minimum timed calls (the median is reported)")->capture_default_str()->check(CLI::Range(1, 100000));
    cmd->add_option("--min-seconds", opt->timing.min_seconds, "minimum timed seconds per row")->capture_default_str();
    cmd->add_option("--csv", opt->csv_path, "also write the rows to this CSV file");
    cmd->callback([opt, cmd] { run_bench(*opt, *cmd); });
}

}  // namespace retnet::apps
