// GPU memory behind a Tensor, and the Halide device interfaces the runtime uses.
#pragma once

#include <string>
#include <vector>

#include "HalideRuntime.h"
#include "label.h"
#include "retnet/device.h"
#include "retnet/tensor.h"

namespace retnet::detail {

// Halide's dimensions for a row-major shape (innermost first) into `dims` (shape.size() of them);
// throws beyond 32-bit indexing.
void fill_halide_dims(const Shape &shape, Label role, halide_dimension_t *dims);
std::vector<halide_dimension_t> halide_dims(const Shape &shape, Label role);

// The Halide device interface of a GPU device; throws if this build has no kernels for it.
const halide_device_interface_t *device_interface(Device device);

// A GPU allocation of one tensor's shape, freed with the last Tensor that shares it.
struct DeviceAllocation {
    DeviceAllocation(Device device, const Shape &shape, DType dtype);
    ~DeviceAllocation();
    DeviceAllocation(const DeviceAllocation &) = delete;
    DeviceAllocation &operator=(const DeviceAllocation &) = delete;

    Device device;
    std::vector<halide_dimension_t> dims;
    halide_buffer_t buffer{};  // host is null; device and device_interface are set
};

// Copies between any two devices; shapes must match (checked by the caller).
void copy_tensor_data(const Tensor &source, Tensor &destination);

}  // namespace retnet::detail
