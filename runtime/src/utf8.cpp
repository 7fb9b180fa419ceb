// UTF-8 validation, replacement of invalid sequences and the streaming decoder.
#include "retnet/tokenizer.h"

namespace retnet {
namespace {

constexpr const char *kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// The length a lead byte announces (0: not a lead byte) and the range its second byte must lie in
// (the rest are 0x80..0xBF): this excludes overlong forms, surrogates and code points past U+10FFFF.
struct Lead {
    int length;
    unsigned char low, high;
};

Lead lead_of(unsigned char b) {
    if (b < 0x80) return {1, 0, 0};
    if (b >= 0xC2 && b <= 0xDF) return {2, 0x80, 0xBF};
    if (b == 0xE0) return {3, 0xA0, 0xBF};
    if (b == 0xED) return {3, 0x80, 0x9F};
    if (b >= 0xE1 && b <= 0xEF) return {3, 0x80, 0xBF};
    if (b == 0xF0) return {4, 0x90, 0xBF};
    if (b >= 0xF1 && b <= 0xF3) return {4, 0x80, 0xBF};
    if (b == 0xF4) return {4, 0x80, 0x8F};
    return {0, 0, 0};
}

// How many bytes at s[pos] form a valid prefix of a sequence (the maximal subpart), and whether
// that prefix is the whole sequence.
size_t valid_prefix(std::string_view s, size_t pos, bool &complete) {
    const Lead lead = lead_of(static_cast<unsigned char>(s[pos]));
    complete = false;
    if (lead.length == 0) return 0;
    if (lead.length == 1) {
        complete = true;
        return 1;
    }
    size_t n = 1;
    for (; n < static_cast<size_t>(lead.length) && pos + n < s.size(); ++n) {
        const auto c = static_cast<unsigned char>(s[pos + n]);
        const unsigned char lo = n == 1 ? lead.low : 0x80, hi = n == 1 ? lead.high : 0xBF;
        if (c < lo || c > hi) return n;
    }
    complete = n == static_cast<size_t>(lead.length);
    return n;
}

// Appends the valid text of s to out, invalid subparts as U+FFFD. Stops before a trailing
// incomplete (but so far valid) sequence unless final; returns the bytes consumed.
size_t decode_into(std::string_view s, std::string &out, bool final) {
    size_t pos = 0;
    while (pos < s.size()) {
        bool complete = false;
        const size_t n = valid_prefix(s, pos, complete);
        if (complete) {
            out.append(s.substr(pos, n));
            pos += n;
        } else if (n > 0 && pos + n == s.size() && !final) {
            break;  // may be completed by the next bytes
        } else {
            out += kReplacement;
            pos += n == 0 ? 1 : n;
        }
    }
    return pos;
}

}  // namespace

namespace utf8 {

std::string sanitize(std::string_view text) {
    if (valid(text)) return std::string(text);
    std::string out;
    out.reserve(text.size() + 8);
    decode_into(text, out, true);
    return out;
}

bool valid(std::string_view text) {
    size_t pos = 0;
    while (pos < text.size()) {
        if (static_cast<unsigned char>(text[pos]) < 0x80) {
            ++pos;
            continue;
        }
        bool complete = false;
        const size_t n = valid_prefix(text, pos, complete);
        if (!complete) return false;
        pos += n;
    }
    return true;
}

void append(std::string &out, uint32_t cp) {
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    }
}

uint32_t next(std::string_view text, size_t &pos) {
    const auto b = static_cast<unsigned char>(text[pos]);
    int length = b < 0x80 ? 1 : b < 0xE0 ? 2
                            : b < 0xF0   ? 3
                                         : 4;
    if (pos + length > text.size()) length = static_cast<int>(text.size() - pos);
    uint32_t cp = length == 1 ? b : length == 2 ? (b & 0x1F)
                                : length == 3   ? (b & 0x0F)
                                                : (b & 0x07);
    for (int i = 1; i < length; ++i) cp = (cp << 6) | (static_cast<unsigned char>(text[pos + i]) & 0x3F);
    pos += length;
    return cp;
}

}  // namespace utf8

std::string Utf8StreamDecoder::push(std::string_view bytes) {
    pending_.append(bytes);
    std::string out;
    const size_t used = decode_into(pending_, out, false);
    pending_.erase(0, used);
    return out;
}

std::string Utf8StreamDecoder::flush() {
    std::string out;
    decode_into(pending_, out, true);
    pending_.clear();
    return out;
}

std::string TokenTextStream::push(int32_t id) {
    std::string bytes = tokenizer_.token_bytes(id);
    if (at_start_ && !bytes.empty()) {
        at_start_ = false;
        if (tokenizer_.strips_leading_space() && bytes[0] == ' ') bytes.erase(0, 1);
    }
    return utf8_.push(bytes);
}

std::string TokenTextStream::flush() { return utf8_.flush(); }

}  // namespace retnet
