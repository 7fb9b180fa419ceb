#include "bench_model_command.h"

#include <optional>
#include <memory>
#include <random>

#include <fmt/format.h>

#include "build_info.h"
#include "cli_checks.h"
#include "retnet/error.h"
#include "retnet/files.h"
#include "retnet/model.h"
#include "timing.h"

namespace retnet::apps {
namespace {

struct BenchModelOptions {
    std::string device = "cpu";
    ModelConfig config;
    int64_t tokens = 2048, batch = 1;
    int chunk = 0;
    std::vector<std::string> forms{"parallel", "chunkwise", "recurrent"};
    int repeats = 3;
    std::string csv_path;

    BenchModelOptions() {
        // RetNet at d = 768 as the paper sizes it: head dimension 256, value and FFN dimensions 2d.
        config.embed_dim = 768;
        config.value_embed_dim = 1536;
        config.heads = 3;
        config.ffn_dim = 1536;
        config.layers = 12;
        config.vocab_size = 32000;
        config.activation = Activation::swish;
    }
};

// Matrix FLOPs per token (every projection, the FFN and the head) and retention's, counted as
// docs/SEMANTICS.md §3 with the chunk length.
double flops_per_token(const ModelConfig &c, int chunk) {
    const double d = double(c.embed_dim), hv = double(c.value_embed_dim), f = double(c.ffn_dim);
    const double per_layer = 2.0 * (2 * d * d + 3 * d * hv + 3 * d * f);
    const double H = double(c.heads), K = double(c.key_dim()), V = double(c.value_dim());
    const double retention = 2.0 * H * (chunk * K + chunk * V + 2 * K * V);
    return double(c.layers) * (per_layer + retention) + 2.0 * d * double(c.vocab_size);
}

void run_bench_model(BenchModelOptions o) {
    const Device device = parse_device(o.device);
    require_device(device);
    o.config.validate("retnet bench-model");
    std::vector<Form> forms;
    for (const std::string &name : o.forms) {
        Form f = parse_form(name);
        if (f == Form::automatic) throw Error("--forms: name the forms to time (parallel, chunkwise, recurrent), not auto");
        forms.push_back(f);
    }
    const int chunk = o.chunk == 0 ? kDefaultChunk : o.chunk;
    const ModelConfig &c = o.config;
    fmt::print("retnet bench-model: {} layers, d {}, {} heads (K {}, V {}), FFN {}, vocab {}: {:.1f} M parameters "
               "({:.0f} MB fp32) on {}\n",
               c.layers, c.embed_dim, c.heads, c.key_dim(), c.value_dim(), c.ffn_dim, c.vocab_size,
               c.parameter_count() / 1e6, c.parameter_count() * 4 / 1e6, device_name(device));
    Model model = Model::random(c, 42, device);
    std::mt19937 rng(7);
    std::uniform_int_distribution<int32_t> id(0, static_cast<int32_t>(c.vocab_size - 1));
    std::vector<int32_t> tokens(static_cast<size_t>(o.batch * o.tokens));
    for (int32_t &t : tokens) t = id(rng);
    const double gflop = flops_per_token(c, chunk) * double(tokens.size()) / 1e9;

    fmt::print("{:<10} {:>3} {:>6} {:>10} {:>10} {:>12} {:>9}\n", "form", "B", "T", "ms", "ms/token", "tokens/s", "GFLOP/s");
    std::optional<AtomicOutputFile> csv;  // an existing file is replaced only by a complete one
    if (!o.csv_path.empty()) {
        csv.emplace(o.csv_path, "--csv");
        csv->write("commit,machine,device,form,B,T,layers,d,heads,vocab,median_ms,min_ms,repeats,gflop\n");
    }
    for (Form form : forms) {
        TimingPolicy policy;
        policy.warmup = form == Form::recurrent ? 0 : 1;
        policy.min_repeats = form == Form::recurrent ? 1 : o.repeats;
        policy.min_seconds = 0;
        Timing t = time_call(
            [&] {
                DecodeState state = model.new_state(o.batch);
                Tensor logits = model.forward(tokens, o.batch, o.tokens, state, form, chunk);
                logits.synchronize();
            },
            policy);
        const double n = double(tokens.size());
        fmt::print("{:<10} {:>3} {:>6} {:>10.1f} {:>10.3f} {:>12.1f} {:>9.1f}\n", form_name(form), o.batch, o.tokens,
                   t.median_ms, t.median_ms / n, n / (t.median_ms / 1e3), gflop / (t.median_ms / 1e3));
        if (csv) {
            csv->write(fmt::format("{},{},{},{},{},{},{},{},{},{},{:.3f},{:.3f},{},{:.3f}\n", build_commit(), machine_name(),
                                   device_name(device), form_name(form), o.batch, o.tokens,
                                   c.layers, c.embed_dim, c.heads, c.vocab_size, t.median_ms, t.min_ms, t.repeats, gflop));
        }
    }
    if (csv) csv->commit();
}

}  // namespace

void add_bench_model_command(CLI::App &app) {
    auto o = std::make_shared<BenchModelOptions>();
    CLI::App *cmd = app.add_subcommand("bench-model", "Time a random-weight model's logits for a batch of sequences, per form");
    cmd->add_option("--device,-d", o->device, "cpu, cuda or opencl")->capture_default_str();
    cmd->add_option("--tokens,-T", o->tokens, "tokens per sequence")->capture_default_str()->check(IntegerIn(1, 1 << 24));
    cmd->add_option("--batch,-B", o->batch, "sequences")->capture_default_str()->check(IntegerIn(1, 1 << 16));
    cmd->add_option("--layers", o->config.layers, "decoder_layers")->capture_default_str()->check(IntegerIn(1, 1024));
    cmd->add_option("--dim", o->config.embed_dim, "decoder_embed_dim")->capture_default_str()->check(IntegerIn(1, 1 << 17));
    cmd->add_option("--heads", o->config.heads, "decoder_retention_heads")->capture_default_str()->check(IntegerIn(1, 1 << 17));
    cmd->add_option("--value-dim", o->config.value_embed_dim, "decoder_value_embed_dim")->capture_default_str()->check(IntegerIn(1, 1 << 17));
    cmd->add_option("--ffn-dim", o->config.ffn_dim, "decoder_ffn_embed_dim")->capture_default_str()->check(IntegerIn(1, 1 << 20));
    cmd->add_option("--vocab", o->config.vocab_size, "vocab_size")->capture_default_str()->check(IntegerIn(1, (1 << 24) - 1));
    cmd->add_option("--chunk,-C", o->chunk, "chunk length of the chunkwise form (0: 64)")->check(IntegerIn(0, 1 << 16));
    cmd->add_option("--forms", o->forms, "forms to time")->capture_default_str();
    cmd->add_option("--repeats", o->repeats, "timed runs of the parallel and chunkwise forms (median)")->capture_default_str()->check(IntegerIn(1, 1000));
    cmd->add_option("--csv", o->csv_path, "also write the rows to this CSV file");
    cmd->callback([o] { run_bench_model(*o); });
}

}  // namespace retnet::apps
