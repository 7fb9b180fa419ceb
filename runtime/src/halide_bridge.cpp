#include "halide_bridge.h"

#include <climits>
#include <mutex>

#include <fmt/format.h>

#include "HalideRuntime.h"
#include "retnet/error.h"

namespace retnet::detail {
namespace {

// Halide reports errors through a process-wide handler; a kernel's worker threads may raise
// them, so the message goes to a shared slot as well as the caller's thread.
std::mutex last_error_mutex;
std::string last_error;
thread_local std::string thread_error;

void capture_halide_error(void * /*user_context*/, const char *message) {
    std::string text = message ? message : "(no message)";
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
    thread_error = text;
    std::lock_guard<std::mutex> lock(last_error_mutex);
    last_error = text;
}

void install_error_handler() {
    static std::once_flag once;
    std::call_once(once, [] { halide_set_error_handler(capture_halide_error); });
}

}  // namespace

void begin_kernel_call() {
    install_error_handler();
    thread_error.clear();
}

void throw_if_failed(int status, const char *kernel) {
    if (status == 0) return;
    std::string message = thread_error;
    if (message.empty()) {
        std::lock_guard<std::mutex> lock(last_error_mutex);
        message = last_error;
    }
    if (message.empty()) message = "no message from Halide";
    throw Error(fmt::format("{}: kernel failed (Halide status {}): {}", kernel, status, message));
}

Halide::Runtime::Buffer<float> halide_view(const Tensor &tensor, const std::string &role) {
    const int rank = tensor.rank();
    std::vector<halide_dimension_t> dims(static_cast<size_t>(rank));
    int64_t stride = 1;
    for (int i = 0; i < rank; i++) {
        int64_t extent = tensor.dim(rank - 1 - i);
        if (extent > INT_MAX || stride * std::max<int64_t>(extent, 1) > INT_MAX) {
            throw Error(fmt::format("{}: tensor of shape {} has more than 2^31 elements, beyond the kernels' "
                                    "32-bit indexing", role, shape_string(tensor.shape())));
        }
        dims[static_cast<size_t>(i)] = halide_dimension_t(0, static_cast<int32_t>(extent), static_cast<int32_t>(stride));
        stride *= extent;
    }
    // The kernels read inputs and write outputs through the same view type; constness is the
    // caller's contract (inputs are never written).
    return Halide::Runtime::Buffer<float>(const_cast<float *>(tensor.data()), rank, dims.data());
}

}  // namespace retnet::detail
