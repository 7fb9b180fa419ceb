// The decode steps of a model on CUDA, replayed from a captured graph: the first step of a batch
// runs as usual (loading every kernel's module), the second is captured and launched, and the
// rest launch the graph with new token ids and positions copied into the same buffers. A batch
// with other state tensors (sequences joined or left) starts over. If the capture fails, the
// steps of that batch run kernel by kernel, and the reason is kept for `retnet bench-model`.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "cuda_graph.h"
#include "pass_buffers.h"
#include "retnet/model.h"

namespace retnet::detail {

class DecodeGraphs {
public:
    DecodeGraphs();

    struct Batch {
        Batch(const ModelConfig &config, const DecodeState &state, Device device);
        // Whether `state` is the one this batch was made for (the same tensors).
        bool fits(const DecodeState &state) const;

        PassBuffers buffers;
        std::vector<Tensor> states;  // held, so that their memory stays where the graph points
        uint64_t decay_generation;
        int64_t steps_run = 0;  // kernel by kernel, before the capture
        bool capture_failed = false;
        CudaGraph graph;
    };

    std::mutex mutex;  // one step at a time per model (copies of a Model share this)
    bool enabled;      // RETNET_CUDA_GRAPHS=0 turns it off at start-up; Model::set_cuda_graphs
    std::unique_ptr<Batch> batch;
    std::string last_failure;
};

}  // namespace retnet::detail
