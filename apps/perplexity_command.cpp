#include "perplexity_command.h"

#include <chrono>
#include <cmath>
#include <fstream>
#include <memory>

#include <fmt/format.h>

#include "model_location.h"
#include "retnet/error.h"
#include "retnet/model.h"

namespace retnet::apps {
namespace {

struct PerplexityOptions {
    std::string model_dir, text_path;
    std::string form = "chunkwise";
    int chunk = 0;
    int64_t window = 2048;
    std::string device = "cpu";
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
    if (o.window < 1) throw Error(fmt::format("--window: expected at least 1 byte, got {}", o.window));
    const Device device = parse_device(o.device);
    require_device(device);
    std::ifstream in(o.text_path, std::ios::binary);
    if (!in) throw Error(fmt::format("{}: cannot open the text file", o.text_path));
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
    }
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
    cmd->add_option("--chunk", o->chunk, "chunk length of the chunkwise form (0: 64)");
    cmd->add_option("--window", o->window, "bytes per forward call; the state carries across")->capture_default_str();
    cmd->add_option("--device", o->device, "cpu, cuda or opencl")->capture_default_str();
    cmd->callback([o] { run_perplexity(*o); });
}

}  // namespace retnet::apps
