#include "test_support.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>

namespace retnet::test {

uint64_t test_seed() {
    static const uint64_t seed = [] {
        const char *fixed = std::getenv("RETNET_TEST_SEED");
        uint64_t s = fixed ? std::strtoull(fixed, nullptr, 10)
                           : static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
        std::printf("random seed: %llu (set RETNET_TEST_SEED=%llu to replay)\n", static_cast<unsigned long long>(s),
                    static_cast<unsigned long long>(s));
        return s;
    }();
    return seed;
}

std::mt19937_64 &rng() {
    static std::mt19937_64 generator(test_seed());
    return generator;
}

Tensor random_tensor(const Shape &shape) {
    Tensor t = Tensor::empty(shape);
    std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
    for (int64_t i = 0; i < t.numel(); i++) t.data()[i] = uniform(rng());
    return t;
}

Tensor int8_dequantized_rows(const Tensor &w) {
    Tensor r = w.clone();
    const int64_t rows = r.dim(0), cols = r.dim(1);
    for (int64_t o = 0; o < rows; o++) {
        float *row = r.data() + o * cols;
        float max = 0.0f;
        for (int64_t i = 0; i < cols; i++) max = std::max(max, std::fabs(row[i]));
        const float scale = max / 127.0f, inverse = max > 0.0f ? 127.0f / max : 0.0f;
        for (int64_t i = 0; i < cols; i++) row[i] = std::clamp(std::nearbyint(row[i] * inverse), -127.0f, 127.0f) * scale;
    }
    return r;
}

Tensor poisoned(const Shape &shape) {
    return Tensor::full(shape, std::numeric_limits<float>::quiet_NaN());
}

std::vector<Device> all_devices() { return {Device::cpu, Device::cuda, Device::opencl}; }

std::string why_unavailable(Device device) {
    std::string why;
    return device_available(device, &why) ? std::string() : why;
}

Tensor on(Device device, const Tensor &host) { return host.to(device); }

Tensor to_host(const Tensor &tensor) { return tensor.to(Device::cpu); }

double relative_error(const Tensor &actual_anywhere, const std::vector<double> &expected) {
    Tensor actual = to_host(actual_anywhere);
    if (actual.numel() != static_cast<int64_t>(expected.size())) return std::numeric_limits<double>::quiet_NaN();
    double diff = 0.0, norm = 0.0;
    for (size_t i = 0; i < expected.size(); i++) {
        const double a = actual.data()[i];
        if (std::isnan(a) || std::isnan(expected[i])) return std::numeric_limits<double>::quiet_NaN();
        diff += (a - expected[i]) * (a - expected[i]);
        norm += expected[i] * expected[i];
    }
    return std::sqrt(diff) / std::max(std::sqrt(norm), 1e-300);
}

double relative_error(const Tensor &actual, const Tensor &expected_anywhere) {
    Tensor expected = to_host(expected_anywhere);
    std::vector<double> e(expected.data(), expected.data() + expected.numel());
    return relative_error(actual, e);
}

std::vector<double> reference_rotation(const Tensor &x, const std::vector<int64_t> &starts,
                                       const std::vector<float> &angles, double scale) {
    const int64_t B = x.dim(0), T = x.dim(1), H = x.dim(2), K = x.dim(3);
    std::vector<double> out(static_cast<size_t>(x.numel()));
    for (int64_t b = 0; b < B; b++) {
        for (int64_t t = 0; t < T; t++) {
            for (int64_t i = 0; i < K / 2; i++) {
                const float phase = static_cast<float>(starts[static_cast<size_t>(b)] + t) * angles[static_cast<size_t>(i)];
                const double c = std::cos(double(phase)), s = std::sin(double(phase));
                for (int64_t h = 0; h < H; h++) {
                    const int64_t at = ((b * T + t) * H + h) * K + 2 * i;
                    const double x0 = x.data()[at], x1 = x.data()[at + 1];
                    out[static_cast<size_t>(at)] = (x0 * c - x1 * s) * scale;
                    out[static_cast<size_t>(at + 1)] = (x1 * c + x0 * s) * scale;
                }
            }
        }
    }
    return out;
}

}  // namespace retnet::test
