#include "text_token_stream.h"

#include <fmt/format.h>

#include "retnet/error.h"
#include "retnet/files.h"

namespace retnet::apps {

namespace {
constexpr size_t kBlockBytes = size_t(1) << 20;
}  // namespace

TextTokenStream::TextTokenStream(const std::string &path, const Tokenizer &tokenizer, bool add_bos)
    : tokenizer_(tokenizer), add_bos_(add_bos) {
    require_regular_file(path, "text file");
    in_.open(path, std::ios::binary);
    if (!in_) throw Error(fmt::format("{}: cannot open the text file", path));
}

void TextTokenStream::refill() {
    while (pending_.empty() && !(eof_ && carry_.empty())) {
        std::string block = std::move(carry_);
        carry_.clear();
        if (!eof_) {
            const size_t old = block.size();
            block.resize(old + kBlockBytes);
            in_.read(block.data() + old, static_cast<std::streamsize>(kBlockBytes));
            const size_t got = static_cast<size_t>(in_.gcount());
            block.resize(old + got);
            eof_ = got < kBlockBytes;
            // Keep what follows the last newline for the next block, unless the line is longer
            // than a block (then it is cut where the block ends).
            const size_t cut = block.rfind('\n');
            if (!eof_ && cut != std::string::npos) {
                carry_ = block.substr(cut + 1);
                block.resize(cut + 1);
            }
        }
        if (block.empty()) continue;
        for (int32_t id : tokenizer_.encode(block, add_bos_)) pending_.push_back(id);
        add_bos_ = false;
    }
}

bool TextTokenStream::next(int32_t &id) {
    refill();
    if (pending_.empty()) return false;
    id = pending_.front();
    pending_.pop_front();
    return true;
}

}  // namespace retnet::apps
