// `retnet bench`: times every retention form and the decode step, prints a table of ms, GFLOP/s
// and GB/s (docs/SEMANTICS.md §3), and optionally writes the rows as CSV.
#pragma once

#include <CLI/CLI.hpp>

namespace retnet::apps {

void add_bench_command(CLI::App &app);

}  // namespace retnet::apps
