// CUDA graphs of Halide kernels. Every CUDA kernel the runtime runs is queued on one stream of its
// own (not the legacy default stream, which cannot be captured); a CudaGraph records what a
// piece of code queues there and replays it with one launch, without the host work of each call
// (Halide's buffer checks, module and function look-ups, one driver launch per kernel).
//
// What can be captured: kernel launches on device tensors that already exist. A copy between host
// and device, a device allocation or a synchronisation inside `queue` makes the capture fail
// (the driver refuses them while capturing), which capture() reports; nothing then remains of it.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

namespace retnet::detail {

// Makes Halide queue CUDA work on the runtime's stream (called once, before the first CUDA kernel).
void use_runtime_cuda_stream();

class CudaGraph {
public:
    CudaGraph() = default;
    CudaGraph(const CudaGraph &) = delete;
    CudaGraph &operator=(const CudaGraph &) = delete;
    ~CudaGraph();

    // Records the kernels `queue` queues (none of them runs). False, with the reason in `why`, if
    // the driver refused the capture or `queue` threw (its exception is not passed on).
    bool capture(const std::function<void()> &queue, std::string *why);
    bool captured() const { return exec_ != nullptr; }
    // Queues the recorded kernels once on the runtime's stream; throws if the driver refuses.
    void launch();
    // The graph's nodes: its kernel launches.
    int64_t kernels() const { return kernels_; }

private:
    void *graph_ = nullptr, *exec_ = nullptr;
    int64_t kernels_ = 0;
};

}  // namespace retnet::detail
