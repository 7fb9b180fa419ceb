#include "token_file.h"

#include <fstream>

#include <fmt/format.h>

#include "retnet/error.h"

namespace retnet::apps {

std::vector<int32_t> read_token_file(const std::string &path) {
    std::ifstream in(path);
    if (!in) throw Error(fmt::format("{}: cannot open the token file", path));
    std::vector<int32_t> tokens;
    std::string word;
    while (in >> word) {
        size_t used = 0;
        long long value = -1;
        try {
            value = std::stoll(word, &used);
        } catch (const std::exception &) {
            used = 0;
        }
        if (used != word.size() || value < 0 || value > INT32_MAX) {
            throw Error(fmt::format("{}: token {} ('{}'): expected a non-negative integer id", path, tokens.size(), word));
        }
        tokens.push_back(static_cast<int32_t>(value));
    }
    if (tokens.empty()) throw Error(fmt::format("{}: expected at least one token id, found none", path));
    return tokens;
}

}  // namespace retnet::apps
