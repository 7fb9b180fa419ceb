// What `retnet tune` measures: for each tunable kernel and shape bucket, a problem with fixed
// random inputs and a float64 reference. A candidate's schedule parameters are compiled with
// Halide's JIT (the generator itself, in this process's child), checked against the reference and
// timed. This file knows the generators; the search and the database do not.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "search.h"

namespace retnet::tune {

struct TimingOptions {
    int warmup = 1;
    int repeats = 7;
    int input_sets = 3;  // inputs rotated between timed calls, caches flushed (at most the 3 made)
};

struct Problem {
    std::string kernel, generator, bucket, shape;
    std::map<std::string, int> fixed;  // generator params that define the kernel
    SearchSpace space;
    // Makes the inputs and the float64 reference (once); call before forking candidates' children.
    std::function<void()> prepare;
    // Compiles and runs one candidate (or Halide's Adams2019 autoscheduler's schedule when
    // `autoschedule`): the time, or why it was discarded. Call in a child process (isolate.h).
    std::function<Evaluation(const Candidate &, bool autoschedule, const TimingOptions &)> run;
};

// Every problem of `kernel` ("all": every tunable kernel) on `device` (cpu, cuda or opencl: the
// GPU targets JIT-compile for the host plus that GPU API and need the device present); throws on
// an unknown name.
std::vector<Problem> problems(const std::string &kernel, const std::string &device);
std::vector<std::string> tunable_kernels();

// The Halide target string the JIT compiles for on `device`.
std::string target_string(const std::string &device);

}  // namespace retnet::tune
