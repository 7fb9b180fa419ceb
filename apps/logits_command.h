// `retnet logits`: a model's logits [T, vocab] for one token sequence, written as .npy.
#pragma once

#include <CLI/CLI.hpp>

namespace retnet::apps {

void add_logits_command(CLI::App &app);

}  // namespace retnet::apps
