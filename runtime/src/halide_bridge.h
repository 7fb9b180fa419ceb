// How the runtime calls generated kernels: tensors become halide_buffer_t views of their memory
// (host or device, no copies), and a kernel's failure becomes a retnet::Error carrying the message
// Halide reported.
#pragma once

#include <array>
#include <string>
#include <utility>
#include <vector>

#include "HalideRuntime.h"
#include "label.h"
#include "retnet/tensor.h"

namespace retnet::detail {

// A halide_buffer_t over a tensor's memory: host memory for CPU tensors, the device allocation
// for GPU tensors. A host buffer that a GPU kernel copied to the device (the per-head decay
// vectors) has that device copy freed with the view.
class KernelBuffer {
public:
    KernelBuffer(const Tensor &tensor, Label role);
    explicit KernelBuffer(std::vector<float> &values);  // a small host vector
    ~KernelBuffer();
    KernelBuffer(const KernelBuffer &) = delete;
    KernelBuffer &operator=(const KernelBuffer &) = delete;

    operator halide_buffer_t *() { return &buffer_; }

private:
    static constexpr int kMaxRank = 4;  // the kernels' largest: [B, T, H, K]

    halide_buffer_t buffer_{};
    std::array<halide_dimension_t, kMaxRank> dims_{};  // no allocation per call
    bool device_memory_is_tensors_ = false;
};

// Part of a host buffer: elements [first, first + count) along dimension `dim`, indexed from 0
// there (the kernels' outputs start at index 0). A view with its own copy of the dimensions; the
// memory stays the whole buffer's.
class HostBufferSlice {
public:
    HostBufferSlice(halide_buffer_t *whole, int dim, int64_t first, int64_t count);
    HostBufferSlice(const HostBufferSlice &) = delete;
    HostBufferSlice &operator=(const HostBufferSlice &) = delete;

    operator halide_buffer_t *() { return &buffer_; }

private:
    static constexpr int kMaxRank = 4;

    halide_buffer_t buffer_{};
    std::array<halide_dimension_t, kMaxRank> dims_{};
};

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
