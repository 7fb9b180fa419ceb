#include "tokenize_command.h"

#include <cstdio>
#include <memory>

#include <fmt/format.h>

#include "retnet/error.h"
#include "retnet/files.h"
#include "retnet/model_config.h"
#include "retnet/tokenizer.h"
#include "token_file.h"

namespace retnet::apps {
namespace {

struct TokenizeOptions {
    std::string model_dir, text, text_path, tokens_path;
    bool decode = false, no_bos = false, pieces = false;
};

// Text files to tokenize are read whole: 256 MiB bounds it (use `perplexity` for corpora).
constexpr uint64_t kMaxTextBytes = uint64_t(256) << 20;

void run_tokenize(const TokenizeOptions &o) {
    // Only the config is read (vocabulary size, special tokens), not the weights.
    const ModelConfig config = ModelConfig::load(o.model_dir + "/config.json");
    const auto tokenizer = Tokenizer::load(o.model_dir, config.vocab_size, config.bos_id, config.eos_id);
    if (o.decode) {
        if (o.tokens_path.empty()) throw Error("--decode: expected --tokens FILE with the ids to decode");
        const std::string text = tokenizer->decode(read_token_file(o.tokens_path));
        std::fwrite(text.data(), 1, text.size(), stdout);
        std::fputc('\n', stdout);
        return;
    }
    if (o.text.empty() == o.text_path.empty()) throw Error("expected one of --text TEXT and --file FILE");
    const std::string text = o.text_path.empty() ? o.text : read_text_file(o.text_path, "text file", kMaxTextBytes);
    const std::vector<int32_t> ids = tokenizer->encode(text, !o.no_bos);
    if (o.pieces) {
        for (int32_t id : ids) fmt::print("{}\t{:?}\n", id, tokenizer->token_bytes(id));
    } else {
        fmt::print("{}\n", fmt::join(ids, " "));
    }
    fmt::print(stderr, "{} tokens ({} tokenizer, {} bytes of text)\n", ids.size(), tokenizer->kind(), text.size());
}

}  // namespace

void add_tokenize_command(CLI::App &app) {
    auto o = std::make_shared<TokenizeOptions>();
    CLI::App *cmd = app.add_subcommand("tokenize", "Token ids of a text with a model's tokenizer (or --decode ids)");
    cmd->add_option("--model,-m", o->model_dir, "model directory (its config.json and tokenizer files)")->required();
    cmd->add_option("--text", o->text, "the text");
    cmd->add_option("--file", o->text_path, "a file holding the text");
    cmd->add_flag("--no-bos", o->no_bos, "no BOS token first");
    cmd->add_flag("--pieces", o->pieces, "one token a line with its bytes");
    cmd->add_flag("--decode", o->decode, "decode the ids of --tokens FILE to text");
    cmd->add_option("--tokens", o->tokens_path, "with --decode: a file of whitespace-separated ids");
    cmd->callback([o] { run_tokenize(*o); });
}

}  // namespace retnet::apps
