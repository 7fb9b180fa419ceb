// How the runtime calls generated kernels: tensors become halide_buffer_t views (no copies), and a
// kernel's failure becomes a retnet::Error carrying the message Halide reported.
#pragma once

#include <string>
#include <utility>

#include "HalideBuffer.h"
#include "retnet/tensor.h"

namespace retnet::detail {

// A Halide view of `tensor`: the same memory, dimensions reversed (Halide lists the innermost
// first). Throws if an extent or offset does not fit Halide's 32-bit indexing.
Halide::Runtime::Buffer<float> halide_view(const Tensor &tensor, const std::string &role);

// Clears the calling thread's last Halide message (called before every kernel).
void begin_kernel_call();

// Throws retnet::Error with the kernel's name and Halide's message if `status` is not 0.
void throw_if_failed(int status, const char *kernel);

// Runs `call` (which returns a Halide status code) and throws if it failed.

template<typename Call>
void run_kernel(const char *kernel, Call &&call) {
    begin_kernel_call();
    throw_if_failed(std::forward<Call>(call)(), kernel);
}

}  // namespace retnet::detail
