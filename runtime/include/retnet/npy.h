// NumPy .npy files of float32 (written) and float32 or float64 (read) C-order arrays: logits out,
// golden logits in. The reader checks the header and the data size against the file before it
// allocates; the writer makes the file appear only when complete.
#pragma once

#include <string>

#include "retnet/files.h"
#include "retnet/tensor.h"

namespace retnet {

void write_npy(const std::string &path, const Tensor &tensor);
// Writes into `out` (created earlier, e.g. before a long computation) and commits it.
void write_npy(AtomicOutputFile &out, const Tensor &tensor);
Tensor read_npy(const std::string &path);

}  // namespace retnet
