// The one exception type the runtime throws: a message that names the bad input, what was
// expected and what came. Halide's own errors (bounds, allocation) arrive here too.
#pragma once

#include <stdexcept>
#include <string>

namespace retnet {

class Error : public std::runtime_error {
public:
    explicit Error(const std::string &message) : std::runtime_error(message) {}
};

}  // namespace retnet
