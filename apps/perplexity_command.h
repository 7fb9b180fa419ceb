// `retnet perplexity`: bits per byte of a byte-level model over a text file of any length, read and
// run window by window with the retention state carried across windows (bounded memory).
#pragma once

#include <CLI/CLI.hpp>

namespace retnet::apps {

void add_perplexity_command(CLI::App &app);

}  // namespace retnet::apps
