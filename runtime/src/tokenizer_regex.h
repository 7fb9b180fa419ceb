// PCRE2 (UTF-8, Unicode properties) for the regular expressions of tokenizer.json, with limits on
// the work and memory of each match so that no pattern can hang or exhaust the process.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace retnet::tokenizer_detail {

class Regex {
public:
    // where names the pattern in errors (file and JSON path).
    Regex(const std::string &pattern, const std::string &where);
    ~Regex();
    Regex(const Regex &) = delete;
    Regex &operator=(const Regex &) = delete;

    // The non-overlapping matches in valid UTF-8 text, left to right, as [begin, end) byte ranges.
    std::vector<std::pair<size_t, size_t>> find_all(std::string_view text) const;
    // Whether the whole of text (one character, say) matches.
    bool matches_whole(std::string_view text) const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace retnet::tokenizer_detail
