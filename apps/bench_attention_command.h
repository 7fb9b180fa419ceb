// `retnet bench-attention`: the Transformer baseline's attention alone, over a KV cache of each
// context length (decoding: one query per sequence; prefill: the whole prompt), with the cache's
// bytes read per second: what tools/attention_side_by_side.py compares with PyTorch's attention.
#pragma once

#include <CLI/CLI.hpp>

namespace retnet::apps {

void add_bench_attention_command(CLI::App &app);

}  // namespace retnet::apps
