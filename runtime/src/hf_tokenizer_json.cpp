// Reads tokenizer.json (Hugging Face tokenizers' format) into an HfConfig: the BPE model and the
// normalizers, pre-tokenizers, decoders, added tokens and post-processor this reader implements.
// Anything else is refused with the file, the JSON path and the value.
#include <nlohmann/json.hpp>

#include "hf_tokenizer.h"
#include "retnet/error.h"
#include "tokenizer_internal.h"

namespace retnet::tokenizer_detail {
namespace {

using json = nlohmann::json;

// A JSON value and where it is, for messages: "FILE: /model/merges/3: ...".
class Node {
public:
    Node(const json &value, std::string pointer, const std::string &file)
        : value_(value), pointer_(std::move(pointer)), file_(file) {}

    [[noreturn]] void fail(const std::string &message) const {
        throw Error(file_ + ": " + (pointer_.empty() ? "/" : pointer_) + ": " + message);
    }
    const json &value() const { return value_; }
    const std::string &pointer() const { return pointer_; }
    std::string where() const { return file_ + ": " + (pointer_.empty() ? "/" : pointer_); }
    bool is_null() const { return value_.is_null(); }

    bool has(const char *key) const { return value_.is_object() && value_.contains(key); }
    // A member; absent members read as null.
    Node operator[](const char *key) const {
        static const json null_value;
        if (!value_.is_object()) fail("expected an object, got " + describe());
        const auto it = value_.find(key);
        return Node(it == value_.end() ? null_value : *it, pointer_ + "/" + key, file_);
    }
    Node at(size_t i) const { return Node(value_.at(i), pointer_ + "/" + std::to_string(i), file_); }
    size_t size() const { return value_.size(); }

