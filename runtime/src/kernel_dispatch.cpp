#include "kernel_dispatch.h"

#include <algorithm>

#include <fmt/format.h>

#include "retnet/error.h"

namespace retnet::detail {

std::atomic<uint64_t> &decay_cache_generation() {
    static auto &generation = leaked<std::atomic<uint64_t>>();
    return generation;
}

void require_kernels_for(const char *fn, Device device, bool built) {
    if (!built) {
        throw Error(fmt::format("{}: this build has no {} kernels (configure with -DRETNET_GPU_TARGETS={} or both)", fn,
                                device_name(device), device_name(device)));
    }
    if (device_available(device)) return;  // the common case: no lock, no string
    std::string why;
    device_available(device, &why);
    throw Error(fmt::format("{}: {}", fn, why));
}

void check_rank(const Tensor &t, Label role, int rank, const char *dims) {
    if (!t.defined()) throw Error(fmt::format("{}: expected a tensor [{}], got an undefined tensor", role.str(), dims));
    if (t.rank() != rank) {
        throw Error(fmt::format("{}: expected {} dimensions [{}], got shape {}", role.str(), rank, dims,
                                shape_string(t.shape())));
    }
}

namespace {

// The check itself, over any sequence of expected extents; messages are built only on failure.
template<typename Extents>
void check_tensor_extents(const Tensor &tensor, Label role, const Extents &expected, Label dims, DType dtype) {
    const bool right_shape = tensor.defined() && tensor.shape().size() == expected.size() &&
                             std::equal(expected.begin(), expected.end(), tensor.shape().begin());
    if (right_shape && tensor.dtype() == dtype) return;
    const Shape shape(expected.begin(), expected.end());
    if (!tensor.defined()) {
        throw Error(fmt::format("{}: expected a tensor of shape {} ({}), got an undefined tensor", role.str(),
                                shape_string(shape), dims.str()));
    }
    if (tensor.dtype() != dtype) {
        throw Error(fmt::format("{}: expected dtype {}, got {}", role.str(), dtype_name(dtype), dtype_name(tensor.dtype())));
    }
    throw Error(fmt::format("{}: expected shape {} ({}), got {}", role.str(), shape_string(shape), dims.str(),
                            shape_string(tensor.shape())));
}

}  // namespace

void check_tensor(const Tensor &tensor, Label role, std::initializer_list<int64_t> expected, Label dims) {
    check_tensor_extents(tensor, role, expected, dims, DType::f32);
}

void check_tensor(const Tensor &tensor, Label role, const Shape &expected, Label dims, DType dtype) {
    check_tensor_extents(tensor, role, expected, dims, dtype);
}

void check_same_device(const char *fn, std::initializer_list<std::pair<const char *, const Tensor *>> tensors) {
    const auto &[first_name, first] = *tensors.begin();
    for (const auto &[name, tensor] : tensors) {
        if (tensor && tensor->defined() && tensor->device() != first->device()) {
            throw Error(fmt::format("{}: {} is on {} but {} is on {}: all tensors of one call must be on one device "
                                    "(copy with Tensor::to)",
                                    fn, name, device_name(tensor->device()), first_name,
                                    device_name(first->device())));
        }
    }
}

}  // namespace retnet::detail
