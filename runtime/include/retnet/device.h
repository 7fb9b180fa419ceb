// Where tensors live and kernels run. A kernel runs on the device of its inputs; every tensor of one
// call must be on the same device (an error names the one that is not). Copies between devices are
// explicit (Tensor::to, Tensor::copy_from); nothing is copied behind the caller's back.
#pragma once

#include <cstdint>
#include <string>

namespace retnet {

enum class Device { cpu,
                    cuda,
                    opencl };

const char *device_name(Device device);
Device parse_device(const std::string &name);  // "cpu", "cuda", "opencl"

// True when `device` can run kernels here: its kernels are built into this binary, its driver
// loads and a device answers. Otherwise false, with the reason in `why` (e.g. "cuda: the CUDA
// driver (libcuda.so) could not be loaded").
bool device_available(Device device, std::string *why = nullptr);

// Throws retnet::Error with that reason unless the device is available.
void require_device(Device device);

// CUDA's launch floor: milliseconds for `kernels` launches of the smallest kernel (one float
// gathered) replayed back to back from one captured graph. Throws without a CUDA device.
double cuda_graph_launch_floor_ms(int64_t kernels);

}  // namespace retnet
