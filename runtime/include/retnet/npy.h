// NumPy's .npy format (version 1.0) for float32 arrays: what `retnet logits` writes and the tests
// read golden logits from.
#pragma once

#include <string>

#include "retnet/tensor.h"

namespace retnet {

// Writes a host or device tensor as a C-order little-endian float32 array.
void write_npy(const std::string &path, const Tensor &tensor);
// Reads a C-order '<f4' (or '<f8', converted) array into a host tensor; anything else is an error
// naming the file and what it holds.
Tensor read_npy(const std::string &path);

}  // namespace retnet
