// Runs one candidate in a child process: a compile that hangs is killed at the time-out, and a
// crash or abort inside Halide or LLVM costs the candidate, not the tuning run.
#pragma once

#include <functional>

#include "search.h"

namespace retnet::tune {

Evaluation run_isolated(const std::function<Evaluation()> &work, double timeout_seconds);

}  // namespace retnet::tune
