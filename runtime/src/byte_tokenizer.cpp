// The byte-level tokenizer of vocabulary 256 (models/kjv-byte): a token is a byte. Lossless for
// any bytes; no special tokens unless the model's config names a BOS or EOS.
#include "retnet/error.h"
#include "tokenizer_internal.h"

namespace retnet::tokenizer_detail {
namespace {

class ByteTokenizer final : public Tokenizer {
public:
    std::vector<int32_t> encode(std::string_view text, bool add_bos) const override {
        std::vector<int32_t> ids;
        ids.reserve(text.size() + 1);
        if (add_bos && bos_) ids.push_back(*bos_);
        for (const char c : text) ids.push_back(static_cast<unsigned char>(c));
        return ids;
    }
    std::string decode(const std::vector<int32_t> &ids, bool skip_special) const override {
        std::string out;
        out.reserve(ids.size());
        for (const int32_t id : ids) {
            check(id);
            if (!(skip_special && is_special(id))) out += static_cast<char>(id);
        }
        return out;
    }
    std::string token_bytes(int32_t id) const override {
        check(id);
        return is_special(id) ? std::string() : std::string(1, static_cast<char>(id));
    }
    bool strips_leading_space() const override { return false; }
    bool is_special(int32_t id) const override { return id == bos_ || id == eos_; }
    int64_t vocab_size() const override { return 256; }
    std::string kind() const override { return "byte"; }

private:
    static void check(int32_t id) {
        if (id < 0 || id > 255) throw Error("byte-level tokenizer: token id " + std::to_string(id) + " is not in [0, 256)");
    }
};

}  // namespace

std::unique_ptr<Tokenizer> make_byte_tokenizer() { return std::make_unique<ByteTokenizer>(); }

}  // namespace retnet::tokenizer_detail
