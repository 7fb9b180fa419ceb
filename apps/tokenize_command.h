// `retnet tokenize`: a model directory's tokenizer on its own: text to ids, or ids to text.
#pragma once

#include <CLI/CLI.hpp>

namespace retnet::apps {

void add_tokenize_command(CLI::App &app);

}  // namespace retnet::apps
