// Pieces shared by the GPU schedules.
#pragma once

#include "Halide.h"

namespace retnet_gen {

using namespace Halide;

// Launches one block per (x[, y], batch x head): fuses h and b (Halide has three block
// dimensions) and maps the given loops to blocks.
inline void gpu_blocks_over_heads(Stage s, const VarOrRVar &x, const Var &h, const Var &b) {
    Var hb("hb");
    s.fuse(h, b, hb).gpu_blocks(x, hb);
}
inline void gpu_blocks_over_heads(Stage s, const VarOrRVar &x, const VarOrRVar &y, const Var &h, const Var &b) {
    Var hb("hb");
    s.fuse(h, b, hb).gpu_blocks(x, y, hb);
}

}  // namespace retnet_gen
