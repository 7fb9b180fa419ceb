#include "kernel_dispatch.h"

#include <fmt/format.h>

#include "retnet/error.h"

namespace retnet::detail {

const DeviceKernels &kernels_for(const char *fn, Device device) {
    for (const auto &kernels : built_kernels()) {
        if (kernels.device == device) {
            std::string why;
            if (!device_available(device, &why)) throw Error(fmt::format("{}: {}", fn, why));
            return kernels;
        }
    }
    throw Error(fmt::format("{}: this build has no {} kernels (configure with -DRETNET_GPU_TARGETS={} or both)", fn,
                            device_name(device), device_name(device)));
}

void check_rank(const Tensor &t, Label role, int rank, const char *dims) {
    if (!t.defined()) throw Error(fmt::format("{}: expected a tensor [{}], got an undefined tensor", role.str(), dims));
    if (t.rank() != rank) {
        throw Error(fmt::format("{}: expected {} dimensions [{}], got shape {}", role.str(), rank, dims,
                                shape_string(t.shape())));
    }
}

void check_same_device(const char *fn, std::initializer_list<std::pair<const char *, const Tensor *>> tensors) {
    const auto &[first_name, first] = *tensors.begin();
    for (const auto &[name, tensor] : tensors) {
        if (tensor && tensor->defined() && tensor->device() != first->device()) {
            throw Error(fmt::format("{}: {} is on {} but {} is on {}: all tensors of one call must be on one device "
                                    "(copy with Tensor::to)", fn, name, device_name(tensor->device()), first_name,
                                    device_name(first->device())));
        }
    }
}

}  // namespace retnet::detail
