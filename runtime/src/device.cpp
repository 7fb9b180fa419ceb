#include <cstdlib>
#include <atomic>
#include <map>
#include <mutex>

#include <fmt/format.h>

#include "cuda_graph.h"
#include "device_allocation.h"
#include "halide_bridge.h"
#include "retnet/error.h"
#ifdef RETNET_HAVE_CUDA
#include "HalideRuntimeCuda.h"
#endif
#ifdef RETNET_HAVE_OPENCL
#include "HalideRuntimeOpenCL.h"
#endif

namespace retnet {

const char *device_name(Device device) {
    switch (device) {
    case Device::cpu:
        return "cpu";
    case Device::cuda:
        return "cuda";
    case Device::opencl:
        return "opencl";
    }
    return "unknown";
}

Device parse_device(const std::string &name) {
    for (Device d : {Device::cpu, Device::cuda, Device::opencl}) {
        if (name == device_name(d)) return d;
    }
    throw Error(fmt::format("device: expected one of cpu, cuda, opencl; got '{}'", name));
}

namespace detail {

const halide_device_interface_t *device_interface(Device device) {
    switch (device) {
    case Device::cpu:
        return nullptr;
    case Device::cuda:
#ifdef RETNET_HAVE_CUDA
        return halide_cuda_device_interface();
#else
        break;
#endif
    case Device::opencl:
#ifdef RETNET_HAVE_OPENCL
        return halide_opencl_device_interface();
#else
        break;
#endif
    }
    throw Error(fmt::format("{}: this build has no {} kernels (configure with -DRETNET_GPU_TARGETS={} or both)",
                            device_name(device), device_name(device), device_name(device)));
}

namespace {

// Halide's CUDA runtime caps kernels at 64 registers unless told otherwise before the first
// kernel loads; the register-blocked schedules need more. And the kernels' internal buffers (the
// chunkwise form's per-chunk states) would otherwise be allocated and freed on the device at every
// call: Halide keeps them for reuse instead.
// CUDA work goes to the runtime's own stream, which graphs can capture (cuda_graph.h).
void prepare_driver(Device device) {
    if (device == Device::cuda) {
        setenv("HL_CUDA_JIT_MAX_REGISTERS", "255", /*overwrite=*/0);
        use_runtime_cuda_stream();
    }
    halide_reuse_device_allocations(nullptr, true);
}

// Tries a one-element allocation: the driver loads, a context is made, a device answers.
std::string probe(Device device) {
    if (device == Device::cpu) return "";
    const halide_device_interface_t *interface = nullptr;
    try {
        interface = device_interface(device);
    } catch (const Error &e) {
        return e.what();
    }
    prepare_driver(device);
    begin_kernel_call();
    halide_dimension_t dim(0, 1, 1);
    halide_buffer_t probe_buffer{};
    probe_buffer.type = halide_type_of<float>();
    probe_buffer.dimensions = 1;
    probe_buffer.dim = &dim;
    int status = halide_device_malloc(nullptr, &probe_buffer, interface);
    if (status != 0) {
        std::string message = last_halide_error();
        return fmt::format("{}: no usable device ({})", device_name(device),
                           message.empty() ? fmt::format("Halide status {}", status) : message);
    }
    halide_device_free(nullptr, &probe_buffer);
    return "";
}

}  // namespace

DeviceAllocation::DeviceAllocation(Device device_, const Shape &shape, DType dtype)
    : device(device_), dims(halide_dims(shape, "tensor")) {
    require_device(device);
    buffer.type = halide_type_of_dtype(dtype);
    buffer.dimensions = static_cast<int>(dims.size());
    buffer.dim = dims.data();
    begin_kernel_call();
    int status = halide_device_malloc(nullptr, &buffer, device_interface(device));
    if (status != 0) {
        throw Error(fmt::format("{}: allocating a tensor of shape {} failed: {}", device_name(device), shape_string(shape),
                                last_halide_error()));
    }
}

DeviceAllocation::~DeviceAllocation() {
    if (buffer.device) halide_device_free(nullptr, &buffer);
}

void copy_tensor_data(const Tensor &source, Tensor &destination) {
    if (source.numel() == 0) return;
    // Views that share the tensors' memory; halide_buffer_copy moves the bytes between host and
    // device or device and device. A device tensor's memory is authoritative (device_dirty).
    KernelBuffer src_view(source, "source"), dst_view(destination, "destination");
    halide_buffer_t &src = *static_cast<halide_buffer_t *>(src_view);
    halide_buffer_t &dst = *static_cast<halide_buffer_t *>(dst_view);
    if (source.device() != Device::cpu) src.flags = halide_buffer_flag_device_dirty;
    begin_kernel_call();
    int status = halide_buffer_copy(nullptr, &src, dst.device_interface, &dst);
    if (status != 0) {
        throw Error(fmt::format("copying a tensor of shape {} from {} to {} failed: {}", shape_string(source.shape()),
                                device_name(source.device()), device_name(destination.device()), last_halide_error()));
    }
    if (destination.device() == Device::cpu && source.device() != Device::cpu) {
        halide_device_sync(nullptr, &src);
    }
}

}  // namespace detail

bool device_available(Device device, std::string *why) {
    // Probed once per device and process. Every kernel call asks, so once probed the answer is an
    // atomic read, without the lock (1: available, 0: not, -1: not probed yet).
    static std::atomic<int> known[3] = {-1, -1, -1};
    const size_t slot = static_cast<size_t>(device);
    if (why == nullptr && slot < 3) {
        const int k = known[slot].load(std::memory_order_acquire);
        if (k >= 0) return k == 1;
    }
    static std::mutex mutex;
    static std::map<Device, std::string> reasons;
    std::lock_guard<std::mutex> lock(mutex);
    auto found = reasons.find(device);
    if (found == reasons.end()) found = reasons.emplace(device, detail::probe(device)).first;
    if (slot < 3) known[slot].store(found->second.empty() ? 1 : 0, std::memory_order_release);
    if (why) *why = found->second;
    return found->second.empty();
}

void require_device(Device device) {
    std::string why;
    if (!device_available(device, &why)) throw Error(why);
}

}  // namespace retnet
