// `retnet tune ...`: runs retnet-tune (the schedule tuner, which links Halide's compiler; the
// `retnet` command itself does not), found beside this binary.
#pragma once

#include <CLI/CLI.hpp>

namespace retnet::apps {

void add_tune_command(CLI::App &app, const char *argv0);

}  // namespace retnet::apps
