// Tokenizers (retnet_text): exact ids against fixtures made by the reference implementations
// (python3-sentencepiece, transformers.js; tools/make_tokenizer_fixtures.py), round trips,
// streaming detokenization, BOS handling, and malformed files refused with a message naming them.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "retnet/error.h"
#include "retnet/tokenizer.h"

namespace fs = std::filesystem;
using retnet::Error;
using retnet::Tokenizer;
using retnet::TokenTextStream;
using retnet::Utf8StreamDecoder;

namespace {

const std::string kData = std::string(RETNET_TEST_DATA_DIR) + "/tokenizers";

nlohmann::json read_json(const std::string &path) {
    std::ifstream in(path);
    EXPECT_TRUE(in) << path;
    return nlohmann::json::parse(in);
}

std::string read_text(const std::string &path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

// A fresh directory under the system's temporary directory, removed at the end of the test.
struct TempDir {
    fs::path path;
    TempDir() {
        static int counter = 0;
        path = fs::temp_directory_path() /
               ("retnet_tok_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
        fs::remove_all(path);
        fs::create_directories(path);
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
    std::string write(const std::string &name, const std::string &bytes) const {
        std::ofstream(path / name, std::ios::binary) << bytes;
        return path.string();
    }
};

// The concatenated pieces of a stream, checking that each is valid UTF-8.
std::string stream_decode(const Tokenizer &tok, const std::vector<int32_t> &ids, int *partial = nullptr) {
    TokenTextStream stream(tok);
    std::string out;
    for (const int32_t id : ids) {
        const std::string piece = stream.push(id);
        EXPECT_TRUE(retnet::utf8::valid(piece)) << "piece after id " << id;
        if (partial && piece.empty() && !tok.token_bytes(id).empty()) ++*partial;
        out += piece;
    }
    const std::string rest = stream.flush();
    EXPECT_TRUE(retnet::utf8::valid(rest));
    return out + rest;
}

std::string loaded_kind(const std::string &fixture) {
    if (fixture.rfind("spm_", 0) == 0) return "sentencepiece";
    return "hf-bpe";
}

class TokenizerFixture : public ::testing::TestWithParam<std::string> {};

TEST_P(TokenizerFixture, IdsDecodeAndStreamMatchTheReference) {
    const std::string dir = kData + "/" + GetParam();
    const auto expected = read_json(dir + "/expected_ids.json");
    const auto tok = Tokenizer::load(dir, 0);
    EXPECT_EQ(tok->kind(), loaded_kind(GetParam()));
    const auto &texts = expected["texts"];
    ASSERT_GT(texts.size(), 20u);
    for (size_t i = 0; i < texts.size(); ++i) {
        const std::string text = texts[i].get<std::string>();
        SCOPED_TRACE("text " + std::to_string(i) + ": " + text.substr(0, 60));
        const auto want = expected["ids"][i].get<std::vector<int32_t>>();
        const auto ids = tok->encode(text, false);
        EXPECT_EQ(ids, want);
        if (expected.contains("ids_with_special")) {
            EXPECT_EQ(tok->encode(text, true), expected["ids_with_special"][i].get<std::vector<int32_t>>());
        } else {
            std::vector<int32_t> with_bos{*tok->bos_id()};
            with_bos.insert(with_bos.end(), want.begin(), want.end());
            EXPECT_EQ(tok->encode(text, true), with_bos);
        }
        const std::string decoded = tok->decode(want);
        EXPECT_EQ(decoded, expected["decoded"][i].get<std::string>());
        EXPECT_EQ(stream_decode(*tok, want), decoded);
    }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, TokenizerFixture,
                         ::testing::Values("spm_bpe", "spm_unigram", "llama_hf", "llama_hf_metaspace",
                                           "bytelevel_bpe", "added_tokens", "bytelevel_nfkc"));

// Text from every script the fixtures touch, random runs of spaces, tabs and newlines.
std::string random_text(std::mt19937 &rng, size_t chars) {
    static const std::vector<std::string> alphabet = {
        "a", "b", "e", "t", "h", "Q", " ", " ", " ", "\t", "\n", "\r", "0", "7", ".", ",", "'", "\x01", "é", "ß",
        "日", "本", "語", "한", "😀", "👍", "\xE2\x80\x8D", "\xEF\xBF\xBD", "\xC2\xA0", "\xE3\x80\x80", "ǅ", "e\xCC\x81"};
    std::string s;
    for (size_t i = 0; i < chars; ++i) s += alphabet[rng() % alphabet.size()];
    return s;
}

TEST(Tokenizer, LosslessTokenizersRoundTripAnyText) {
    std::mt19937 rng(7);
    for (const char *name : {"spm_bpe", "llama_hf", "llama_hf_metaspace", "bytelevel_bpe", "added_tokens"}) {
        const auto tok = Tokenizer::load(kData + "/" + name, 0);
        for (int trial = 0; trial < 40; ++trial) {
            std::string text = random_text(rng, 1 + rng() % 200);
            // The Metaspace layout keeps a leading space only behind the first (HF's behaviour).
            if (std::string(name) == "llama_hf_metaspace" && !text.empty() && text[0] == ' ') text.insert(0, "x");
            const auto ids = tok->encode(text, false);
            EXPECT_EQ(tok->decode(ids), text) << name;
            EXPECT_EQ(stream_decode(*tok, ids), text) << name;
            const auto with_bos = tok->encode(text, true);
            EXPECT_EQ(tok->decode(with_bos), text) << name;
        }
    }
}

TEST(Tokenizer, StreamingHoldsBackACharacterSplitAcrossTokens) {
    const auto tok = Tokenizer::load(kData + "/bytelevel_bpe", 0);
    const std::string text = "日本語 😀 한국어";
    const auto ids = tok->encode(text, false);
    int partial = 0;
    EXPECT_EQ(stream_decode(*tok, ids, &partial), text);
    EXPECT_GT(partial, 0) << "no character was split across tokens: the test does not test";
    // Byte-fallback tokens of a SentencePiece model: the same.
    const auto sp = Tokenizer::load(kData + "/spm_bpe", 0);
    partial = 0;
    EXPECT_EQ(stream_decode(*sp, sp->encode("語😀", false), &partial), "語😀");
    EXPECT_GT(partial, 0);
}

TEST(Tokenizer, SentencePieceFirstPieceLosesItsDummySpaceOnlyAtTheStart) {
    const auto tok = Tokenizer::load(kData + "/spm_bpe", 0);
    EXPECT_TRUE(tok->strips_leading_space());
    const auto ids = tok->encode("Hello world", false);
    TokenTextStream stream(*tok);
    std::string out;
    for (const int32_t id : ids) out += stream.push(id);
    EXPECT_EQ(out + stream.flush(), "Hello world");
    // A BOS first changes nothing.
    EXPECT_EQ(stream_decode(*tok, tok->encode("Hello world", true)), "Hello world");
    EXPECT_EQ(tok->token_bytes(*tok->bos_id()), "");
}

TEST(Tokenizer, BosFromTheTokenizerOrTheConfig) {
    const auto llama = Tokenizer::load(kData + "/llama_hf", 0);
    ASSERT_TRUE(llama->bos_id());
    EXPECT_EQ(*llama->bos_id(), 1);
    EXPECT_EQ(llama->encode("Hi", true).front(), 1);
    EXPECT_FALSE(llama->eos_id());
    const auto sp = Tokenizer::load(kData + "/spm_bpe", 0);
    EXPECT_EQ(sp->bos_id(), 1);
    EXPECT_EQ(sp->eos_id(), 2);
    // Byte-level BPE adds nothing of its own; the model's config may name a BOS.
    const auto plain = Tokenizer::load(kData + "/bytelevel_bpe", 0);
    EXPECT_FALSE(plain->bos_id());
    EXPECT_EQ(plain->encode("Hi", true), plain->encode("Hi", false));
    const auto with_config = Tokenizer::load(kData + "/bytelevel_bpe", 1024, 0, 0);
    EXPECT_EQ(with_config->encode("Hi", true).front(), 0);
    EXPECT_EQ(with_config->eos_id(), 0);
    EXPECT_EQ(with_config->decode(with_config->encode("Hi", true)), "Hi");
    EXPECT_EQ(with_config->decode(with_config->encode("Hi", true), false), "<|endoftext|>Hi");
    // The config overrides the tokenizer's own.
    EXPECT_EQ(Tokenizer::load(kData + "/llama_hf", 0, 2)->encode("Hi", true).front(), 2);
    EXPECT_THROW(Tokenizer::load(kData + "/llama_hf", 0, 5000), Error);
    EXPECT_THROW(Tokenizer::load(kData + "/spm_bpe", 0, std::nullopt, -1), Error);
}

TEST(Tokenizer, ModelVocabularyIsChecked) {
    EXPECT_NO_THROW(Tokenizer::load(kData + "/spm_bpe", 3000));
    EXPECT_NO_THROW(Tokenizer::load(kData + "/spm_bpe", 3072));  // padded embeddings
    try {
        Tokenizer::load(kData + "/spm_bpe", 2000);
        FAIL();
    } catch (const Error &e) {
        EXPECT_NE(std::string(e.what()).find("tokenizer.model"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("2000"), std::string::npos) << e.what();
    }
    EXPECT_EQ(Tokenizer::load(kData + "/added_tokens", 0)->vocab_size(), 1029);
}

TEST(Tokenizer, ByteLevelWithoutAFile) {
    TempDir dir;
    const auto tok = Tokenizer::load(dir.path.string(), 256);
    EXPECT_EQ(tok->kind(), "byte");
    std::string bytes;
    for (int b = 0; b < 256; ++b) bytes += static_cast<char>(b);
    const auto ids = tok->encode(bytes, false);
    ASSERT_EQ(ids.size(), 256u);
    EXPECT_EQ(ids[200], 200);
    EXPECT_EQ(tok->decode(ids), bytes);
    EXPECT_EQ(stream_decode(*tok, tok->encode("naïve 日本", false)), "naïve 日本");
    EXPECT_THROW(tok->decode({256}), Error);
    EXPECT_EQ(retnet::tokenize_text(dir.path.string(), "AB", false, 256), (std::vector<int32_t>{65, 66}));
    try {
        Tokenizer::load(dir.path.string(), 32000);
        FAIL();
    } catch (const Error &e) {
        const std::string m = e.what();
        EXPECT_NE(m.find(dir.path.string()), std::string::npos) << m;
        EXPECT_NE(m.find("tokenizer.json"), std::string::npos) << m;
        EXPECT_NE(m.find("tokenizer.model"), std::string::npos) << m;
    }
}

TEST(Tokenizer, InvalidUtf8InputReadsAsReplacementCharacters) {
    const auto tok = Tokenizer::load(kData + "/bytelevel_bpe", 0);
    EXPECT_EQ(tok->decode(tok->encode("a\xFF"
                                      "b\xE6\x97",
                                      false)),
              "a\xEF\xBF\xBD"
              "b\xEF\xBF\xBD");
    const auto sp = Tokenizer::load(kData + "/spm_bpe", 0);
    EXPECT_EQ(sp->decode(sp->encode("a\xFF"
                                    "b",
                                    false)),
              "a\xEF\xBF\xBD"
              "b");
}

TEST(Utf8StreamDecoder, CompleteCharactersOnlyAndReplacementForInvalid) {
    Utf8StreamDecoder d;
    EXPECT_EQ(d.push("a\xE6"), "a");
    EXPECT_EQ(d.push("\x97"), "");
    EXPECT_EQ(d.push("\xA5z"), "\xE6\x97\xA5z");
    EXPECT_EQ(d.push("\xF0\x9F"), "");
    EXPECT_EQ(d.flush(), "\xEF\xBF\xBD");  // an incomplete sequence at the end
    Utf8StreamDecoder e;
    EXPECT_EQ(e.push("\xE6\x97"
                     "x"),
              "\xEF\xBF\xBD"
              "x");  // one U+FFFD for the maximal subpart
    EXPECT_EQ(e.push("\xFF\xC0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
    EXPECT_EQ(e.push("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // a surrogate
    EXPECT_EQ(e.flush(), "");
    EXPECT_EQ(retnet::utf8::sanitize("ok\xF4\x90\x80\x80"), "ok\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
}

// A megabyte of text and a million-character word round-trip. Speed is not asserted here (the
// machine may be busy); a quadratic merge would show as the suite's timeout, and the printed
// times are for reading.
TEST(Tokenizer, OneMegabyteRoundTrips) {
    std::string text;
    const std::string sample = read_text("/usr/share/common-licenses/GPL-3");
    std::mt19937 rng(3);
    while (text.size() < (1 << 20)) {
        text += sample.empty() ? "In the beginning God created the heaven and the earth. " : sample;
        text += random_text(rng, 200);
    }
    text.resize(1 << 20);
    text = retnet::utf8::sanitize(text);
    for (const char *name : {"bytelevel_bpe", "llama_hf", "added_tokens", "spm_bpe"}) {
        const auto tok = Tokenizer::load(kData + "/" + name, 0);
        const auto start = std::chrono::steady_clock::now();
        const auto ids = tok->encode(text, false);
        const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        std::printf("%s: 1 MiB -> %zu ids in %.3f s\n", name, ids.size(), s);
        EXPECT_EQ(tok->decode(ids), text) << name;
    }
    // One word of a million characters (no pre-tokenizer split): the merge heap, not a quadratic scan.
    const auto llama = Tokenizer::load(kData + "/llama_hf", 0);
    const std::string word(1 << 20, 'a');
    const auto start = std::chrono::steady_clock::now();
    const auto ids = llama->encode(word, false);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("llama_hf: a 1 MiB word -> %zu ids in %.3f s\n", ids.size(), s);
    EXPECT_EQ(llama->decode(ids), word);
}

// ---- malformed input ---------------------------------------------------------------------------

std::string minimal_json(const std::string &model_type = "BPE", const std::string &merges = "[\"a b\"]",
                         const std::string &extra = "") {
    return "{" + extra + "\"model\": {\"type\": \"" + model_type +
           "\", \"vocab\": {\"a\": 0, \"b\": 1, \"ab\": 2}, \"merges\": " + merges + "}}";
}

void expect_error(const std::string &dir, std::initializer_list<std::string> parts) {
    try {
        Tokenizer::load(dir, 0);
        ADD_FAILURE() << "loaded";
    } catch (const Error &e) {
        for (const auto &part : parts) EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
    }
}

TEST(TokenizerErrors, MalformedFilesAreNamed) {
    expect_error("/nonexistent/model", {"/nonexistent/model", "not a directory"});
    {
        TempDir d;
        expect_error(d.write("tokenizer.json", "{\"model\": "), {"tokenizer.json", "not valid JSON"});
    }
    {
        TempDir d;
        expect_error(d.write("tokenizer.json", "[1, 2]"), {"tokenizer.json", "expected an object"});
    }
    {
        TempDir d;
        expect_error(d.write("tokenizer.json", minimal_json("WordPiece")), {"tokenizer.json", "/model/type", "WordPiece"});
    }
    {
        TempDir d;
        expect_error(d.write("tokenizer.json", minimal_json("Unigram")), {"/model/type", "Unigram"});
    }
    {
        TempDir d;
        expect_error(d.write("tokenizer.json", minimal_json("BPE", "[\"a c\"]")), {"/model/merges/0", "\"c\""});
    }
    {
        TempDir d;
        expect_error(d.write("tokenizer.json", minimal_json("BPE", "[\"b a\"]")), {"/model/merges/0", "\"ba\""});
    }
    {
        TempDir d;
        expect_error(d.write("tokenizer.json", minimal_json("BPE", "[\"a b c\"]")), {"/model/merges/0"});
    }
    {
        TempDir d;
        expect_error(d.write("tokenizer.json", minimal_json("BPE", "[[\"a\", 3]]")), {"/model/merges/0/1", "expected a string"});
    }
    {
        TempDir d;
        expect_error(d.write("tokenizer.json", minimal_json("BPE", "[]", "\"normalizer\": {\"type\": \"Lowercase\"},")),
                     {"/normalizer/type", "Lowercase"});
    }
    {
        TempDir d;
        expect_error(d.write("tokenizer.json",
                             minimal_json("BPE", "[]", "\"pre_tokenizer\": {\"type\": \"Sequence\", \"pretokenizers\": "
                                                       "[{\"type\": \"Whitespace\"}]},")),
                     {"/pre_tokenizer/pretokenizers/0/type", "Whitespace"});
    }
    {
        TempDir d;
        expect_error(d.write("tokenizer.json",
                             minimal_json("BPE", "[]", "\"pre_tokenizer\": {\"type\": \"Split\", \"pattern\": "
                                                       "{\"Regex\": \"(a\"}, \"behavior\": \"Isolated\"},")),
                     {"/pre_tokenizer/pattern/Regex", "invalid regular expression"});
    }
    {
        TempDir d;
        expect_error(d.write("tokenizer.json", "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 0}, \"merges\": []}}"),
                     {"/model/vocab/", "more than one token"});
    }
    {
        TempDir d;
        expect_error(d.write("tokenizer.json", "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 99999999}, \"merges\": []}}"),
                     {"/model/vocab/a", "99999999"});
    }
    {
        TempDir d;
        expect_error(d.write("tokenizer.json", "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [], "
                                               "\"unk_token\": \"<unk>\"}}"),
                     {"/model/unk_token", "<unk>"});
    }
    {
        TempDir d;
        expect_error(d.write("tokenizer.json", minimal_json("BPE", "[]", "\"added_tokens\": [{\"id\": 5, \"content\": \"\"}],")),
                     {"/added_tokens/0/content"});
    }
    {
        TempDir d;
        expect_error(d.write("tokenizer.json", minimal_json("BPE", "[]", "\"decoder\": {\"type\": \"WordPiece\"},")),
                     {"/decoder/type", "WordPiece"});
    }
    {
        TempDir d;
        expect_error(d.write("tokenizer.json", minimal_json("BPE", "[]", "\"post_processor\": {\"type\": \"BertProcessing\"},")),
                     {"/post_processor/type", "BertProcessing"});
    }
    {
        TempDir d;
        expect_error(d.write("tokenizer.model", "\x0a\x05hello"), {"tokenizer.model", "not a SentencePiece model"});
    }
    {
        TempDir d;
        expect_error(d.write("spiece.model", ""), {"spiece.model"});
    }
}

TEST(TokenizerErrors, TruncatedSentencePieceModelIsRefused) {
    const std::string model = read_text(kData + "/spm_bpe/tokenizer.model");
    ASSERT_GT(model.size(), 1000u);
    int loaded = 0;
    for (size_t length : {size_t(0), size_t(1), size_t(10), model.size() / 3, model.size() / 2, model.size() - 1}) {
        TempDir d;
        d.write("tokenizer.model", model.substr(0, length));
        try {
            Tokenizer::load(d.path.string(), 0)->encode("Hello world", true);
            ++loaded;
        } catch (const Error &e) {
            EXPECT_NE(std::string(e.what()).find("tokenizer.model"), std::string::npos) << e.what();
        }
    }
    EXPECT_LT(loaded, 6);
}

// Loads what it can, and encodes and decodes a few texts with what loaded; only retnet::Error may
// come out (the fuzz target fuzz/fuzz_tokenizer_json.cpp does the same with any bytes).
int load_and_use(const TempDir &d, const std::string &bytes) {
    d.write("tokenizer.json", bytes);
    try {
        const auto tok = Tokenizer::load(d.path.string(), 0);
        for (const char *text : {"", "Hello world", " <|user|> 日本 😀\n\t x"}) {
            const auto ids = tok->encode(text, true);
            tok->decode(ids);
            stream_decode(*tok, ids);
        }
        return 1;
    } catch (const Error &) {
        return 0;
    }
}

TEST(TokenizerErrors, TruncatedAndCorruptedJsonNeverAborts) {
    const std::string json = read_text(kData + "/added_tokens/tokenizer.json");
    TempDir d;
    int loaded = 0;
    for (size_t length = 0; length < json.size(); length += 1 + json.size() / 300) loaded += load_and_use(d, json.substr(0, length));
    EXPECT_EQ(loaded, 0);  // every cut is invalid JSON
    std::mt19937 rng(11);
    for (int trial = 0; trial < 300; ++trial) {
        std::string bytes = json;
        for (int flips = 1 + rng() % 4; flips > 0; --flips) bytes[rng() % bytes.size()] = static_cast<char>(rng() % 128);
        loaded += load_and_use(d, bytes);
    }
    // Valid JSON with changed values: flags toggled, merges and tokens dropped, ids moved.
    const auto original = nlohmann::json::parse(json);
    int changed_loaded = 0;
    for (int trial = 0; trial < 60; ++trial) {
        auto j = original;
        auto &merges = j["model"]["merges"];
        merges.erase(merges.begin() + static_cast<long>(rng() % merges.size()));
        auto &added = j["added_tokens"][rng() % j["added_tokens"].size()];
        for (const char *flag : {"lstrip", "rstrip", "single_word", "normalized", "special"}) {
            if (rng() % 2) added[flag] = !added[flag].get<bool>();
        }
        if (trial % 3 == 0) added["id"] = static_cast<int>(rng() % 2000);
        if (trial % 5 == 0) j["model"]["vocab"].erase(j["model"]["vocab"].begin().key());
        if (trial % 7 == 0) j["pre_tokenizer"]["pretokenizers"][0]["behavior"] = "MergedWithNext";
        changed_loaded += load_and_use(d, j.dump());
    }
    EXPECT_GT(changed_loaded, 20);
}

TEST(TokenizerErrors, AddedTokenFlagsFollowHuggingFace) {
    // single_word: only where no word character touches the token; lstrip/rstrip take the
    // whitespace around it; normalized tokens are matched after the normalizer.
    TempDir d;
    d.write("tokenizer.json", R"({
      "added_tokens": [
        {"id": 3, "content": "ab", "single_word": true, "special": false, "normalized": false},
        {"id": 4, "content": "X", "lstrip": true, "rstrip": true, "special": true, "normalized": false},
        {"id": 5, "content": "b!", "special": false, "normalized": true}],
      "normalizer": {"type": "Replace", "pattern": {"String": "?"}, "content": "!"},
      "decoder": {"type": "Fuse"},
      "model": {"type": "BPE", "vocab": {"a": 0, "b": 1, " ": 2, "!": 6, "?": 7}, "merges": []}})");
    const auto tok = Tokenizer::load(d.path.string(), 0);
    EXPECT_EQ(tok->encode("ab", false), (std::vector<int32_t>{3}));
    EXPECT_EQ(tok->encode("aab", false), (std::vector<int32_t>{0, 0, 1}));
    EXPECT_EQ(tok->encode("ab a", false), (std::vector<int32_t>{3, 2, 0}));
    EXPECT_EQ(tok->encode("a  X  b", false), (std::vector<int32_t>{0, 4, 1}));
    EXPECT_EQ(tok->encode("b?", false), (std::vector<int32_t>{5}));
    EXPECT_EQ(tok->encode("b!", false), (std::vector<int32_t>{5}));
    EXPECT_EQ(tok->decode({0, 4, 1}), "ab");
    EXPECT_EQ(tok->decode({0, 4, 1}, false), "aXb");
}

}  // namespace
