// The dimensions of public RetNet checkpoints and of the paper's models, for the benchmarks'
// random-weight models (`retnet bench-model`, `retnet bench-inference`), and the Transformer of
// the same size that bench-inference compares a RetNet with.
#pragma once

#include <string>
#include <vector>

#include "retnet/model_config.h"
#include "retnet/transformer.h"

namespace retnet::apps {

struct Preset {
    const char *name, *about;
    int64_t layers, d, heads, key_width, value_width, ffn, vocab;
};

const std::vector<Preset> &presets();

// The RetNet config of preset `name` (swish GLU feed-forward); throws naming the presets otherwise.
ModelConfig preset_config(const std::string &name);

// A Llama-style Transformer with the RetNet's d, layers and vocabulary, heads of 128 features, and
// the feed-forward width that gives it the RetNet's parameter count (its attention has fewer
// weights than retention with V = 2d), rounded to a multiple of 64.
TransformerConfig transformer_like(const ModelConfig &retnet);

}  // namespace retnet::apps
