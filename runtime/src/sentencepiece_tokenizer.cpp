// SentencePiece models (tokenizer.model, spiece.model: BPE or unigram, with or without byte
// fallback) through Debian's libsentencepiece.
#include <sentencepiece_processor.h>

#include "retnet/error.h"
#include "tokenizer_internal.h"

namespace retnet::tokenizer_detail {
namespace {

constexpr uint64_t kMaxModelBytes = 256ull << 20;
constexpr const char *kSpaceMarker = "\xE2\x96\x81";  // U+2581, SentencePiece's space

class SentencePieceTokenizer final : public Tokenizer {
public:
    explicit SentencePieceTokenizer(const std::string &path) : path_(path) {
        const std::string bytes = read_file(path, kMaxModelBytes);
        const auto status = sp_.LoadFromSerializedProto(bytes);
        if (!status.ok()) throw Error(path + ": not a SentencePiece model: " + status.ToString());
        size_ = sp_.GetPieceSize();
        if (size_ <= 0) throw Error(path + ": SentencePiece model without pieces");
        pieces_.resize(size_);
        special_.resize(size_);
        for (int id = 0; id < size_; ++id) {
            special_[id] = sp_.IsControl(id);
            std::string piece = sp_.IdToPiece(id);
            if (sp_.IsControl(id)) {
                piece.clear();
            } else if (sp_.IsByte(id)) {
                piece = std::string(1, static_cast<char>(std::stoi(piece.substr(3, 2), nullptr, 16)));
            } else if (sp_.IsUnknown(id)) {
                sp_.Decode(std::vector<int>{id}, &piece);  // the model's surface of <unk> (" ⁇ ")
            } else {
                replace_markers(piece);
            }
            pieces_[id] = std::move(piece);
        }
        // Whether decoding drops the space of the first piece (the dummy prefix): ask the library
        // with a piece that starts with the space marker.
        for (int id = 0; id < size_; ++id) {
            const std::string &piece = sp_.IdToPiece(id);
            if (sp_.IsControl(id) || sp_.IsByte(id) || sp_.IsUnknown(id) || piece.rfind(kSpaceMarker, 0) != 0) continue;
            std::string text;
            if (sp_.Decode(std::vector<int>{id}, &text).ok()) strips_ = text.empty() || text[0] != ' ';
            break;
        }
        Access::set_defaults(*this, id_or_none(sp_.bos_id()), id_or_none(sp_.eos_id()));
    }

    std::vector<int32_t> encode(std::string_view text, bool add_bos) const override {
        std::vector<int> ids;
        const auto status = sp_.Encode(utf8::sanitize(text), &ids);
        if (!status.ok()) throw Error(path_ + ": SentencePiece could not encode the text: " + status.ToString());
        std::vector<int32_t> out;
        out.reserve(ids.size() + 1);
        if (add_bos && bos_) out.push_back(*bos_);
        out.insert(out.end(), ids.begin(), ids.end());
        return out;
    }

    std::string decode(const std::vector<int32_t> &ids, bool skip_special) const override {
        // The library decodes runs of ordinary pieces; special tokens are left out or, with
        // skip_special false, written as their pieces.
        std::string out;
        std::vector<int> run;
        bool first = true;
        const auto decode_run = [&] {
            if (run.empty()) return;
            std::string text;
            const auto status = sp_.Decode(run, &text);
            if (!status.ok()) throw Error(path_ + ": SentencePiece could not decode: " + status.ToString());
            if (!first && strips_ && pieces_[run[0]].rfind(' ', 0) == 0 && (text.empty() || text[0] != ' ')) {
                text.insert(0, 1, ' ');  // only the text's first piece loses its space
            }
            out += text;
            first = first && text.empty();
            run.clear();
        };
        for (const int32_t id : ids) {
            check(id);
            if (is_special(id)) {
                if (skip_special) continue;
                decode_run();
                out += sp_.IdToPiece(id);
                first = false;
            } else {
                run.push_back(id);
            }
        }
        decode_run();
        return out;
    }

    std::string token_bytes(int32_t id) const override {
        check(id);
        return pieces_[id];
    }
    bool strips_leading_space() const override { return strips_; }
    bool is_special(int32_t id) const override {
        return (id >= 0 && id < size_ && special_[id]) || id == bos_ || id == eos_;
    }
    int64_t vocab_size() const override { return size_; }
    std::string kind() const override { return "sentencepiece"; }

private:
    static std::optional<int32_t> id_or_none(int id) { return id >= 0 ? std::optional<int32_t>(id) : std::nullopt; }
    static void replace_markers(std::string &piece) {
        for (size_t pos = 0; (pos = piece.find(kSpaceMarker, pos)) != std::string::npos;) piece.replace(pos, 3, " ");
    }
    void check(int32_t id) const {
        if (id < 0 || id >= size_) {
            throw Error(path_ + ": token id " + std::to_string(id) + " is not in [0, " + std::to_string(size_) + ")");
        }
    }

    std::string path_;
    sentencepiece::SentencePieceProcessor sp_;
    int size_ = 0;
    std::vector<std::string> pieces_;
    std::vector<bool> special_;
    bool strips_ = false;
};

}  // namespace

std::unique_ptr<Tokenizer> load_sentencepiece(const std::string &path) {
    return std::make_unique<SentencePieceTokenizer>(path);
}

}  // namespace retnet::tokenizer_detail
