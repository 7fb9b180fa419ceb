#include "generate_command.h"

#include <algorithm>
#include <chrono>
#include <optional>
#include <cstdio>
#include <memory>

#include <fmt/format.h>

#include "cli_checks.h"
#include "model_location.h"
#include "text_model.h"
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
    std::string weights = "auto";
    std::string form = "chunkwise";
    int chunk = 0;
    int64_t batch = 1;
    bool ignore_eos = false;
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
    if (o.prompt.empty()) throw Error("--prompt: expected some text, got an empty prompt");
    if (o.max_tokens < 0) throw Error(fmt::format("--max-tokens: expected >= 0, got {}", o.max_tokens));
    const Device device = parse_device(o.device);
    require_device(device);
    const std::string dir = o.model_dir.empty() ? default_model_dir() : o.model_dir;

    const TextModel text_model = load_text_model(dir, device, parse_weight_storage(o.weights));
    const Model &model = text_model.model;
    const Tokenizer &tokenizer = *text_model.tokenizer;
    const double load_s = text_model.load_seconds;
    const ModelConfig &c = model.config();
    const std::vector<int32_t> prompt = text_model.encode(o.prompt);
    const std::optional<int32_t> eos = o.ignore_eos ? std::nullopt : tokenizer.eos_id();
    // Only ids the tokenizer can write are sampled: a model's embedding may have more rows than
    // its vocabulary (padding to a round size), and those rows were never trained to be chosen.
    const int64_t sampled_vocab = std::min(c.vocab_size, tokenizer.vocab_size());

    DecodeSession session(model, o.batch);
    auto t0 = clock::now();
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
    // The text of each sample as it grows: the prompt's tokens go through the stream first (and
    // are not printed) so that the continuation's first token is not read as the text's start.
    std::vector<TokenTextStream> streams(static_cast<size_t>(o.batch), TokenTextStream(tokenizer));
    for (TokenTextStream &s : streams) {
        for (int32_t id : prompt) s.push(id);
    }
    std::vector<std::string> texts(static_cast<size_t>(o.batch));
    std::vector<bool> ended(static_cast<size_t>(o.batch), false);
    std::vector<int32_t> next(static_cast<size_t>(o.batch));
    int64_t generated = 0, steps = 0;
    t0 = clock::now();
    for (int64_t step = 0; step < o.max_tokens; step++) {
        for (size_t s = 0; s < next.size(); s++) {
            const std::vector<float> &logits = session.last_logits(session.ids()[s]);
            next[s] = samplers[s].sample(logits.data(), sampled_vocab);
            if (ended[s]) continue;
            generated++;
            if (eos && next[s] == *eos) {  // the end of the text: nothing printed for it
                ended[s] = true;
                continue;
            }
            const std::string piece = streams[s].push(next[s]);
            texts[s] += piece;
            if (stream) {
                std::fwrite(piece.data(), 1, piece.size(), stdout);
                std::fflush(stdout);
            }
        }
        steps++;
        if (std::all_of(ended.begin(), ended.end(), [](bool e) { return e; })) break;
        if (step + 1 < o.max_tokens) session.step(next);  // the last token's logits are not needed
    }
    const double gen_s = seconds_since(t0);
    for (size_t s = 0; s < texts.size(); s++) {
        const std::string rest = streams[s].flush();
        texts[s] += rest;
        if (stream) std::fwrite(rest.data(), 1, rest.size(), stdout);
    }
    if (stream) {
        std::fputc('\n', stdout);
    } else {
        for (size_t s = 0; s < texts.size(); s++) fmt::print("--- sample {} (seed {}) ---\n{}{}\n", s, o.sampling.seed + s, o.prompt, texts[s]);
    }
    const int64_t length = static_cast<int64_t>(prompt.size()) + steps;
    const double kv_bytes = 2.0 * double(c.layers) * double(length) * double(c.embed_dim) * 4.0 * double(o.batch);
    fmt::print(stderr,
               "\nmodel {} ({:.2f} M parameters, {} layout, {} tokenizer) on {}: load {:.3f} s\n"
               "prompt: {} tokens in {:.3f} s ({:.0f} tokens/s, {} form)\n"
               "generated: {} tokens in {:.3f} s ({:.1f} tokens/s, {:.2f} ms per step for {} sequence(s))\n"
               "decoding state: {} for {} sequence(s), the same at any length; a Transformer of the same size "
               "(fp32 KV cache, {} layers x d {}) would hold {} at {} tokens\n",
               dir, c.parameter_count() / 1e6, dialect_name(c.dialect), tokenizer.kind(), device_name(device), load_s, prompt.size(), prompt_s,
               prompt.size() / prompt_s, form_name(form), generated, gen_s, generated / gen_s,
               steps > 1 ? gen_s * 1e3 / double(steps - 1) : 0.0, o.batch,
               human_bytes(double(session.state().memory_bytes())), o.batch, c.layers, c.embed_dim,
               human_bytes(kv_bytes), length);
}

}  // namespace

void add_generate_command(CLI::App &app) {
    auto o = std::make_shared<GenerateOptions>();
    CLI::App *cmd = app.add_subcommand("generate", "Continue a prompt (default model: the shipped KJV model)");
    cmd->add_option("--model,-m", o->model_dir, "model directory (default: models/kjv-byte)");
    cmd->add_option("--prompt,-p", o->prompt, "text to continue")->capture_default_str();
    cmd->add_option("--max-tokens,-n", o->max_tokens, "tokens to generate at most (generation stops at EOS)")->capture_default_str()->check(IntegerIn(0, kMaxGeneratedTokens));
    cmd->add_option("--temperature", o->sampling.temperature, "sampling temperature (0: greedy)")->capture_default_str();
    cmd->add_option("--top-k", o->sampling.top_k, "keep the k most likely tokens (0: all)")->capture_default_str()->check(IntegerIn(0, 1 << 24));
    cmd->add_option("--top-p", o->sampling.top_p, "keep the most likely tokens up to this probability mass")->capture_default_str();
    cmd->add_option("--seed", o->sampling.seed, "random seed: the same seed gives the same text")->capture_default_str()->check(Unsigned64());
    cmd->add_option("--device,-d", o->device, "cpu, cuda or opencl")->capture_default_str();
    add_weights_option(cmd, &o->weights);
    cmd->add_option("--form", o->form, "how the prompt is prefilled: parallel or chunkwise")->capture_default_str();
    cmd->add_option("--chunk", o->chunk, "chunk length of the chunkwise prefill (0: 64)")->check(IntegerIn(0, 1 << 16));
    cmd->add_option("--batch", o->batch, "samples of the prompt, decoded together")->capture_default_str()->check(IntegerIn(1, 4096));
    cmd->add_flag("--ignore-eos", o->ignore_eos, "generate --max-tokens tokens even past the end-of-text token");
    cmd->callback([o] { run_generate(*o); });
}

}  // namespace retnet::apps
