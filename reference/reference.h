// An independent float64 reference for retention, written plainly from the definition
// (docs/SEMANTICS.md §1), O(T^2) per head, sharing no code with the kernels:
//   o_n = s * sum_{m<=n} gamma^(n-m) (q_n . k_m) v_m + s * gamma^(n+1) q_n S0
//   final state = gamma^T S0 + sum_m gamma^(T-1-m) k_m^T v_m
#pragma once

#include <vector>

#include "retnet/tensor.h"

namespace retnet::test {

struct ReferenceResult {
    std::vector<double> o;            // [B, T, H, V]
    std::vector<double> final_state;  // [B, H, K, V]
};

ReferenceResult reference_retention(const Tensor &q, const Tensor &k, const Tensor &v,
                                    const std::vector<double> &gamma, double scale,
                                    const Tensor *initial_state);

// The same reference on the inputs' absolute values: the magnitude of the terms each result sums,
// which bounds float32 rounding errors.
ReferenceResult reference_magnitude(const Tensor &q, const Tensor &k, const Tensor &v, const std::vector<double> &gamma,
                                    double scale, const Tensor *initial_state);

// ||actual - expected|| / ||max(|expected|, magnitude)||: the relative error, judged against the
// terms' magnitudes where random signs cancel the result (a 1 x 1 state of a few terms summing to
// ~0 otherwise fails a relative test that the kernel passes to float32 rounding). NaN if `actual`
// holds one (an unwritten, poisoned element). `actual` may be on any device.
double error_against_magnitude(const Tensor &actual, const std::vector<double> &expected,
                               const std::vector<double> &magnitude);

}  // namespace retnet::test
