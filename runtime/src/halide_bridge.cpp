#include "halide_bridge.h"

#include <algorithm>
#include <climits>
#include <mutex>

#include <fmt/format.h>

#include "device_allocation.h"
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

}  // namespace

void begin_kernel_call() {
    static std::once_flag once;
    std::call_once(once, [] { halide_set_error_handler(capture_halide_error); });
    thread_error.clear();
}

std::string last_halide_error() {
    if (!thread_error.empty()) return thread_error;
    std::lock_guard<std::mutex> lock(last_error_mutex);
    return last_error;
}

void throw_if_failed(int status, const char *kernel) {
    if (status == 0) return;
    std::string message = last_halide_error();
    if (message.empty()) message = "no message from Halide";
    throw Error(fmt::format("{}: kernel failed (Halide status {}): {}", kernel, status, message));
}

void fill_halide_dims(const Shape &shape, Label role, halide_dimension_t *dims) {
    const int rank = static_cast<int>(shape.size());
    int64_t stride = 1;
    for (int i = 0; i < rank; i++) {
        int64_t extent = shape[static_cast<size_t>(rank - 1 - i)];
        if (extent > INT_MAX || stride * std::max<int64_t>(extent, 1) > INT_MAX) {
            throw Error(fmt::format("{}: tensor of shape {} has more than 2^31 elements, beyond the kernels' "
                                    "32-bit indexing", role.str(), shape_string(shape)));
        }
        dims[i] = halide_dimension_t(0, static_cast<int32_t>(extent), static_cast<int32_t>(stride));
        stride *= extent;
    }
}

std::vector<halide_dimension_t> halide_dims(const Shape &shape, Label role) {
    std::vector<halide_dimension_t> dims(shape.size());
    fill_halide_dims(shape, role, dims.data());
    return dims;
}

KernelBuffer::KernelBuffer(const Tensor &tensor, Label role) {
    buffer_.type = halide_type_of<float>();
    if (tensor.rank() > kMaxRank) {
        throw Error(fmt::format("{}: expected at most {} dimensions for a kernel, got shape {}", role.str(), kMaxRank,
                                shape_string(tensor.shape())));
    }
    // The tensor's own shape: reshaped views share memory.
    fill_halide_dims(tensor.shape(), role, dims_.data());
    if (tensor.device() == Device::cpu) {
        // Inputs are never written; constness is the kernels' contract.
        buffer_.host = reinterpret_cast<uint8_t *>(const_cast<float *>(tensor.data()));
    } else {
        const DeviceAllocation *allocation = tensor.device_allocation();
        buffer_.device = allocation->buffer.device;
        buffer_.device_interface = allocation->buffer.device_interface;
        device_memory_is_tensors_ = true;
    }
    buffer_.dimensions = tensor.rank();
    buffer_.dim = dims_.data();
}

KernelBuffer::KernelBuffer(std::vector<float> &values) {
    dims_[0] = halide_dimension_t(0, static_cast<int32_t>(values.size()), 1);
    buffer_.type = halide_type_of<float>();
    buffer_.host = reinterpret_cast<uint8_t *>(values.data());
    buffer_.flags = halide_buffer_flag_host_dirty;
    buffer_.dimensions = 1;
    buffer_.dim = dims_.data();
}

KernelBuffer::~KernelBuffer() {
    if (!device_memory_is_tensors_ && buffer_.device) halide_device_free(nullptr, &buffer_);
}

HostBufferSlice::HostBufferSlice(halide_buffer_t *whole, int dim, int64_t first, int64_t count) {
    if (whole->host == nullptr || whole->dimensions > kMaxRank || dim < 0 || dim >= whole->dimensions ||
        first < 0 || count < 0 || first + count > whole->dim[dim].extent) {
        throw Error(fmt::format("HostBufferSlice: elements [{}, {}) of dimension {} are not inside a host buffer of "
                                "{} dimensions", first, first + count, dim, whole->dimensions));
    }
    buffer_ = *whole;
    std::copy(whole->dim, whole->dim + whole->dimensions, dims_.begin());
    buffer_.dim = dims_.data();
    buffer_.device = 0;
    buffer_.device_interface = nullptr;
    buffer_.host += first * dims_[dim].stride * static_cast<int64_t>(whole->type.bytes());
    dims_[dim].min = 0;
    dims_[dim].extent = static_cast<int32_t>(count);
}

}  // namespace retnet::detail
