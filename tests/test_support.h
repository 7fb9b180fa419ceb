// Helpers shared by the test suites: seeded random tensors (the seed is printed, and can be
// fixed with RETNET_TEST_SEED to replay a failure), NaN-poisoned outputs, relative errors.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "retnet/tensor.h"

namespace retnet::test {

// One generator per test binary, seeded from the clock unless RETNET_TEST_SEED is set.
std::mt19937_64 &rng();
uint64_t test_seed();

// Uniform in [-1, 1): never zeros, so unwritten or mis-indexed elements cannot hide.
Tensor random_tensor(const Shape &shape);
// Filled with quiet NaN, so any element a kernel fails to write shows in the error.
Tensor poisoned(const Shape &shape);
// Each row of `w` [rows, cols] quantized to int8 with the scale max |row| / 127 (docs/SEMANTICS.md)
// and scaled back to float32: the weights int8 storage multiplies by.
Tensor int8_dequantized_rows(const Tensor &w);

// x [B, T, H, K] rotated in float64 as docs/SEMANTICS.md §2 says (feature pairs (2i, 2i+1) of
// sequence b at position starts[b] + t turned by the float32 phase position * angles[i], as
// torchscale rounds it), times scale: rotate_query_key's result, from no kernel code.
std::vector<double> reference_rotation(const Tensor &x, const std::vector<int64_t> &starts,
                                       const std::vector<float> &angles, double scale);

// Every device this build knows, for tests that run on each; and a skip reason ("" = runnable).
std::vector<Device> all_devices();
std::string why_unavailable(Device device);
// `host` copied to `device` (the same tensor for the CPU), and back.
Tensor on(Device device, const Tensor &host);
Tensor to_host(const Tensor &tensor);

// ||actual - expected|| / ||expected|| (Frobenius); NaN if either holds a NaN. `actual` may be on
// any device (it is copied to the host).
double relative_error(const Tensor &actual, const std::vector<double> &expected);
double relative_error(const Tensor &actual, const Tensor &expected);

}  // namespace retnet::test
