// Finding the generated kernels for a device, and the small helpers every kernel wrapper uses.
#pragma once

#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <string>
#include <utility>

#include <vector>

#include <fmt/format.h>

#include "kernel_table.h"
#include "retnet/error.h"
#include "label.h"
#include "retnet/tensor.h"

namespace retnet::detail {

// Process-lifetime caches of device tensors are never destroyed: their destructors would run
// during process teardown, after a GPU driver may have shut down, and Halide 14 aborts when a
// device free fails (seen on the H200 at exit, with NVIDIA's OpenCL). The OS reclaims them.
template<typename T>
T &leaked() {
    return *new T();
}

// A bounded cache of tensors by key: `make()` runs on a miss; the cache is emptied when it
// reaches `bound` entries (for callers cycling through many shapes or decay values).
template<typename Key, typename Make>
Tensor cached(std::map<Key, Tensor> &cache, const Key &key, size_t bound, Make &&make) {
    auto found = cache.find(key);
    if (found == cache.end()) {
        if (cache.size() >= bound) cache.clear();
        found = cache.emplace(key, make()).first;
    }
    return found->second;
}

// Counts how often the retention kernels' cache of per-head decay values on a device was emptied:
// a CUDA graph captured before that may point at freed values, and is captured again.
std::atomic<uint64_t> &decay_cache_generation();

// Throws unless this build has kernels for `device` and the machine can run them; errors name `fn`.
void require_kernels_for(const char *fn, Device device, bool built);

// The variant of `kernels` for `device` and the shape bucket of `extent` (kernels.json's bucket
// rule of the kernel: rows, T, B...) and `instance` (a chunk length, for kernels that have
// instances); errors name `fn`.
template<typename Fn>
Fn find_kernel(const char *fn, const KernelSet<Fn> &kernels, Device device, int64_t extent = 0, int instance = 0) {
    require_kernels_for(fn, device, kernels.built_for(device));
    Fn kernel = kernels.find(device, extent, instance);
    if (kernel == nullptr) {
        throw Error(fmt::format("{}: {}: expected one of {} on {}, got {}", fn, kernels.instance_param,
                                fmt::join(kernels.instances(device), ", "), device_name(device), instance));
    }
    return kernel;
}

// Throws unless `t` is defined with `rank` dimensions; `role` and `dims` ("B, T, H, K") name it.
void check_rank(const Tensor &t, Label role, int rank, const char *dims);

// Throws unless `tensor` is defined, f32 (or `dtype`) and exactly `expected`; `role` names it
// ("retention_chunkwise: k") and `dims` names the dimensions ("B, T, H, K").
void check_tensor(const Tensor &tensor, Label role, std::initializer_list<int64_t> expected, Label dims);
void check_tensor(const Tensor &tensor, Label role, const Shape &expected, Label dims, DType dtype = DType::f32);

// Every tensor of one call must live on the first one's device.
void check_same_device(const char *fn, std::initializer_list<std::pair<const char *, const Tensor *>> tensors);

}  // namespace retnet::detail
