// Shared by the fuzz targets: the readers take a path, so each input goes to a file first.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace retnet::fuzz {

// Replaces the contents of this process's one in-memory file (memfd) with the input and returns a
// path that opens it (/proc/self/fd/N). In memory, so that the fuzzer neither wears the disk nor
// leaves files behind when it crashes; one per process, so that parallel fuzzers do not collide.
std::string input_file(const uint8_t *data, size_t size);

}  // namespace retnet::fuzz
