// Error-message text that is formatted only when a message is needed.
#pragma once

#include <string>

namespace retnet::detail {

// A piece of an error message, such as a tensor's role in a call ("retention_decode_step: q") or
// its dimensions' names. The checks that use it run on every kernel call (each decode step of
// each layer), and formatting every role up front cost more host time than a small kernel
// (callgrind, B1 H2 decode step: a third of the call's instructions went to building strings).
// A Label points at its caller's strings: pass it down a call, never keep it.
class Label {
public:
    Label(const char *text) : first_(text) {}                 // NOLINT: implicit, like the strings it stands for
    Label(const std::string &text) : first_(text.c_str()) {}  // NOLINT
    // "first: second", e.g. a function's name and a tensor's.
    Label(const char *first, const char *second) : first_(first), second_(second) {}

    std::string str() const { return second_ ? std::string(first_) + ": " + second_ : std::string(first_); }

private:
    const char *first_;
    const char *second_ = nullptr;
};

}  // namespace retnet::detail
