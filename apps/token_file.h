// Token id files: whitespace-separated non-negative integers (one sequence).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace retnet::apps {

// Throws retnet::Error naming the file and the first bad entry; an empty file is an error too.
std::vector<int32_t> read_token_file(const std::string &path);

}  // namespace retnet::apps
