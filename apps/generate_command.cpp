#include "generate_command.h"

#include <chrono>
#include <cstdio>
#include <memory>

#include <fmt/format.h>

#include "cli_checks.h"
#include "model_location.h"
#include "retnet/decode_session.h"
#include "retnet/error.h"
#include "retnet/sampler.h"

namespace retnet::apps {
namespace {

struct GenerateOptions {
    std::string model_dir;
    std::string prompt = "And it came to pass";
    int64_t max_tokens = 300;
    SamplingOptions sampling;
    std::string device = "cpu";
    std::string form = "chunkwise";
    int chunk = 0;
    int64_t batch = 1;
};

// Generation is streamed and costs O(1) memory per token; the bound only catches typos.
constexpr int64_t kMaxGeneratedTokens = int64_t(1) << 30;

using clock = std::chrono::steady_clock;
double seconds_since(clock::time_point t) { return std::chrono::duration<double>(clock::now() - t).count(); }

std::string human_bytes(double bytes) {
    const char *units[] = {"B", "KB", "MB", "GB", "TB"};
    int u = 0;
    while (bytes >= 1024 && u < 4) {
        bytes /= 1024;
        u++;
    }
    return fmt::format("{:.1f} {}", bytes, units[u]);
}

void run_generate(GenerateOptions o) {
    o.sampling.validate();
    const Form form = parse_form(o.form);
    if (form != Form::parallel && form != Form::chunkwise) {
        throw Error(fmt::format("--form: the prompt is prefilled in parallel or chunkwise form, got '{}'", o.form));
    }
    if (o.prompt.empty()) throw Error("--prompt: expected at least one byte, got an empty prompt");
    if (o.max_tokens < 0) throw Error(fmt::format("--max-tokens: expected >= 0, got {}", o.max_tokens));
    const Device device = parse_device(o.device);
    require_device(device);
    const std::string dir = o.model_dir.empty() ? default_model_dir() : o.model_dir;

    auto t0 = clock::now();
    const Model model = Model::load(dir, device);
    const double load_s = seconds_since(t0);
    const ModelConfig &c = model.config();
    if (c.vocab_size != 256) {
        throw Error(fmt::format("{}: generate reads and writes bytes: expected a byte-level model (vocab_size 256), got {}",
                                dir, c.vocab_size));
    }
    std::vector<int32_t> prompt(o.prompt.begin(), o.prompt.end());
    for (int32_t &b : prompt) b &= 0xff;  // bytes of the prompt's UTF-8

    DecodeSession session(model, o.batch);
    t0 = clock::now();
    const int64_t first = session.join(prompt, form, o.chunk);
    const double prompt_s = seconds_since(t0);
    for (int64_t i = 1; i < o.batch; i++) session.fork(first);
    std::vector<Sampler> samplers;
    for (int64_t i = 0; i < o.batch; i++) {
        SamplingOptions s = o.sampling;
        s.seed = o.sampling.seed + static_cast<uint64_t>(i);
        samplers.emplace_back(s);
    }
    const bool stream = o.batch == 1;
    if (stream) {
        std::fwrite(o.prompt.data(), 1, o.prompt.size(), stdout);
        std::fflush(stdout);
    }
    std::vector<std::string> texts(static_cast<size_t>(o.batch));
    std::vector<int32_t> next(static_cast<size_t>(o.batch));
    t0 = clock::now();
    for (int64_t step = 0; step < o.max_tokens; step++) {
        for (size_t s = 0; s < next.size(); s++) {
            const std::vector<float> &logits = session.last_logits(session.ids()[s]);
            next[s] = samplers[s].sample(logits.data(), static_cast<int64_t>(logits.size()));
            texts[s].push_back(static_cast<char>(next[s]));
        }
        if (stream) {
            std::fputc(next[0], stdout);
            std::fflush(stdout);
        }
        if (step + 1 < o.max_tokens) session.step(next);  // the last token's logits are not needed
    }
    const double gen_s = seconds_since(t0);
    if (stream) {
        std::fputc('\n', stdout);
    } else {
        for (size_t s = 0; s < texts.size(); s++) fmt::print("--- sample {} (seed {}) ---\n{}{}\n", s, o.sampling.seed + s, o.prompt, texts[s]);
    }
    const int64_t generated = o.max_tokens * o.batch;
    const int64_t length = static_cast<int64_t>(prompt.size()) + o.max_tokens;
    const double kv_bytes = 2.0 * double(c.layers) * double(length) * double(c.embed_dim) * 4.0 * double(o.batch);
    fmt::print(stderr,
               "\nmodel {} ({:.2f} M parameters) on {}: load {:.3f} s\n"
               "prompt: {} tokens in {:.3f} s ({:.0f} tokens/s, {} form)\n"
               "generated: {} tokens in {:.3f} s ({:.1f} tokens/s, {:.2f} ms per step for {} sequence(s))\n"
               "decoding state: {} for {} sequence(s), the same at any length; a Transformer of the same size "
               "(fp32 KV cache, {} layers x d {}) would hold {} at {} tokens\n",
               dir, c.parameter_count() / 1e6, device_name(device), load_s, prompt.size(), prompt_s,
               prompt.size() / prompt_s, form_name(form), generated, gen_s, generated / gen_s,
               o.max_tokens > 1 ? gen_s * 1e3 / double(o.max_tokens - 1) : 0.0, o.batch,
               human_bytes(double(session.state().memory_bytes())), o.batch, c.layers, c.embed_dim,
               human_bytes(kv_bytes), length);
}

}  // namespace

void add_generate_command(CLI::App &app) {
    auto o = std::make_shared<GenerateOptions>();
    CLI::App *cmd = app.add_subcommand("generate", "Continue a prompt with a byte-level model (default: the shipped KJV model)");
    cmd->add_option("--model,-m", o->model_dir, "model directory (default: models/kjv-byte)");
    cmd->add_option("--prompt,-p", o->prompt, "text to continue")->capture_default_str();
    cmd->add_option("--max-tokens,-n", o->max_tokens, "bytes to generate")->capture_default_str()->check(IntegerIn(0, kMaxGeneratedTokens));
    cmd->add_option("--temperature", o->sampling.temperature, "sampling temperature (0: greedy)")->capture_default_str();
    cmd->add_option("--top-k", o->sampling.top_k, "keep the k most likely bytes (0: all)")->capture_default_str()->check(IntegerIn(0, 1 << 24));
    cmd->add_option("--top-p", o->sampling.top_p, "keep the most likely bytes up to this probability mass")->capture_default_str();
    cmd->add_option("--seed", o->sampling.seed, "random seed: the same seed gives the same text")->capture_default_str()->check(Unsigned64());
    cmd->add_option("--device,-d", o->device, "cpu, cuda or opencl")->capture_default_str();
    cmd->add_option("--form", o->form, "how the prompt is prefilled: parallel or chunkwise")->capture_default_str();
    cmd->add_option("--chunk", o->chunk, "chunk length of the chunkwise prefill (0: 64)")->check(IntegerIn(0, 1 << 16));
    cmd->add_option("--batch", o->batch, "samples of the prompt, decoded together")->capture_default_str()->check(IntegerIn(1, 4096));
    cmd->callback([o] { run_generate(*o); });
}

}  // namespace retnet::apps
