// Internal to retnet_text: the factories behind Tokenizer::load and the pieces they share.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "retnet/tokenizer.h"

namespace retnet::tokenizer_detail {

// The bytes of a file of at most max_bytes; retnet::Error naming the path otherwise.
std::string read_file(const std::string &path, uint64_t max_bytes);

std::unique_ptr<Tokenizer> load_sentencepiece(const std::string &path);
std::unique_ptr<Tokenizer> load_hf_json(const std::string &path);
std::unique_ptr<Tokenizer> make_byte_tokenizer();

// Sets bos and eos (an explicit value wins over the tokenizer's own) after checking them and the
// tokenizer's size against the model's vocabulary (0: no model vocabulary to check against).
struct Access {
    static void apply(Tokenizer &tokenizer, const std::string &source, int64_t model_vocab,
                      std::optional<int32_t> bos, std::optional<int32_t> eos);
    // The tokenizer's own BOS and EOS, from its file.
    static void set_defaults(Tokenizer &tokenizer, std::optional<int32_t> bos,
                             std::optional<int32_t> eos) {
        tokenizer.bos_ = bos;
        tokenizer.eos_ = eos;
    }
};

}  // namespace retnet::tokenizer_detail
