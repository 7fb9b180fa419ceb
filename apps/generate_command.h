// `retnet generate`: continue a prompt with a byte-level model (default: the shipped KJV model),
// streaming the text, then report load time, prompt and generation speed, and the decoding
// state's memory beside a Transformer's KV cache at the same length.
#pragma once

#include <CLI/CLI.hpp>

namespace retnet::apps {

void add_generate_command(CLI::App &app);

}  // namespace retnet::apps
