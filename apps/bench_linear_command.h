// `retnet bench-linear`: times the linear (matrix product) kernels alone, y [M, N] = x [M, K] W^T,
// for each weight storage and shape (default: the fla-1.3b prefill products at M 2048), so that
// tools/gpu/linear_vs_cublas.py can put them beside cuBLAS's sgemm (or PyTorch's CPU matmul).
#pragma once

#include <CLI/CLI.hpp>

namespace retnet::apps {

void add_bench_linear_command(CLI::App &app);

}  // namespace retnet::apps
