// `retnet bench-model`: the time to compute logits for a batch of sequences with a random-weight
// model (default: 12 layers, d = 768, the paper's head dimension 256), per form.
#pragma once

#include <CLI/CLI.hpp>

namespace retnet::apps {

void add_bench_model_command(CLI::App &app);

}  // namespace retnet::apps
