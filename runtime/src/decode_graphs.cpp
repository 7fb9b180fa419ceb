#include "decode_graphs.h"

#include <cstdlib>
#include <cstring>

#include "kernel_dispatch.h"

namespace retnet::detail {

DecodeGraphs::DecodeGraphs() {
    const char *setting = std::getenv("RETNET_CUDA_GRAPHS");
    enabled = setting == nullptr || std::strcmp(setting, "0") != 0;
}

DecodeGraphs::Batch::Batch(const ModelConfig &config, const DecodeState &state, Device device)
    : buffers(config, state.batch(), 1, state.batch(), device),
      states(state.layer_states),
      decay_generation(decay_cache_generation().load()) {}

bool DecodeGraphs::Batch::fits(const DecodeState &state) const {
    if (state.batch() != buffers.batch || state.layer_states.size() != states.size()) return false;
    if (decay_generation != decay_cache_generation().load()) return false;
    for (size_t l = 0; l < states.size(); l++) {
        if (state.layer_states[l].device_allocation() != states[l].device_allocation()) return false;
    }
    return true;
}

}  // namespace retnet::detail
