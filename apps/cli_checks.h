// Strict checks of numeric flags, applied to the text before CLI11 converts it: CLI11 2.1 accepts
// "+2" and clamps an out-of-range "18446744073709551617" to the type's maximum, so a mistyped
// value would run with a number nobody asked for.
#pragma once

#include <cstdint>

#include <CLI/CLI.hpp>

namespace retnet::apps {

// A decimal integer (digits, one leading '-' at most) in [lo, hi].
CLI::Validator IntegerIn(int64_t lo, int64_t hi);
// A decimal unsigned 64-bit integer (seeds).
CLI::Validator Unsigned64();

}  // namespace retnet::apps
