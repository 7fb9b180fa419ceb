// A tokenizer.json tokenizer: added tokens are cut out of the text first (as whole strings,
// leftmost-longest, with their lstrip/rstrip/single_word/normalized flags), the rest is
// normalized, pre-tokenized into words and each word encoded by the BPE model. Decoding maps each
// token to its bytes through the decoder steps.
#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <unordered_map>

#include <utf8proc.h>

#include "hf_tokenizer.h"
#include "retnet/error.h"
#include "tokenizer_internal.h"

namespace retnet::tokenizer_detail {
namespace {

struct Segment {
    size_t begin, end;
    int32_t token;  // index into the added tokens, -1 for text
};

// Rust's char::is_whitespace (Unicode White_Space), which the added tokens' lstrip/rstrip use.
bool is_whitespace(uint32_t cp) {
    return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
           (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F ||
           cp == 0x3000;
}

size_t char_start(std::string_view s, size_t pos) {  // start of the character that ends at pos
    do --pos;
    while (pos > 0 && (static_cast<unsigned char>(s[pos]) & 0xC0) == 0x80);
    return pos;
}

// Leftmost-longest matching of a set of added tokens (a byte trie).
class AddedMatcher {
public:
    void add(const std::string &content, int32_t index) {
        int32_t node = 0;
        for (const char c : content) {
            const uint64_t key = (static_cast<uint64_t>(node) << 8) | static_cast<unsigned char>(c);
            const auto it = edges_.find(key);
            if (it != edges_.end()) {
                node = it->second;
            } else {
                const auto created = static_cast<int32_t>(terminal_.size());
                terminal_.push_back(-1);
                edges_.emplace(key, created);
                node = created;
            }
        }
        terminal_[node] = index;  // a later duplicate replaces an earlier one
    }
    bool empty() const { return terminal_.size() == 1; }

    std::vector<Segment> split(std::string_view s, const std::vector<AddedToken> &tokens, const Regex &word) const {
        std::vector<Segment> out;
        size_t text_start = 0, pos = 0;
        while (pos < s.size()) {
            int32_t node = 0, found = -1;
            size_t found_end = 0;
            for (size_t i = pos; i < s.size(); ++i) {
                const auto it = edges_.find((static_cast<uint64_t>(node) << 8) | static_cast<unsigned char>(s[i]));
                if (it == edges_.end()) break;
                node = it->second;
                if (terminal_[node] >= 0) {
                    found = terminal_[node];
                    found_end = i + 1;
                }
            }
            if (found < 0) {
                ++pos;
                continue;
            }
            const AddedToken &t = tokens[found];
            size_t start = pos, stop = found_end;
            pos = found_end;
            if (t.single_word) {
                const auto word_char = [&](size_t b, size_t e) { return word.matches_whole(s.substr(b, e - b)); };
                if (start > 0 && word_char(char_start(s, start), start)) continue;
                if (stop < s.size()) {
                    size_t e = stop;
                    utf8::next(s, e);
                    if (word_char(stop, e)) continue;
                }
            }
            if (t.lstrip) {
                while (start > text_start) {
                    const size_t b = char_start(s, start);
                    size_t e = b;
                    if (!is_whitespace(utf8::next(s, e))) break;
                    start = b;
                }
            }
            if (t.rstrip) {
                while (stop < s.size()) {
                    size_t e = stop;
                    if (!is_whitespace(utf8::next(s, e))) break;
                    stop = e;
                }
                pos = stop;
            }
            if (start > text_start) out.push_back({text_start, start, -1});
            out.push_back({start, stop, found});
            text_start = stop;
        }
        if (text_start < s.size()) out.push_back({text_start, s.size(), -1});
        return out;
    }

private:
    std::unordered_map<uint64_t, int32_t> edges_;
    std::vector<int32_t> terminal_{-1};
};

// The text in Unicode normalization form `form` (NFC, NFD, NFKC, NFKD), through Debian's utf8proc.
std::string unicode_normalize(const std::string &text, const std::string &form, const std::string &path) {
    int options = UTF8PROC_STABLE;
    if (form == "NFC" || form == "NFKC") options |= UTF8PROC_COMPOSE;
    if (form == "NFD" || form == "NFKD") options |= UTF8PROC_DECOMPOSE;
    if (form == "NFKC" || form == "NFKD") options |= UTF8PROC_COMPAT;
    utf8proc_uint8_t *out = nullptr;
    const utf8proc_ssize_t n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t *>(text.data()),
                                            static_cast<utf8proc_ssize_t>(text.size()), &out,
                                            static_cast<utf8proc_option_t>(options));
    if (n < 0) {
        std::free(out);
        throw Error(path + ": " + form + " normalization failed: " + utf8proc_errmsg(n));
    }
    std::string result(reinterpret_cast<const char *>(out), static_cast<size_t>(n));
    std::free(out);
    return result;
}

std::vector<std::pair<size_t, size_t>> find_literal(std::string_view s, const std::string &literal) {
    std::vector<std::pair<size_t, size_t>> found;
    for (size_t pos = 0; (pos = s.find(literal, pos)) != std::string_view::npos; pos += literal.size()) {
        found.emplace_back(pos, pos + literal.size());
    }
    return found;
}

std::string replace_all(std::string_view s, const std::vector<std::pair<size_t, size_t>> &found,
                        const std::string &content) {
    std::string out;
    size_t last = 0;
    for (const auto &[b, e] : found) {
        out.append(s.substr(last, b - last));
        out += content;
        last = e;
    }
    out.append(s.substr(last));
    return out;
}

// The pieces of s around the matches, by behavior (as Hugging Face tokenizers' split); empty
// pieces are dropped.
std::vector<std::pair<size_t, size_t>> split_by(std::string_view s, const std::vector<std::pair<size_t, size_t>> &found,
                                                SplitBehavior behavior, bool invert) {
    struct Part {
        size_t b, e;
        bool match;
    };
    std::vector<Part> parts;
    size_t last = 0;
    for (const auto &[b, e] : found) {
        if (b > last) parts.push_back({last, b, invert});
        parts.push_back({b, e, !invert});
        last = e;
    }
    if (last < s.size()) parts.push_back({last, s.size(), invert});

    std::vector<Part> merged;
    switch (behavior) {
    case SplitBehavior::removed:
        for (const Part &p : parts) {
            if (!p.match) merged.push_back(p);
        }
        break;
    case SplitBehavior::isolated:
        merged.swap(parts);
        break;
    case SplitBehavior::merged_with_previous: {
        bool previous_match = false;
        for (const Part &p : parts) {
            if (p.match && !previous_match && !merged.empty())
                merged.back().e = p.e;
            else
                merged.push_back({p.b, p.e, false});
            previous_match = p.match;
        }
        break;
    }
    case SplitBehavior::merged_with_next: {
        bool next_match = false;
        for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
            if (it->match && !next_match && !merged.empty())
                merged.back().b = it->b;
            else
                merged.push_back({it->b, it->e, false});
            next_match = it->match;
        }
        std::reverse(merged.begin(), merged.end());
        break;
    }
    case SplitBehavior::contiguous: {
        bool previous_match = false;
        for (const Part &p : parts) {
            if (p.match && previous_match && !merged.empty())
                merged.back().e = p.e;
            else
                merged.push_back(p);
            previous_match = p.match;
        }
        break;
    }
    }
    std::vector<std::pair<size_t, size_t>> out;
    for (const Part &p : merged) {
        if (p.e > p.b) out.emplace_back(p.b, p.e);
    }
    return out;
}

class HfBpeTokenizer final : public Tokenizer {
public:
    explicit HfBpeTokenizer(std::unique_ptr<HfConfig> config)
        : c_(std::move(config)), word_(std::make_unique<Regex>("\\w", "single_word")) {
        const BpeModel &m = c_->model;
        size_ = static_cast<int64_t>(m.id_to_token.size());
        int32_t max_added = -1;
        for (size_t i = 0; i < c_->added_tokens.size(); ++i) {
            const AddedToken &t = c_->added_tokens[i];
            max_added = std::max(max_added, t.id);
            (t.normalized ? normalized_ : raw_).add(t.content, static_cast<int32_t>(i));
        }
        if (max_added >= size_ + static_cast<int64_t>(c_->added_tokens.size()) + 4096) {
            throw Error(c_->path + ": /added_tokens: ids up to " + std::to_string(max_added) + " for a vocabulary of " +
                        std::to_string(size_) + " and " + std::to_string(c_->added_tokens.size()) + " added tokens");
        }
        size_ = std::max<int64_t>(size_, max_added + 1);
        if (size_ == 0) throw Error(c_->path + ": /model/vocab: no tokens");

        // Every token's text and bytes, through the decoder steps.
        std::vector<std::string> text(size_);
        special_.assign(size_, false);
        for (int64_t id = 0; id < static_cast<int64_t>(m.id_to_token.size()); ++id) text[id] = m.id_to_token[id];
        for (const AddedToken &t : c_->added_tokens) {
            text[t.id] = t.content;
            special_[t.id] = t.special;
        }
        bytes_.resize(size_);
        for (int64_t id = 0; id < size_; ++id) bytes_[id] = decode_token(text[id]);
        strips_ = c_->strips_leading_space || c_->decoders.empty();
        Access::set_defaults(*this, c_->template_bos, std::nullopt);
    }

