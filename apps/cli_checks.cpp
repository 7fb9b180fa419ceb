#include "cli_checks.h"

#include <charconv>
#include <string>

#include <fmt/format.h>

namespace retnet::apps {

namespace {

template<typename T>
bool parse_exact(const std::string &text, T &value) {
    const char *end = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(text.data(), end, value);  // no '+', no spaces, no wrap
    return ec == std::errc() && ptr == end && !text.empty();
}

}  // namespace

CLI::Validator IntegerIn(int64_t lo, int64_t hi) {
    return CLI::Validator(
        [lo, hi](std::string &text) -> std::string {
            int64_t value = 0;
            if (!parse_exact(text, value) || value < lo || value > hi) {
                return fmt::format("expected an integer from {} to {}, got '{}'", lo, hi, text);
            }
            return "";
        },
        fmt::format("INT in [{} - {}]", lo, hi));
}

CLI::Validator Unsigned64() {
    return CLI::Validator(
        [](std::string &text) -> std::string {
            uint64_t value = 0;
            if (!parse_exact(text, value)) return fmt::format("expected an integer from 0 to {}, got '{}'", UINT64_MAX, text);
            return "";
        },
        "UINT64");
}

void add_weights_option(CLI::App *cmd, std::string *weights) {
    cmd->add_option("--weights", *weights,
                    "linear weights kept as stored (auto: bf16/f16 stay 2 bytes), or converted: f32, bf16, f16, or int8 "
                    "(weight-only, a scale per output feature)")
        ->check(CLI::IsMember({"auto", "f32", "bf16", "f16", "int8"}))
        ->capture_default_str();
}

}  // namespace retnet::apps
