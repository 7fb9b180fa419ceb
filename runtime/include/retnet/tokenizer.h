// Tokenizers of real checkpoints: SentencePiece models (tokenizer.model / spiece.model), Hugging
// Face tokenizer.json files (BPE: byte-level GPT-2/NeoX style and Llama/Mistral style with byte
// fallback), and the byte-level vocabulary of 256 that needs no file. docs/TOKENIZERS.md lists what
// is supported and what is refused. Every failure is a retnet::Error naming the file (and for
// tokenizer.json the JSON path) and what was wrong.
//
// This library (retnet_text) depends on nlohmann-json, libsentencepiece and PCRE2 only, not on the
// kernels or the rest of the runtime.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace retnet {

namespace tokenizer_detail {
struct Access;
}

class Tokenizer {
public:
    virtual ~Tokenizer() = default;

    // Loads the tokenizer of a model directory: tokenizer.json if present, else tokenizer.model or
    // spiece.model (SentencePiece), else, when vocab_size == 256, the byte-level tokenizer.
    // vocab_size is the model's (its embedding rows): a tokenizer with ids beyond it is refused;
    // 0 skips that check. bos and eos (from the model's config) override the tokenizer's own.
    static std::unique_ptr<Tokenizer> load(const std::string &dir, int64_t vocab_size,
                                           std::optional<int32_t> bos = std::nullopt,
                                           std::optional<int32_t> eos = std::nullopt);

    // Ids of text (UTF-8; invalid sequences are read as U+FFFD, except by the byte-level
    // tokenizer, which takes any bytes), with bos_id() first when add_bos and there is one.
    virtual std::vector<int32_t> encode(std::string_view text, bool add_bos) const = 0;
    // Text of ids. Special tokens (BOS, EOS, control tokens, special added tokens) are skipped
    // unless skip_special is false. decode(encode(x, false)) == x where the tokenizer is lossless.
    virtual std::string decode(const std::vector<int32_t> &ids, bool skip_special = true) const = 0;
    // Raw bytes of one token, for streaming (TokenTextStream): the token's text with its space
    // marker as ' ' and byte tokens as their byte; may be an incomplete UTF-8 sequence. Empty for
    // special tokens. Throws for an id outside [0, vocab_size()).
    virtual std::string token_bytes(int32_t id) const = 0;
    // Whether whole-text decoding drops one ' ' at the start of the text (SentencePiece's dummy
    // prefix, tokenizer.json's Strip or Metaspace decoders).
    virtual bool strips_leading_space() const = 0;
    virtual bool is_special(int32_t id) const = 0;

    virtual int64_t vocab_size() const = 0;
    std::optional<int32_t> bos_id() const { return bos_; }
    std::optional<int32_t> eos_id() const { return eos_; }
    // "sentencepiece", "hf-bpe" or "byte".
    virtual std::string kind() const = 0;

protected:
    std::optional<int32_t> bos_, eos_;
    friend struct tokenizer_detail::Access;
};

// Bytes in, complete UTF-8 out: push() returns the longest valid prefix of what it has been fed
// and keeps an incomplete trailing sequence for the next call; invalid bytes become U+FFFD (one
// for each maximal invalid subsequence, as Python's errors="replace" and Rust's from_utf8_lossy).
// flush() ends the stream (an incomplete sequence left over becomes U+FFFD).
class Utf8StreamDecoder {
public:
    std::string push(std::string_view bytes);
    std::string flush();

private:
    std::string pending_;
};

// Streaming detokenization: push() each generated id and print what it returns; the pieces
// concatenated equal tokenizer.decode(ids) for ids that decode to valid UTF-8, and each piece is
// valid UTF-8 (a character split across tokens comes out whole with its last token).
class TokenTextStream {
public:
    explicit TokenTextStream(const Tokenizer &tokenizer) : tokenizer_(tokenizer) {}
    std::string push(int32_t id);
    std::string flush();

private:
    const Tokenizer &tokenizer_;
    Utf8StreamDecoder utf8_;
    bool at_start_ = true;
};

// The seam for `retnet tokenize`: loads the tokenizer of dir and encodes text.
std::vector<int32_t> tokenize_text(const std::string &dir, std::string_view text, bool add_bos,
                                   int64_t vocab_size = 0,
                                   std::optional<int32_t> bos = std::nullopt,
                                   std::optional<int32_t> eos = std::nullopt);

// UTF-8 helpers shared by the tokenizers (utf8.cpp).
namespace utf8 {
// The text with every invalid sequence replaced by U+FFFD (maximal subparts).
std::string sanitize(std::string_view text);
bool valid(std::string_view text);
// Appends code point cp as UTF-8.
void append(std::string &out, uint32_t cp);
// Decodes the code point at text[pos] of valid UTF-8 and advances pos.
uint32_t next(std::string_view text, size_t &pos);
}  // namespace utf8

}  // namespace retnet
