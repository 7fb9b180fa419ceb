// Random benchmark inputs, shared by the apps that time kernels.
#pragma once

#include <random>

#include "retnet/tensor.h"

namespace retnet::apps {

// Uniform in [-1, 1), made on the host, then moved to `device` (outside any timed region).
inline Tensor random_tensor(const Shape &shape, Device device, std::mt19937 &rng) {
    Tensor t = Tensor::empty(shape);
    std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
    for (int64_t i = 0; i < t.numel(); i++) t.data()[i] = uniform(rng);
    return t.to(device);
}

}  // namespace retnet::apps
