// How the runtime calls generated kernels: tensors become halide_buffer_t views of their memory
// (host or device, no copies), and a kernel's failure becomes a retnet::Error carrying the message
// Halide reported.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "HalideBuffer.h"
#include "HalideRuntime.h"
#include "label.h"
#include "retnet/tensor.h"

namespace retnet::detail {

// The Halide element type of a tensor's dtype.
halide_type_t halide_type_of_dtype(DType dtype);

// A Halide buffer over a tensor's memory: host memory for CPU tensors, the device allocation for
// GPU tensors (never freed by the view). A host vector that a GPU kernel copied to the device (the
// per-head decay values) has that device copy freed with the view.
class KernelBuffer {
public:
    KernelBuffer(const Tensor &tensor, Label role);
    explicit KernelBuffer(std::vector<float> &values);  // a small host vector

    operator halide_buffer_t *() { return buffer_.raw_buffer(); }
    Halide::Runtime::Buffer<void> &buffer() { return buffer_; }

private:
    static constexpr int kMaxRank = 5;  // the kernels' largest: attention's parts [B, H, C, T, D + 2]

    Halide::Runtime::Buffer<void> buffer_;  // up to 4 dimensions in place: no allocation per call
};

// Part of a host buffer: elements [first, first + count) along dimension `dim`, indexed from 0
// there (the kernels' outputs start at index 0); the memory stays the whole buffer's.
Halide::Runtime::Buffer<void> host_slice(Halide::Runtime::Buffer<void> &whole, int dim, int64_t first, int64_t count);
// The same on a host or CUDA buffer (an address at an offset; OpenCL buffers are refused);
// `from_zero` false keeps the indices [first, first + count).
Halide::Runtime::Buffer<void> crop(Halide::Runtime::Buffer<void> &whole, int dim, int64_t first, int64_t count,
                                   bool from_zero = true);

// Routes Halide's error handler into the runtime (once) and clears this thread's last message;
// called before every kernel and driver call.
void begin_kernel_call();
// The last message Halide reported on this thread (or any thread, if none here).
std::string last_halide_error();

// Throws retnet::Error with the kernel's name and Halide's message if `status` is not 0.
void throw_if_failed(int status, const char *kernel);

// Runs `call` (which returns a Halide status code) and throws if it failed.
template<typename Call>
void run_kernel(const char *kernel, Call &&call) {
    begin_kernel_call();
    throw_if_failed(std::forward<Call>(call)(), kernel);
}

}  // namespace retnet::detail
