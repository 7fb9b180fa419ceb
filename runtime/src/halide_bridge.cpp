#include "halide_bridge.h"

#include <algorithm>
#include <climits>
#include <mutex>

#include <fmt/format.h>

#include "device_allocation.h"
#ifdef RETNET_HAVE_OPENCL
#include "HalideRuntimeOpenCL.h"
#endif
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
                                    "32-bit indexing",
                                    role.str(), shape_string(shape)));
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

// bfloat16 travels as its bits (uint16): the kernels widen it with a shift.
halide_type_t halide_type_of_dtype(DType dtype) {
    switch (dtype) {
    case DType::f32: return halide_type_of<float>();
    case DType::i32: return halide_type_of<int32_t>();
    case DType::bf16: return halide_type_of<uint16_t>();
    case DType::f16: return halide_type_t(halide_type_float, 16);
    case DType::i8: return halide_type_of<int8_t>();
    }
    return halide_type_of<float>();
}

KernelBuffer::KernelBuffer(const Tensor &tensor, Label role) {
    if (tensor.rank() > kMaxRank) {
        throw Error(fmt::format("{}: expected at most {} dimensions for a kernel, got shape {}", role.str(), kMaxRank,
                                shape_string(tensor.shape())));
    }
    // The tensor's own shape: reshaped views share memory.
    halide_dimension_t dims[kMaxRank];
    fill_halide_dims(tensor.shape(), role, dims);
    halide_buffer_t view{};
    view.type = halide_type_of_dtype(tensor.dtype());
    view.dimensions = tensor.rank();
    view.dim = dims;
    if (tensor.device() == Device::cpu) {
        // Inputs are never written; constness is the kernels' contract.
        view.host = static_cast<uint8_t *>(const_cast<void *>(tensor.bytes()));
    } else {
        const DeviceAllocation *allocation = tensor.device_allocation();
        view.device = allocation->buffer.device;
        view.device_interface = allocation->buffer.device_interface;
    }
    // Unmanaged: the tensor owns the device allocation, the view never frees it.
    buffer_ = Halide::Runtime::Buffer<void>(view, Halide::Runtime::BufferDeviceOwnership::Unmanaged);
}

KernelBuffer::KernelBuffer(std::vector<float> &values)
    : buffer_(Halide::Runtime::Buffer<float>(values.data(), static_cast<int>(values.size()))) {
    buffer_.set_host_dirty();
}

Halide::Runtime::Buffer<void> host_slice(Halide::Runtime::Buffer<void> &whole, int dim, int64_t first, int64_t count) {
    if (whole.data() == nullptr) throw Error("host_slice: expected a host buffer, got one with no host memory");
    return crop(whole, dim, first, count);
}

Halide::Runtime::Buffer<void> crop(Halide::Runtime::Buffer<void> &whole, int dim, int64_t first, int64_t count,
                                   bool from_zero) {
    if (dim < 0 || dim >= whole.dimensions() || first < 0 || count < 0 || first + count > whole.dim(dim).extent()) {
        throw Error(fmt::format("crop: elements [{}, {}) of dimension {} are not inside a buffer of {} dimensions",
                                first, first + count, dim, whole.dimensions()));
    }
    // A view at an offset, made here rather than by Halide's device crops: on the H200 and with
    // PoCL, kernels given Halide 14's crops of our unmanaged device views computed wrong values.
    // Host memory and CUDA device memory are addresses; an OpenCL buffer is a handle.
    halide_buffer_t view = *whole.raw_buffer();
#ifdef RETNET_HAVE_OPENCL
    if (view.device != 0 && view.device_interface == halide_opencl_device_interface()) {
        throw Error("crop: OpenCL buffers take no views at an offset here; pass the whole buffer");
    }
#endif
    std::vector<halide_dimension_t> dims(view.dim, view.dim + view.dimensions);
    const int64_t offset = first * int64_t(dims[static_cast<size_t>(dim)].stride) * view.type.bytes();
    if (view.host != nullptr) view.host += offset;
    if (view.device != 0) view.device += static_cast<uint64_t>(offset);
    dims[static_cast<size_t>(dim)].min = from_zero ? 0 : dims[static_cast<size_t>(dim)].min + static_cast<int32_t>(first);
    dims[static_cast<size_t>(dim)].extent = static_cast<int32_t>(count);
    view.dim = dims.data();
    return Halide::Runtime::Buffer<void>(view, Halide::Runtime::BufferDeviceOwnership::Unmanaged);  // copies dims
}

}  // namespace retnet::detail
