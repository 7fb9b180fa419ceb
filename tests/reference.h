// An independent float64 reference for retention, written plainly from the definition
// (SEMANTICS.md §1), O(T^2) per head, sharing no code with the kernels:
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

}  // namespace retnet::test
