// The golden models of tests/data/models (written by tools/retnet_reference.py: random weights,
// float64 logits computed from docs/SEMANTICS.md §2 in NumPy).
#pragma once

#include <string>
#include <vector>

#include "retnet/tensor.h"

namespace retnet::test {

struct GoldenModel {
    std::string name, dir;
    std::vector<int32_t> tokens;
    Tensor logits;  // [T, vocab], host
};

std::vector<std::string> golden_model_names();
GoldenModel load_golden(const std::string &name);
std::string test_data_dir();

}  // namespace retnet::test
