#include "logits_command.h"

#include <chrono>
#include <memory>

#include <fmt/format.h>

#include "cli_checks.h"
#include "retnet/error.h"
#include "retnet/model.h"
#include "retnet/npy.h"
#include "retnet/tokenizer.h"
#include "token_file.h"

namespace retnet::apps {
namespace {

struct LogitsOptions {
    std::string model_dir, tokens_path, text, out_path;
    std::string form = "chunkwise";
    int chunk = 0;
    std::string device = "cpu";
    std::string weights = "auto";
};

double seconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void run_logits(const LogitsOptions &o) {
    const Form form = parse_form(o.form);
    if (form == Form::automatic) throw Error("--form: expected parallel, chunkwise or recurrent, got auto");
    if (o.tokens_path.empty() == o.text.empty()) throw Error("expected one of --tokens FILE and --text TEXT");
    const Device device = parse_device(o.device);
    require_device(device);
    std::vector<int32_t> tokens;
    if (!o.tokens_path.empty()) tokens = read_token_file(o.tokens_path);
    // Created now, so that an unwritable --out is reported before the model runs; the file
    // appears only once complete.
    AtomicOutputFile out(o.out_path, "--out");
    auto start = std::chrono::steady_clock::now();
    const Model model = Model::load(o.model_dir, device, parse_weight_storage(o.weights));
    const double load_s = seconds_since(start);
    if (!o.text.empty()) {  // only then a tokenizer: token ids need none (load_text_model requires one)
        const ModelConfig &c = model.config();
        tokens = Tokenizer::load(o.model_dir, c.vocab_size, c.bos_id, c.eos_id)->encode(o.text, true);
    }
    DecodeState state = model.new_state(1);
    const int64_t T = static_cast<int64_t>(tokens.size());
    start = std::chrono::steady_clock::now();
    Tensor logits = model.forward(tokens, 1, T, state, form, o.chunk).to(Device::cpu);
    const double run_s = seconds_since(start);
    write_npy(out, logits.reshape({T, model.config().vocab_size}));
    fmt::print("{}: logits [{}, {}] ({} form on {}): load {:.3f} s, forward {:.3f} s ({:.1f} tokens/s)\n", o.out_path, T,
               model.config().vocab_size, form_name(form), device_name(device), load_s, run_s, T / run_s);
}

}  // namespace

void add_logits_command(CLI::App &app) {
    auto options = std::make_shared<LogitsOptions>();
    CLI::App *cmd = app.add_subcommand("logits", "Write a model's logits [T, vocab] for a token sequence or a text as .npy");
    cmd->add_option("--model", options->model_dir, "directory with config.json and model.safetensors")->required();
    cmd->add_option("--tokens", options->tokens_path, "file of whitespace-separated token ids");
    cmd->add_option("--text", options->text, "text, encoded by the model's tokenizer (BOS first when it has one)");
    cmd->add_option("--out", options->out_path, "output .npy file (float32 [T, vocab])")->required();
    cmd->add_option("--form", options->form, "parallel, chunkwise or recurrent")->capture_default_str();
    cmd->add_option("--chunk", options->chunk, "chunk length of the chunkwise form (0: the default, 64)")->check(IntegerIn(0, 1 << 16));
    cmd->add_option("--device", options->device, "cpu, cuda or opencl")->capture_default_str();
    add_weights_option(cmd, &options->weights);
    cmd->callback([options] { run_logits(*options); });
}

}  // namespace retnet::apps