    std::vector<int32_t> encode(std::string_view input, bool add_bos) const override {
        const std::string s = utf8::sanitize(input);
        std::vector<int32_t> ids;
        if (add_bos && bos_) ids.push_back(*bos_);
        for (const Segment &seg : raw_.split(s, c_->added_tokens, *word_)) {
            if (seg.token >= 0) {
                ids.push_back(c_->added_tokens[seg.token].id);
                continue;
            }
            const std::string normalized = normalize(std::string_view(s).substr(seg.begin, seg.end - seg.begin));
            if (normalized.empty()) continue;
            for (const Segment &inner : normalized_.split(normalized, c_->added_tokens, *word_)) {
                if (inner.token >= 0) {
                    ids.push_back(c_->added_tokens[inner.token].id);
                    continue;
                }
                const bool at_origin = seg.begin == 0 && inner.begin == 0;
                for (const std::string &word :
                     pre_tokenize(std::string_view(normalized).substr(inner.begin, inner.end - inner.begin), at_origin)) {
                    c_->model.encode_word(word, ids);
                }
            }
        }
        return ids;
    }

    std::string decode(const std::vector<int32_t> &ids, bool skip_special) const override {
        std::string out;
        bool first = true;
        for (const int32_t id : ids) {
            check(id);
            if (skip_special && is_special(id)) continue;
            const std::string &b = bytes_[id];
            if (b.empty()) continue;
            out.append(first && strips_ && b[0] == ' ' ? std::string_view(b).substr(1) : std::string_view(b));
            first = false;
        }
        return utf8::sanitize(out);
    }

