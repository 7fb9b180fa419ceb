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

// --weights: how the model keeps its linear weights (retnet/layers.h WeightStorage): auto (as the
// checkpoint stores them), f32, bf16 or f16.
void add_weights_option(CLI::App *cmd, std::string *weights);

}  // namespace retnet::apps
