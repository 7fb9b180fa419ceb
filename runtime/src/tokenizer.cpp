// Tokenizer::load: which tokenizer a model directory has, and the checks common to all of them.
#include <filesystem>
#include <fstream>
#include <sstream>

#include "retnet/error.h"
#include "tokenizer_internal.h"

namespace retnet {
namespace tokenizer_detail {

std::string read_file(const std::string &path, uint64_t max_bytes) {
    std::error_code ec;
    const auto status = std::filesystem::status(path, ec);
    if (ec || !std::filesystem::exists(status)) throw Error(path + ": no such file");
    if (!std::filesystem::is_regular_file(status)) throw Error(path + ": not a regular file");
    const uint64_t size = std::filesystem::file_size(path, ec);
    if (ec) throw Error(path + ": cannot read its size: " + ec.message());
    if (size > max_bytes) {
        throw Error(path + ": " + std::to_string(size) + " bytes, more than the " +
                    std::to_string(max_bytes) + " a tokenizer file may have");
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error(path + ": cannot open");
    std::string bytes(size, '\0');
    in.read(bytes.data(), static_cast<std::streamsize>(size));
    if (static_cast<uint64_t>(in.gcount()) != size) throw Error(path + ": read failed");
    return bytes;
}

void Access::apply(Tokenizer &tokenizer, const std::string &source, int64_t model_vocab,
                   std::optional<int32_t> bos, std::optional<int32_t> eos) {
    const int64_t n = tokenizer.vocab_size();
    if (model_vocab > 0 && n > model_vocab) {
        throw Error(source + ": the tokenizer has " + std::to_string(n) +
                    " ids but the model's vocab_size is " + std::to_string(model_vocab));
    }
    if (bos) tokenizer.bos_ = bos;
    if (eos) tokenizer.eos_ = eos;
    const int64_t limit = model_vocab > 0 ? std::max(model_vocab, n) : n;
    for (const auto &[name, id] : {std::pair{"bos", tokenizer.bos_}, std::pair{"eos", tokenizer.eos_}}) {
        if (id && (*id < 0 || *id >= limit)) {
            throw Error(source + ": " + name + " token id " + std::to_string(*id) +
                        " is outside the vocabulary [0, " + std::to_string(limit) + ")");
        }
    }
}

}  // namespace tokenizer_detail

std::unique_ptr<Tokenizer> Tokenizer::load(const std::string &dir, int64_t vocab_size,
                                           std::optional<int32_t> bos, std::optional<int32_t> eos) {
    namespace fs = std::filesystem;
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) throw Error(dir + ": not a directory (a model directory holds the tokenizer)");
    const auto present = [&](const char *name) {
        std::error_code e;
        return fs::exists(fs::path(dir) / name, e);
    };
    std::unique_ptr<Tokenizer> tokenizer;
    std::string source;
    if (present("tokenizer.json")) {
        source = (fs::path(dir) / "tokenizer.json").string();
        tokenizer = tokenizer_detail::load_hf_json(source);
    } else if (present("tokenizer.model") || present("spiece.model")) {
        source = (fs::path(dir) / (present("tokenizer.model") ? "tokenizer.model" : "spiece.model")).string();
        tokenizer = tokenizer_detail::load_sentencepiece(source);
    } else if (vocab_size == 256) {
        source = dir + " (byte-level tokenizer)";
        tokenizer = tokenizer_detail::make_byte_tokenizer();
    } else {
        throw Error(dir + ": no tokenizer: looked for tokenizer.json, tokenizer.model and spiece.model "
                          "(only a model with vocab_size 256 may go without, with the byte-level tokenizer; "
                          "this one has vocab_size " +
                    std::to_string(vocab_size) + ")");
    }
    tokenizer_detail::Access::apply(*tokenizer, source, vocab_size, bos, eos);
    return tokenizer;
}

std::vector<int32_t> tokenize_text(const std::string &dir, std::string_view text, bool add_bos,
                                   int64_t vocab_size, std::optional<int32_t> bos,
                                   std::optional<int32_t> eos) {
    return Tokenizer::load(dir, vocab_size, bos, eos)->encode(text, add_bos);
}

}  // namespace retnet