    std::string token_bytes(int32_t id) const override {
        check(id);
        return is_special(id) ? std::string() : bytes_[id];
    }
    bool strips_leading_space() const override { return strips_; }
    bool is_special(int32_t id) const override {
        return (id >= 0 && id < size_ && special_[id]) || id == bos_ || id == eos_;
    }
    int64_t vocab_size() const override { return size_; }
    std::string kind() const override { return "hf-bpe"; }

private:
    void check(int32_t id) const {
        if (id < 0 || id >= size_) {
            throw Error(c_->path + ": token id " + std::to_string(id) + " is not in [0, " + std::to_string(size_) + ")");
        }
    }

    std::string normalize(std::string_view s) const {
        std::string text(s);
        for (const Normalizer &n : c_->normalizers) {
            if (n.kind == Normalizer::Kind::prepend) {
                if (!text.empty()) text.insert(0, n.text);
            } else if (n.kind == Normalizer::Kind::unicode) {
                text = unicode_normalize(text, n.form, c_->path);
            } else {
                text = replace_all(text, n.regex ? n.regex->find_all(text) : find_literal(text, n.text), n.content);
            }
        }
        return text;
    }

    std::vector<std::string> pre_tokenize(std::string_view s, bool at_origin) const {
        struct Piece {
            std::string text;
            bool at_origin;
        };
        std::vector<Piece> pieces{{std::string(s), at_origin}};
        for (const PreTokenizer &p : c_->pre_tokenizers) {
            std::vector<Piece> next;
            for (Piece &piece : pieces) {
                std::string t = std::move(piece.text);
                std::vector<std::pair<size_t, size_t>> parts;
                switch (p.kind) {
                case PreTokenizer::Kind::byte_level: {
                    if (p.add_prefix_space && (t.empty() || t[0] != ' ')) t.insert(0, 1, ' ');
                    parts = p.use_regex ? split_by(t, p.regex->find_all(t), SplitBehavior::isolated, false)
                                        : std::vector<std::pair<size_t, size_t>>{{0, t.size()}};
                    const auto &chars = byte_to_chars();
                    for (const auto &[b, e] : parts) {
                        std::string mapped;
                        for (size_t i = b; i < e; ++i) mapped += chars[static_cast<unsigned char>(t[i])];
                        next.push_back({std::move(mapped), piece.at_origin && b == 0});
                    }
                    continue;
                }
                case PreTokenizer::Kind::split:
                    parts = split_by(t, p.regex ? p.regex->find_all(t) : find_literal(t, p.literal), p.behavior, p.invert);
                    break;
                case PreTokenizer::Kind::metaspace: {
                    t = replace_all(t, find_literal(t, " "), p.replacement);
                    const bool prepend = p.prepend == PreTokenizer::Prepend::always ||
                                         (p.prepend == PreTokenizer::Prepend::first && piece.at_origin);
                    if (prepend && t.compare(0, p.replacement.size(), p.replacement) != 0) t.insert(0, p.replacement);
                    parts = p.split_on_replacement
                                ? split_by(t, find_literal(t, p.replacement), SplitBehavior::merged_with_next, false)
                                : std::vector<std::pair<size_t, size_t>>{{0, t.size()}};
                    break;
                }
                }
                for (const auto &[b, e] : parts) next.push_back({t.substr(b, e - b), piece.at_origin && b == 0});
            }
            pieces = std::move(next);
        }
        std::vector<std::string> words;
        words.reserve(pieces.size());
        for (Piece &piece : pieces) {
            if (!piece.text.empty()) words.push_back(std::move(piece.text));
        }
        return words;
    }

