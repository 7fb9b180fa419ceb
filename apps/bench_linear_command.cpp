#include "bench_linear_command.h"

#include <charconv>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "HalideRuntime.h"
#include "build_info.h"
#include "cli_checks.h"
#include "random_tensor.h"
#include "retnet/checked.h"
#include "retnet/error.h"
#include "retnet/files.h"
#include "retnet/layers.h"
#include "timing.h"

namespace retnet::apps {
namespace {

// y [M, N] = x [M, K] W^T, W [N, K] as torch stores it.
struct ProductShape {
    int64_t M, K, N;
    std::string text;  // as given, for errors
};

// The products of a fla-1.3b prefill of 2048 tokens (bench-model's preset: d 2048, V 4096, FFN
// 2816, vocab 32000): q and k, v and g, o_proj, the FFN's fc1 and gate (timed as one plain product
// of their 5632 outputs, not the fused GLU kernel), fc2, and the output head.
const std::vector<std::string> kPrefillShapes{"2048x2048x2048", "2048x2048x4096", "2048x4096x2048",
                                              "2048x2048x5632", "2048x2816x2048", "2048x2048x32000"};

struct BenchLinearOptions {
    std::string device = "cpu";
    std::vector<std::string> weights{"f32", "bf16"};
    std::vector<std::string> shapes = kPrefillShapes;
    int threads = 0;
    TimingPolicy timing;
    std::string csv_path;
};

struct Row {
    WeightStorage storage;
    ProductShape shape;
    Timing timing;
    double weight_mb;
};

double product_flops(const ProductShape &s) {
    return 2.0 * double(s.M) * double(s.K) * double(s.N);
}

// "MxKxN": three decimal sizes from 1 to INT32_MAX (a kernel buffer's extent), nothing else.
ProductShape parse_shape(const std::string &text) {
    ProductShape shape{0, 0, 0, text};
    int64_t *sizes[] = {&shape.M, &shape.K, &shape.N};
    const char *p = text.data(), *end = text.data() + text.size();
    bool ok = true;
    for (int i = 0; i < 3 && ok; i++) {
        if (i > 0) {
            if (p == end || *p != 'x') {
                ok = false;
                break;
            }
            p++;
        }
        const auto [next, ec] = std::from_chars(p, end, *sizes[i]);  // no sign, no spaces
        ok = ec == std::errc() && next != p && *sizes[i] >= 1 && *sizes[i] <= INT32_MAX;
        p = next;
    }
    if (!ok || p != end) {
        throw Error(fmt::format("--shapes: expected MxKxN, each size from 1 to {} (e.g. 2048x2048x4096), got '{}'",
                                INT32_MAX, text));
    }
    return shape;
}

// The host memory one shape holds at its peak: x, the float32 weight and its packed copy, and y
// (on a GPU the host copies are made there first, then moved). Refused before anything is timed.
void require_shape_fits(const ProductShape &s) {
    const std::string what = fmt::format("--shapes {}", s.text);
    const int64_t padded = checked_mul((s.N + LinearWeight::kColumnPadding - 1) / LinearWeight::kColumnPadding,
                                       LinearWeight::kColumnPadding, what + ": N padded");
    const std::string total = what + ": the floats of x, the weight, its packed copy and y";
    int64_t floats = checked_mul(s.M, s.K, what + ": x [M, K]");
    floats = checked_add(floats, checked_mul(s.N, s.K, what + ": weight [N, K]"), total);
    floats = checked_add(floats, checked_mul(s.K, padded, what + ": packed weight (K x N padded)"), total);
    floats = checked_add(floats, padded, total);  // int8's scales
    floats = checked_add(floats, checked_mul(s.M, s.N, what + ": y [M, N]"), total);
    require_fits_in_memory(uint64_t(checked_mul(floats, int64_t(sizeof(float)), total)), what);
}

std::vector<WeightStorage> parse_storages(const std::vector<std::string> &names) {
    std::vector<WeightStorage> storages;
    for (const std::string &name : names) {
        WeightStorage storage;
        try {
            storage = parse_weight_storage(name);
        } catch (const Error &) {
            throw Error(fmt::format("--weights: expected f32, bf16, f16 or int8, got '{}'", name));
        }
        // The weights here are random float32: "as stored" would only be f32 again.
        if (storage == WeightStorage::as_stored) throw Error("--weights: name the storages to time (f32, bf16, f16, int8), not auto");
        storages.push_back(storage);
    }
    return storages;
}

Row bench_product(const ProductShape &s, WeightStorage storage, Device device, const BenchLinearOptions &o,
                  std::mt19937 &rng) {
    const Tensor x = random_tensor({s.M, s.K}, device, rng);
    // Packed from a host float32 weight, as a checkpoint's is; the host copy is freed before timing.
    LinearWeight weight = LinearWeight::pack(random_tensor({s.N, s.K}, Device::cpu, rng), device,
                                             fmt::format("bench {} weight", s.text), storage);
    Tensor y = Tensor::empty({s.M, s.N}, device);
    // GPU kernels run asynchronously: the timed region ends when the product has finished.
    const Timing timing = time_call([&] { linear(x, weight, y); y.synchronize(); }, o.timing);
    return {storage, s, timing, double(weight.byte_size()) / 1e6};
}

void print_table(const std::vector<Row> &rows) {
    fmt::print("{:<8} {:>6} {:>6} {:>6} {:>11} {:>10} {:>8} {:>10}\n", "weights", "M", "K", "N", "ms (median)", "ms (min)",
               "repeats", "GFLOP/s");
    for (const Row &r : rows) {
        fmt::print("{:<8} {:>6} {:>6} {:>6} {:>11.4f} {:>10.4f} {:>8} {:>10.1f}\n", weight_storage_name(r.storage),
                   r.shape.M, r.shape.K, r.shape.N, r.timing.median_ms, r.timing.min_ms, r.timing.repeats,
                   product_flops(r.shape) / (r.timing.median_ms / 1e3) / 1e9);
    }
}

void write_csv(const std::vector<Row> &rows, Device device, int threads, AtomicOutputFile &out) {
    out.write("commit,machine,device,weights,M,K,N,median_ms,min_ms,repeats,gflop,gflops,weight_mb,threads\n");
    const std::string build = fmt::format("{},{},{}", build_commit(), machine_name(), device_name(device));
    for (const Row &r : rows) {
        const double gflop = product_flops(r.shape) / 1e9;
        out.write(fmt::format("{},{},{},{},{},{:.6f},{:.6f},{},{:.6f},{:.3f},{:.3f},{}\n", build,
                              weight_storage_name(r.storage), r.shape.M, r.shape.K, r.shape.N, r.timing.median_ms,
                              r.timing.min_ms, r.timing.repeats, gflop, gflop / (r.timing.median_ms / 1e3), r.weight_mb,
                              threads));
    }
    out.commit();
}

void run_bench_linear(const BenchLinearOptions &o) {
    const Device device = parse_device(o.device);
    require_device(device);  // a missing driver or device: a clear error, exit status 1
    const std::vector<WeightStorage> requested = parse_storages(o.weights);
    // Refuse what would fail later before spending minutes timing: every shape, the CSV path.
    std::vector<ProductShape> shapes;
    for (const std::string &text : o.shapes) shapes.push_back(parse_shape(text));
    for (const ProductShape &s : shapes) require_shape_fits(s);
    std::optional<AtomicOutputFile> csv;  // an existing file is replaced only by a complete one
    if (!o.csv_path.empty()) csv.emplace(o.csv_path, "--csv");

    std::vector<WeightStorage> storages;
    for (WeightStorage storage : requested) {
        if (weight_storage_supported(storage, device)) {
            storages.push_back(storage);
        } else {
            fmt::print("note: --weights {}: skipped, this build has no {} product kernels on {}\n",
                       weight_storage_name(storage), weight_storage_name(storage), device_name(device));
        }
    }
    // Halide's CPU thread pool uses HL_NUM_THREADS, else one thread per core.
    int threads = o.threads;
    if (threads > 0) {
        halide_set_num_threads(threads);
    } else {
        const char *env = std::getenv("HL_NUM_THREADS");
        threads = env ? std::atoi(env) : static_cast<int>(std::thread::hardware_concurrency());
    }
    if (device == Device::cpu) {
        fmt::print("retnet bench-linear: y = x W^T on the CPU, {} thread(s); x and y float32, 2 M K N FLOPs\n", threads);
    } else {
        fmt::print("retnet bench-linear: y = x W^T on {}; x and y float32, 2 M K N FLOPs\n", device_name(device));
    }
    std::mt19937 rng(1234);
    std::vector<Row> rows;
    for (WeightStorage storage : storages) {
        for (const ProductShape &s : shapes) rows.push_back(bench_product(s, storage, device, o, rng));
    }
    print_table(rows);
    if (csv) {
        write_csv(rows, device, device == Device::cpu ? threads : 0, *csv);
        fmt::print("wrote {} rows to {}\n", rows.size(), o.csv_path);
    }
}

}  // namespace

void add_bench_linear_command(CLI::App &app) {
    auto o = std::make_shared<BenchLinearOptions>();
    CLI::App *cmd = app.add_subcommand(
        "bench-linear", "Time the linear (matrix product) kernels alone per weight storage and MxKxN shape "
                        "(default: the fla-1.3b prefill products at M 2048)");
    cmd->add_option("--device,-d", o->device, "cpu, cuda or opencl")
        ->check(CLI::IsMember({"cpu", "cuda", "opencl"}))
        ->capture_default_str();
    cmd->add_option("--weights", o->weights,
                    "weight storages to time: f32, bf16, f16, int8 (one not built for the device is skipped with a note)")
        ->capture_default_str();
    cmd->add_option("--shapes", o->shapes, "products y [M, N] = x [M, K] W^T, each as MxKxN")->capture_default_str();
    cmd->add_option("--threads", o->threads, "CPU worker threads (default: Halide's, one per core)")->check(IntegerIn(0, 1024));
    cmd->add_option("--warmup", o->timing.warmup, "untimed calls before timing")->capture_default_str()->check(IntegerIn(0, 1000));
    cmd->add_option("--repeats", o->timing.min_repeats, "minimum timed calls per row (the median is reported)")
        ->capture_default_str()
        ->check(IntegerIn(1, 100000));
    cmd->add_option("--csv", o->csv_path, "also write the rows to this CSV file");
    cmd->callback([o] { run_bench_linear(*o); });
}

}  // namespace retnet::apps
