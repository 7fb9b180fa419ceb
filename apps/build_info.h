// Which build a benchmark measured: the commit (`git describe --dirty` at build time) and the
// machine, written as the first columns of every bench CSV so that tools/compare_bench.py can put
// runs of different commits side by side.
#pragma once

#include <string>

namespace retnet::apps {

const char *build_commit();
// The CPU's model name (from /proc/cpuinfo), or "unknown".
std::string machine_name();

}  // namespace retnet::apps
