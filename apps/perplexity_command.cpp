#include "perplexity_command.h"

#include <chrono>
#include <filesystem>
#include <cmath>
#include <fstream>
#include <memory>

#include <fmt/format.h>

#include "cli_checks.h"
#include "model_location.h"
#include "progress.h"
#include "text_model.h"
#include "text_token_stream.h"
#include "retnet/error.h"
#include "retnet/files.h"
#include "retnet/model.h"

namespace retnet::apps {
namespace {

// A window's logits are [window, vocab] floats: 2^20 tokens of a byte-level model are 1 GiB of them.
constexpr int64_t kMaxWindow = int64_t(1) << 20;

struct PerplexityOptions {
    std::string model_dir, text_path;
    std::string form = "chunkwise";
    int chunk = 0;
    int64_t window = 2048;
    std::string device = "cpu";
    std::string weights = "auto";
    bool progress = true;
    double progress_interval = 2.0;
};

// -log2 softmax(logits)[target], in double.
double bits_of(const float *logits, int64_t vocab, int32_t target) {
    double top = logits[0];
    for (int64_t i = 1; i < vocab; i++) top = std::max(top, double(logits[i]));
    double sum = 0;
    for (int64_t i = 0; i < vocab; i++) sum += std::exp(double(logits[i]) - top);
    return (std::log(sum) + top - double(logits[target])) / std::log(2.0);
}

void run_perplexity(const PerplexityOptions &o) {
    const Form form = parse_form(o.form);
    if (form == Form::automatic) throw Error("--form: expected parallel, chunkwise or recurrent, got auto");
    if (o.window < 1 || o.window > kMaxWindow) {
        throw Error(fmt::format("--window: expected 1 to {} tokens, got {}", kMaxWindow, o.window));
    }
    const Device device = parse_device(o.device);
    require_device(device);
    require_regular_file(o.text_path, "text file");
    const uint64_t total_bytes = std::filesystem::file_size(o.text_path);
    const TextModel text_model = load_text_model(o.model_dir.empty() ? default_model_dir() : o.model_dir, device,
                                                 parse_weight_storage(o.weights));
    const Model &model = text_model.model;
    const Tokenizer &tokenizer = *text_model.tokenizer;
    const int64_t vocab = model.config().vocab_size;
    TextTokenStream tokens(o.text_path, tokenizer, true);
    DecodeState state = model.new_state(1);
    const auto start = std::chrono::steady_clock::now();
    // Each window's last prediction needs the next window's first token: read one token ahead.
    std::vector<int32_t> window;
    int32_t next = 0;
    bool more = tokens.next(next);
    if (!more) throw Error(fmt::format("{}: the text is empty", o.text_path));
    double bits = 0;
    int64_t predicted = 0, predicted_bytes = 0;
    Progress progress("perplexity", total_bytes, o.progress, o.progress_interval);
    while (more) {
        window.clear();
        while (static_cast<int64_t>(window.size()) < o.window && more) {
            window.push_back(next);
            more = tokens.next(next);
        }
        const int64_t T = static_cast<int64_t>(window.size());
        Tensor logits = model.forward(window, 1, T, state, form, o.chunk).to(Device::cpu);
        for (int64_t t = 0; t < T; t++) {
            if (t + 1 == T && !more) break;  // the last token predicts nothing
            const int32_t target = t + 1 < T ? window[static_cast<size_t>(t + 1)] : next;
            bits += bits_of(logits.data() + t * vocab, vocab, target);
            predicted++;
            predicted_bytes += static_cast<int64_t>(tokenizer.token_bytes(target).size());
        }
        progress.update(static_cast<uint64_t>(predicted_bytes));
    }
    progress.finish();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (predicted == 0) throw Error(fmt::format("{}: one token predicts nothing: expected a longer text", o.text_path));
    // Per byte: the bits over the bytes of the predicted tokens (for the byte vocabulary, every
    // byte but the first), comparable across tokenizers; per token: the model's own unit.
    const double per_byte = predicted_bytes ? bits / double(predicted_bytes) : 0.0, per_token = bits / double(predicted);
    fmt::print("{}: {:.4f} bits per byte over {} predicted bytes; {:.4f} bits per token over {} predicted tokens "
               "(perplexity {:.3f} per token); {} tokenizer, {} form, windows of {} tokens, on {}: {:.1f} s ({:.0f} "
               "bytes/s)\n",
               o.text_path, per_byte, predicted_bytes, per_token, predicted, std::exp2(per_token),
               tokenizer.kind(), form_name(form), o.window, device_name(device), seconds, double(predicted_bytes) / seconds);
}

}  // namespace

void add_perplexity_command(CLI::App &app) {
    auto o = std::make_shared<PerplexityOptions>();
    CLI::App *cmd = app.add_subcommand("perplexity", "Bits per byte and per token of a model over a text file (any length)");
    cmd->add_option("--model", o->model_dir, "model directory (default: the shipped models/kjv-byte)");
    cmd->add_option("--text", o->text_path, "text file (read as bytes)")->required();
    cmd->add_option("--form", o->form, "parallel, chunkwise or recurrent")->capture_default_str();
    cmd->add_option("--chunk", o->chunk, "chunk length of the chunkwise form (0: 64)")->check(IntegerIn(0, 1 << 16));
    cmd->add_option("--window", o->window, "tokens per forward call; the state carries across")->capture_default_str()->check(IntegerIn(1, kMaxWindow));
    cmd->add_option("--device", o->device, "cpu, cuda or opencl")->capture_default_str();
    add_weights_option(cmd, &o->weights);
    cmd->add_flag("!--no-progress", o->progress, "no progress lines on stderr");
    cmd->add_option("--progress-interval", o->progress_interval, "seconds between progress lines")
        ->capture_default_str()
        ->check(CLI::Range(0.0, 3600.0));
    cmd->callback([o] { run_perplexity(*o); });
}

}  // namespace retnet::apps
