#include "token_file.h"

#include <charconv>
#include <cctype>

#include <fmt/format.h>

#include "retnet/error.h"
#include "retnet/files.h"

namespace retnet::apps {

namespace {
// 64 MiB of text is some ten million ids: far more than one forward call can take.
constexpr uint64_t kMaxTokenFileBytes = uint64_t(64) << 20;
}  // namespace

std::vector<int32_t> read_token_file(const std::string &path) {
    const std::string text = read_text_file(path, "token file", kMaxTokenFileBytes);
    std::vector<int32_t> tokens;
    size_t pos = 0;
    while (true) {
        while (pos < text.size() && std::isspace(static_cast<unsigned char>(text[pos]))) pos++;
        if (pos == text.size()) break;
        size_t end = pos;
        while (end < text.size() && !std::isspace(static_cast<unsigned char>(text[end]))) end++;
        // Digits only: from_chars refuses '+', '-' and anything past INT32_MAX.
        int32_t value = -1;
        const auto [ptr, ec] = std::from_chars(text.data() + pos, text.data() + end, value);
        if (ec != std::errc() || ptr != text.data() + end || value < 0 || text[pos] == '-') {
            std::string word = text.substr(pos, std::min<size_t>(end - pos, 40));
            for (char &c : word)
                if (!std::isprint(static_cast<unsigned char>(c))) c = '?';
            throw Error(fmt::format("{}: token {} ('{}'): expected a non-negative integer id below 2^31", path,
                                    tokens.size(), word));
        }
        tokens.push_back(value);
        pos = end;
    }
    if (tokens.empty()) throw Error(fmt::format("{}: expected at least one token id, found none", path));
    return tokens;
}

}  // namespace retnet::apps