    // A token's bytes through the decoder steps (Fuse and Strip act on the whole text: Fuse changes
    // nothing here and Strip is strips_leading_space). With no decoder, tokens are joined by spaces.
    std::string decode_token(std::string t) const {
        if (c_->decoders.empty()) return t.empty() ? t : " " + t;
        for (const DecoderStep &d : c_->decoders) {
            switch (d.kind) {
            case DecoderStep::Kind::replace:
                t = replace_all(t, find_literal(t, d.pattern), d.content);
                break;
            case DecoderStep::Kind::metaspace:
                t = replace_all(t, find_literal(t, d.pattern), " ");
                break;
            case DecoderStep::Kind::byte_fallback:
                if (t.size() == 6 && t.compare(0, 3, "<0x") == 0 && t[5] == '>' && std::isxdigit(static_cast<unsigned char>(t[3])) &&
                    std::isxdigit(static_cast<unsigned char>(t[4]))) {
                    t = std::string(1, static_cast<char>(std::stoi(t.substr(3, 2), nullptr, 16)));
                }
                break;
            case DecoderStep::Kind::byte_level: {
                std::string raw;
                bool all = true;
                for (size_t pos = 0; pos < t.size() && all;) {
                    const int b = char_to_byte(utf8::next(t, pos));
                    all = b >= 0;
                    raw += static_cast<char>(b);
                }
                if (all) t = std::move(raw);
                break;
            }
            case DecoderStep::Kind::fuse:
            case DecoderStep::Kind::strip:
                break;
            }
        }
        return t;
    }

    std::unique_ptr<HfConfig> c_;
    std::unique_ptr<Regex> word_;
    AddedMatcher raw_, normalized_;
    int64_t size_ = 0;
    std::vector<bool> special_;
    std::vector<std::string> bytes_;
    bool strips_ = false;
};

}  // namespace

std::unique_ptr<Tokenizer> load_hf_json(const std::string &path) {
    const std::string bytes = read_file(path, kMaxJsonBytes);
    return std::make_unique<HfBpeTokenizer>(parse_tokenizer_json(path, bytes));
}

}  // namespace retnet::tokenizer_detail
