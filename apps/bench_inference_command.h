// `retnet bench-inference`: the paper's inference comparison, measured. A RetNet of a preset's
// size and the Transformer of the same size (model_presets.h), random weights, on one device:
// decode latency against context length, throughput against batch size at one context, memory,
// and prefill time against length; a CSV for tools/plot_inference.py.
#pragma once

#include <CLI/CLI.hpp>

namespace retnet::apps {

void add_bench_inference_command(CLI::App &app);

}  // namespace retnet::apps
