#include "perplexity_command.h"

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <cmath>
#include <fstream>
#include <memory>

#include <fmt/format.h>

#include "cli_checks.h"
#include "model_location.h"
#include "retnet/error.h"
#include "retnet/files.h"
#include "retnet/model.h"

namespace retnet::apps {
namespace {

// A window's logits are [window, vocab] floats: 2^20 bytes of a byte-level model is 1 GiB of them.
constexpr int64_t kMaxWindow = int64_t(1) << 20;

struct PerplexityOptions {
    std::string model_dir, text_path;
    std::string form = "chunkwise";
    int chunk = 0;
    int64_t window = 2048;
    std::string device = "cpu";
    bool progress = true;
    double progress_interval = 2.0;
};

// A line on stderr at most every --progress-interval seconds (2): bytes done, rate, time left. On a terminal it
// rewrites itself; into a log it appends.
class Progress {
public:
    Progress(uint64_t total_bytes, bool enabled, double interval)
        : total_(total_bytes), interval_(interval), enabled_(enabled), tty_(isatty(2) != 0) {}

    void update(uint64_t done) {
        const auto now = std::chrono::steady_clock::now();
        if (!enabled_ || std::chrono::duration<double>(now - last_).count() < interval_) return;
        last_ = now;
        const double seconds = std::chrono::duration<double>(now - start_).count();
        const double rate = seconds > 0 ? double(done) / seconds : 0;
        const double left = rate > 0 ? double(total_ - std::min(done, total_)) / rate : 0;
        fmt::print(stderr, "{}perplexity: {:.1f} of {:.1f} MB ({:.0f}%), {:.1f} KB/s, {:.0f} s left{}", tty_ ? "\r" : "",
                   done / 1e6, total_ / 1e6, total_ ? 100.0 * double(done) / double(total_) : 100.0, rate / 1e3, left,
                   tty_ ? "   " : "\n");
        printed_ = true;
    }
    void finish() {
        if (printed_ && tty_) fmt::print(stderr, "\n");
    }

private:
    uint64_t total_;
    double interval_;
    bool enabled_, tty_, printed_ = false;
    std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now(), last_ = start_;
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
        throw Error(fmt::format("--window: expected 1 to {} bytes, got {}", kMaxWindow, o.window));
    }
    const Device device = parse_device(o.device);
    require_device(device);
    require_regular_file(o.text_path, "text file");
    std::ifstream in(o.text_path, std::ios::binary);
    if (!in) throw Error(fmt::format("{}: cannot open the text file", o.text_path));
    const uint64_t total_bytes = std::filesystem::file_size(o.text_path);
    const std::string dir = o.model_dir.empty() ? default_model_dir() : o.model_dir;
    const Model model = Model::load(dir, device);
    const int64_t vocab = model.config().vocab_size;
    if (vocab < 256) throw Error(fmt::format("{}: perplexity reads bytes: expected a byte-level model (vocab_size >= 256), got {}", dir, vocab));
    DecodeState state = model.new_state(1);
    const auto start = std::chrono::steady_clock::now();
    // Each window's last prediction needs the next window's first byte: read one byte ahead.
    std::vector<int32_t> window;
    int next = in.get();
    if (next == EOF) throw Error(fmt::format("{}: the text is empty", o.text_path));
    double bits = 0;
    int64_t predicted = 0;
    uint64_t consumed = 0;
    Progress progress(total_bytes, o.progress, o.progress_interval);
    while (next != EOF) {
        window.clear();
        while (static_cast<int64_t>(window.size()) < o.window && next != EOF) {
            window.push_back(next);
            next = in.get();
        }
        const int64_t T = static_cast<int64_t>(window.size());
        Tensor logits = model.forward(window, 1, T, state, form, o.chunk).to(Device::cpu);
        for (int64_t t = 0; t < T; t++) {
            const int target = t + 1 < T ? window[static_cast<size_t>(t + 1)] : next;
            if (target == EOF) break;  // the last byte predicts nothing
            bits += bits_of(logits.data() + t * vocab, vocab, target);
            predicted++;
        }
        consumed += static_cast<uint64_t>(T);
        progress.update(consumed);
    }
    progress.finish();
    progress.finish();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (predicted == 0) throw Error(fmt::format("{}: one byte predicts nothing: expected at least 2 bytes", o.text_path));
    fmt::print("{}: {:.4f} bits per byte over {} predicted bytes (perplexity {:.3f} per byte); {} form, windows of {}, on "
               "{}: {:.1f} s ({:.0f} bytes/s)\n", o.text_path, bits / predicted, predicted, std::exp2(bits / predicted),
               form_name(form), o.window, device_name(device), seconds, predicted / seconds);
}

}  // namespace

void add_perplexity_command(CLI::App &app) {
    auto o = std::make_shared<PerplexityOptions>();
    CLI::App *cmd = app.add_subcommand("perplexity", "Bits per byte of a byte-level model over a text file");
    cmd->add_option("--model", o->model_dir, "model directory (default: the shipped models/kjv-byte)");
    cmd->add_option("--text", o->text_path, "text file (read as bytes)")->required();
    cmd->add_option("--form", o->form, "parallel, chunkwise or recurrent")->capture_default_str();
    cmd->add_option("--chunk", o->chunk, "chunk length of the chunkwise form (0: 64)")->check(IntegerIn(0, 1 << 16));
    cmd->add_option("--window", o->window, "bytes per forward call; the state carries across")->capture_default_str()->check(IntegerIn(1, kMaxWindow));
    cmd->add_option("--device", o->device, "cpu, cuda or opencl")->capture_default_str();
    cmd->add_flag("!--no-progress", o->progress, "no progress lines on stderr");
    cmd->add_option("--progress-interval", o->progress_interval, "seconds between progress lines")
        ->capture_default_str()->check(CLI::Range(0.0, 3600.0));
    cmd->callback([o] { run_perplexity(*o); });
}

}  // namespace retnet::apps
