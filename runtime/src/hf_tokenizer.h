// Internal to retnet_text: what a tokenizer.json describes, once read and checked
// (hf_tokenizer_json.cpp), the BPE model (hf_bpe_model.cpp) and the pipeline around it
// (hf_bpe_tokenizer.cpp).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tokenizer_regex.h"

namespace retnet::tokenizer_detail {

// Limits on what a tokenizer.json may hold (far above any real tokenizer's).
constexpr uint64_t kMaxJsonBytes = 256ull << 20;
constexpr int32_t kMaxTokenId = (1 << 24) - 1;
constexpr size_t kMaxTokenBytes = 16 << 10;
constexpr size_t kMaxPatternBytes = 16 << 10;
constexpr int kMaxNesting = 16;

struct Normalizer {
    enum class Kind { prepend,
                      replace,
                      unicode } kind;
    std::string text;              // prepend: what; replace: the literal pattern
    std::shared_ptr<Regex> regex;  // replace: the regex pattern, when not a literal
    std::string content;           // replace: the replacement
    std::string form;              // unicode: NFC, NFD, NFKC or NFKD
};

enum class SplitBehavior { removed,
                           isolated,
                           merged_with_previous,
                           merged_with_next,
                           contiguous };

struct PreTokenizer {
    enum class Kind { byte_level,
                      split,
                      metaspace } kind;
    // byte_level
    bool add_prefix_space = false;
    bool use_regex = true;
    // split
    std::shared_ptr<Regex> regex;  // or a literal:
    std::string literal;
    SplitBehavior behavior = SplitBehavior::isolated;
    bool invert = false;
    // metaspace
    std::string replacement;
    enum class Prepend { always,
                         first,
                         never } prepend = Prepend::always;
    bool split_on_replacement = true;
};

struct DecoderStep {
    enum class Kind { byte_level,
                      replace,
                      byte_fallback,
                      fuse,
                      strip,
                      metaspace } kind;
    std::string pattern, content;  // replace; metaspace: pattern = the replacement
};

struct AddedToken {
    int32_t id = 0;
    std::string content;
    bool special = false, lstrip = false, rstrip = false, normalized = false, single_word = false;
};

// The byte-level alphabet of GPT-2: each byte as a printable character.
const std::array<std::string, 256> &byte_to_chars();
// The byte of a character of that alphabet, -1 if it is not one.
int char_to_byte(uint32_t cp);

class BpeModel {
public:
    std::unordered_map<std::string, int32_t> vocab;
    std::vector<std::string> id_to_token;  // "" where the id has no token
    // (left id << 32 | right id) -> (rank, merged id)
    std::unordered_map<uint64_t, std::pair<int32_t, int32_t>> merges;
    std::optional<int32_t> unk;
    bool fuse_unk = false, byte_fallback = false, ignore_merges = false;
    std::array<int32_t, 256> byte_ids{};  // <0xNN> tokens, -1 where missing

    // Appends the ids of one pre-tokenized word.
    void encode_word(std::string_view word, std::vector<int32_t> &out) const;

private:
    void merge_word(std::string_view word, std::vector<int32_t> &out) const;
    mutable std::mutex cache_mutex_;
    mutable std::unordered_map<std::string, std::vector<int32_t>> cache_;
};

struct HfConfig {
    std::string path;
    BpeModel model;
    std::vector<Normalizer> normalizers;
    std::vector<PreTokenizer> pre_tokenizers;
    std::vector<DecoderStep> decoders;
    std::vector<AddedToken> added_tokens;
    std::optional<int32_t> template_bos;
    bool strips_leading_space = false;  // Strip(" ", 1, 0) after Fuse, or Metaspace
};

// Reads and checks a tokenizer.json; retnet::Error naming path and the JSON path otherwise.
std::unique_ptr<HfConfig> parse_tokenizer_json(const std::string &path, const std::string &bytes);

}  // namespace retnet::tokenizer_detail