    const json &array() const {
        if (!value_.is_array()) fail("expected an array, got " + describe());
        return value_;
    }
    const json &object() const {
        if (!value_.is_object()) fail("expected an object, got " + describe());
        return value_;
    }
    std::string string() const {
        if (!value_.is_string()) fail("expected a string, got " + describe());
        return value_.get<std::string>();
    }
    bool boolean(bool if_absent) const {
        if (value_.is_null()) return if_absent;
        if (!value_.is_boolean()) fail("expected true or false, got " + describe());
        return value_.get<bool>();
    }
    int64_t integer() const {
        if (!value_.is_number_integer()) fail("expected an integer, got " + describe());
        return value_.is_number_unsigned() && value_.get<uint64_t>() > INT64_MAX ? INT64_MAX : value_.get<int64_t>();
    }
    int32_t token_id() const {
        const int64_t id = integer();
        if (id < 0 || id > kMaxTokenId) fail("token id " + std::to_string(id) + " is outside [0, " + std::to_string(kMaxTokenId) + "]");
        return static_cast<int32_t>(id);
    }
    std::string type() const { return (*this)["type"].string(); }
    std::string describe() const {
        std::string text = value_.dump(-1, ' ', false, json::error_handler_t::replace);
        if (text.size() > 80) text = text.substr(0, 77) + "...";
        return std::string(value_.type_name()) + " " + text;
    }

private:
    const json &value_;
    std::string pointer_;
    const std::string &file_;
};

std::string token_text(const Node &node) {
    std::string text = node.string();
    if (text.size() > kMaxTokenBytes) node.fail("a token of " + std::to_string(text.size()) + " bytes (at most " + std::to_string(kMaxTokenBytes) + ")");
    return text;
}

std::shared_ptr<Regex> regex_of(const Node &node) {
    const std::string pattern = node.string();
    if (pattern.size() > kMaxPatternBytes) node.fail("a pattern of " + std::to_string(pattern.size()) + " bytes");
    return std::make_shared<Regex>(pattern, node.where());
}

// {"String": "..."} or {"Regex": "..."}.
void read_pattern(const Node &node, std::string &literal, std::shared_ptr<Regex> &regex) {
    node.object();
    if (node.has("String")) {
        literal = node["String"].string();
        if (literal.empty()) node["String"].fail("an empty pattern");
    } else if (node.has("Regex")) {
        regex = regex_of(node["Regex"]);
    } else {
        node.fail("expected {\"String\": ...} or {\"Regex\": ...}, got " + node.describe());
    }
}

void read_normalizer(const Node &node, HfConfig &config, int depth) {
    if (node.is_null()) return;
    if (depth > kMaxNesting) node.fail("sequences nested too deeply");
    const std::string type = node.type();
    if (type == "Sequence") {
        const Node list = node["normalizers"];
        list.array();
        for (size_t i = 0; i < list.size(); ++i) read_normalizer(list.at(i), config, depth + 1);
    } else if (type == "Prepend") {
        config.normalizers.push_back({Normalizer::Kind::prepend, node["prepend"].string(), nullptr, "", ""});
    } else if (type == "Replace") {
        Normalizer n{Normalizer::Kind::replace, "", nullptr, node["content"].string(), ""};
        read_pattern(node["pattern"], n.text, n.regex);
        config.normalizers.push_back(std::move(n));
    } else if (type == "NFC" || type == "NFD" || type == "NFKC" || type == "NFKD") {
        Normalizer n{Normalizer::Kind::unicode, "", nullptr, "", type};
        config.normalizers.push_back(std::move(n));
    } else {
        node["type"].fail("unsupported normalizer \"" + type +
                          "\" (supported: Sequence, Prepend, Replace, NFC, NFD, NFKC, NFKD; case folding and "
                          "accent stripping are not implemented)");
    }
}

void read_pre_tokenizer(const Node &node, HfConfig &config, int depth) {
    if (node.is_null()) return;
    if (depth > kMaxNesting) node.fail("sequences nested too deeply");
    const std::string type = node.type();
    PreTokenizer p{};
    if (type == "Sequence") {
        const Node list = node["pretokenizers"];
        list.array();
        for (size_t i = 0; i < list.size(); ++i) read_pre_tokenizer(list.at(i), config, depth + 1);
        return;
    } else if (type == "ByteLevel") {
        p.kind = PreTokenizer::Kind::byte_level;
        p.add_prefix_space = node["add_prefix_space"].boolean(true);
        p.use_regex = node["use_regex"].boolean(true);
        if (p.use_regex) {
            static const char *gpt2 = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
            p.regex = std::make_shared<Regex>(gpt2, node.where() + " (the GPT-2 pattern)");
        }
    } else if (type == "Split") {
        p.kind = PreTokenizer::Kind::split;
        read_pattern(node["pattern"], p.literal, p.regex);
        const Node behavior = node["behavior"];
        const std::string b = behavior.string();
        if (b == "Removed")
            p.behavior = SplitBehavior::removed;
        else if (b == "Isolated")
            p.behavior = SplitBehavior::isolated;
        else if (b == "MergedWithPrevious")
            p.behavior = SplitBehavior::merged_with_previous;
        else if (b == "MergedWithNext")
            p.behavior = SplitBehavior::merged_with_next;
        else if (b == "Contiguous")
            p.behavior = SplitBehavior::contiguous;
        else
            behavior.fail("unknown split behavior \"" + b + "\"");
        p.invert = node["invert"].boolean(false);
    } else if (type == "Metaspace") {
        p.kind = PreTokenizer::Kind::metaspace;
        p.replacement = node["replacement"].string();
        size_t pos = 0;
        if (p.replacement.empty() || (utf8::next(p.replacement, pos), pos != p.replacement.size())) {
            node["replacement"].fail("expected one character, got \"" + p.replacement + "\"");
        }
        if (node.has("prepend_scheme")) {
            const std::string scheme = node["prepend_scheme"].string();
            if (scheme == "always")
                p.prepend = PreTokenizer::Prepend::always;
            else if (scheme == "first")
                p.prepend = PreTokenizer::Prepend::first;
            else if (scheme == "never")
                p.prepend = PreTokenizer::Prepend::never;
            else
                node["prepend_scheme"].fail("unknown prepend_scheme \"" + scheme + "\"");
        } else {
            p.prepend = node["add_prefix_space"].boolean(true) ? PreTokenizer::Prepend::always : PreTokenizer::Prepend::never;
        }
        p.split_on_replacement = node["split"].boolean(true);
    } else {
        node["type"].fail("unsupported pre-tokenizer \"" + type + "\" (supported: Sequence, ByteLevel, Split, Metaspace)");
    }
    config.pre_tokenizers.push_back(std::move(p));
}

void read_decoder(const Node &node, HfConfig &config, int depth) {
    if (node.is_null()) return;
    if (depth > kMaxNesting) node.fail("sequences nested too deeply");
    const std::string type = node.type();
    const auto fused = [&] {
        for (const auto &d : config.decoders) {
            if (d.kind == DecoderStep::Kind::fuse || d.kind == DecoderStep::Kind::byte_level) return true;
        }
        return false;
    };
    if (type == "Sequence") {
        const Node list = node["decoders"];
        list.array();
        for (size_t i = 0; i < list.size(); ++i) read_decoder(list.at(i), config, depth + 1);
    } else if (type == "ByteLevel") {
        config.decoders.push_back({DecoderStep::Kind::byte_level, "", ""});
    } else if (type == "ByteFallback") {
        config.decoders.push_back({DecoderStep::Kind::byte_fallback, "", ""});
    } else if (type == "Fuse") {
        config.decoders.push_back({DecoderStep::Kind::fuse, "", ""});
    } else if (type == "Replace") {
        DecoderStep d{DecoderStep::Kind::replace, "", node["content"].string()};
        std::shared_ptr<Regex> regex;
        read_pattern(node["pattern"], d.pattern, regex);
        if (regex) node["pattern"].fail("a Replace decoder with a Regex pattern is not supported (only String)");
        config.decoders.push_back(std::move(d));
    } else if (type == "Strip") {
        // Only the Llama form: one leading space off the whole text.
        const std::string content = node["content"].string();
        const int64_t start = node["start"].integer(), stop = node["stop"].integer();
        if (content != " " || start > 1 || start < 0 || stop != 0 || (start == 1 && !fused())) {
            node.fail("unsupported Strip decoder " + node.describe() +
                      " (supported: content \" \", start 0 or 1, stop 0, after Fuse)");
        }
        if (start == 1) config.strips_leading_space = true;
    } else if (type == "Metaspace") {
        DecoderStep d{DecoderStep::Kind::metaspace, node["replacement"].string(), " "};
        bool prepend = node["add_prefix_space"].boolean(true);
        if (node.has("prepend_scheme")) prepend = node["prepend_scheme"].string() != "never";
        if (prepend) config.strips_leading_space = true;
        config.decoders.push_back(std::move(d));
    } else {
        node["type"].fail("unsupported decoder \"" + type +
                          "\" (supported: Sequence, ByteLevel, ByteFallback, Fuse, Replace, Strip, Metaspace)");
    }
}

// The BOS a post-processor puts before the text, if any.
void read_post_processor(const Node &node, HfConfig &config, int depth) {
    if (node.is_null()) return;
    if (depth > kMaxNesting) node.fail("sequences nested too deeply");
    const std::string type = node.type();
    if (type == "Sequence") {
        const Node list = node["processors"];
        list.array();
        for (size_t i = 0; i < list.size(); ++i) read_post_processor(list.at(i), config, depth + 1);
    } else if (type == "ByteLevel") {
        // Offsets only.
    } else if (type == "TemplateProcessing") {
        const Node single = node["single"];
        single.array();
        std::vector<int32_t> prefix;
        for (size_t i = 0; i < single.size(); ++i) {
            const Node item = single.at(i);
            if (item.has("Sequence")) break;
            if (!item.has("SpecialToken")) item.fail("expected {\"SpecialToken\": ...} or {\"Sequence\": ...}");
            const std::string name = item["SpecialToken"]["id"].string();
            const Node special = node["special_tokens"][name.c_str()];
            if (special.is_null()) node["special_tokens"].fail("no entry for \"" + name + "\" named at " + item.pointer());
            const Node ids = special["ids"];
            ids.array();
            for (size_t k = 0; k < ids.size(); ++k) prefix.push_back(ids.at(k).token_id());
        }
        if (prefix.size() > 1) single.fail("more than one token before the text is not supported");
        if (!prefix.empty()) config.template_bos = prefix[0];
    } else {
        node["type"].fail("unsupported post-processor \"" + type + "\" (supported: TemplateProcessing, ByteLevel, Sequence)");
    }
}

void read_model(const Node &node, HfConfig &config) {
    node.object();
    const std::string type = node.type();
    if (type != "BPE") {
        node["type"].fail("unsupported model type \"" + type + "\" (only BPE; WordPiece, WordLevel and Unigram are not implemented)");
    }
    BpeModel &m = config.model;
    const Node dropout = node["dropout"];
    if (!dropout.is_null() && !(dropout.value().is_number() && dropout.value().get<double>() == 0.0)) {
        dropout.fail("BPE dropout is not supported (expected null), got " + dropout.describe());
    }
    for (const char *key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
        const Node affix = node[key];
        if (!affix.is_null() && !affix.string().empty()) affix.fail("not supported (expected null), got " + affix.describe());
    }
    m.fuse_unk = node["fuse_unk"].boolean(false);
    m.byte_fallback = node["byte_fallback"].boolean(false);
    m.ignore_merges = node["ignore_merges"].boolean(false);

    const Node vocab = node["vocab"];
    vocab.object();
    if (vocab.size() > static_cast<size_t>(kMaxTokenId)) vocab.fail("too many tokens");
    m.vocab.reserve(vocab.size());
    const std::string &file = config.path;
    std::vector<std::pair<const std::string *, int32_t>> entries;
    entries.reserve(vocab.size());
    int32_t max_id = -1;
    for (const auto &[token, id_value] : vocab.value().items()) {
        const Node entry(id_value, vocab.pointer() + "/" + token, file);
        if (token.empty()) entry.fail("an empty token");
        if (token.size() > kMaxTokenBytes) entry.fail("a token of " + std::to_string(token.size()) + " bytes");
        entries.emplace_back(&token, entry.token_id());
        max_id = std::max(max_id, entries.back().second);
    }
    // Ids are dense in real vocabularies; a sparse one would only make the tables large.
    if (static_cast<int64_t>(max_id) >= 2 * static_cast<int64_t>(entries.size()) + 4096) {
        vocab.fail("ids up to " + std::to_string(max_id) + " for " + std::to_string(entries.size()) + " tokens");
    }
    m.id_to_token.assign(static_cast<size_t>(max_id + 1), std::string());
    for (const auto &[token, id] : entries) {
        if (!m.id_to_token[id].empty()) {
            Node(vocab.value().at(*token), vocab.pointer() + "/" + *token, file)
                .fail("id " + std::to_string(id) + " is given to more than one token (also to \"" + m.id_to_token[id] + "\")");
        }
        m.id_to_token[id] = *token;
        m.vocab.emplace(*token, id);
    }

    const Node unk = node["unk_token"];
    if (!unk.is_null()) {
        const auto it = m.vocab.find(unk.string());
        if (it == m.vocab.end()) unk.fail("the unk_token \"" + unk.string() + "\" is not in the vocabulary");
        m.unk = it->second;
    }
    m.byte_ids.fill(-1);
    if (m.byte_fallback) {
        static const char *hex = "0123456789ABCDEF";
        for (int b = 0; b < 256; ++b) {
            const std::string name = std::string("<0x") + hex[b >> 4] + hex[b & 15] + ">";
            const auto it = m.vocab.find(name);
            if (it != m.vocab.end()) m.byte_ids[b] = it->second;
        }
    }

    const Node merges = node["merges"];
    merges.array();
    if (merges.size() > static_cast<size_t>(kMaxTokenId)) merges.fail("too many merges");
    m.merges.reserve(merges.size());
    for (size_t rank = 0; rank < merges.size(); ++rank) {
        const Node merge = merges.at(rank);
        std::string left, right;
        if (merge.value().is_string()) {
            const std::string line = merge.string();
            const size_t space = line.find(' ');
            if (space == std::string::npos || line.find(' ', space + 1) != std::string::npos) {
                merge.fail("expected \"left right\" (two tokens and one space), got " + merge.describe());
            }
            left = line.substr(0, space);
            right = line.substr(space + 1);
        } else if (merge.value().is_array() && merge.size() == 2) {
            left = merge.at(0).string();
            right = merge.at(1).string();
        } else {
            merge.fail("expected \"left right\" or [left, right], got " + merge.describe());
        }
        const auto find = [&](const std::string &token) {
            const auto it = m.vocab.find(token);
            if (it == m.vocab.end()) merge.fail("the merge names \"" + token + "\", which is not in the vocabulary");
            return it->second;
        };
        const int32_t a = find(left), b = find(right), merged = find(left + right);
        m.merges[(static_cast<uint64_t>(a) << 32) | static_cast<uint32_t>(b)] = {static_cast<int32_t>(rank), merged};
    }
}

void read_added_tokens(const Node &list, HfConfig &config) {
    if (list.is_null()) return;
    list.array();
    if (list.size() > (1u << 20)) list.fail("too many added tokens");
    size_t total = 0;
    for (size_t i = 0; i < list.size(); ++i) {
        const Node node = list.at(i);
        AddedToken t;
        t.id = node["id"].token_id();
        t.content = token_text(node["content"]);
        if (t.content.empty()) node["content"].fail("an empty added token");
        t.special = node["special"].boolean(false);
        t.lstrip = node["lstrip"].boolean(false);
        t.rstrip = node["rstrip"].boolean(false);
        t.single_word = node["single_word"].boolean(false);
        t.normalized = node["normalized"].boolean(!t.special);
        total += t.content.size();
        if (total > (16u << 20)) list.fail("added tokens of more than 16 MiB in all");
        config.added_tokens.push_back(std::move(t));
    }
}

}  // namespace

std::unique_ptr<HfConfig> parse_tokenizer_json(const std::string &path, const std::string &bytes) {
    json root;
    try {
        root = json::parse(bytes);
    } catch (const json::exception &e) {
        throw Error(path + ": not valid JSON: " + e.what());
    }
    auto config = std::make_unique<HfConfig>();
    config->path = path;
    const Node top(root, "", config->path);
    try {
        top.object();
        read_model(top["model"], *config);
        read_added_tokens(top["added_tokens"], *config);
        read_normalizer(top["normalizer"], *config, 0);
        read_pre_tokenizer(top["pre_tokenizer"], *config, 0);
        read_decoder(top["decoder"], *config, 0);
        read_post_processor(top["post_processor"], *config, 0);
    } catch (const json::exception &e) {
        throw Error(path + ": unexpected JSON content: " + e.what());
    }
    return config;
}

}  // namespace retnet::tokenizer_detail
