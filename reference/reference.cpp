#include "reference.h"

#include <algorithm>
#include <cmath>

namespace retnet::test {

ReferenceResult reference_retention(const Tensor &q, const Tensor &k, const Tensor &v,
                                    const std::vector<double> &gamma, double scale,
                                    const Tensor *initial_state) {
    const int64_t B = q.dim(0), T = q.dim(1), H = q.dim(2), K = q.dim(3), V = v.dim(3);
    // The element pointers are taken once: Tensor::data() checks the device on every call, and in a
    // sanitized build those checks (instrumented, unlike this file) made the O(T^2) loops 5x slower.
    const float *qd = q.data(), *kd = k.data(), *vd = v.data();
    const float *s0d = initial_state ? initial_state->data() : nullptr;
    auto qkv_at = [&](const float *x, int64_t D, int64_t b, int64_t t, int64_t h, int64_t i) {
        return static_cast<double>(x[((b * T + t) * H + h) * D + i]);
    };
    auto s0_at = [&](int64_t b, int64_t h, int64_t i, int64_t j) {
        return s0d ? static_cast<double>(s0d[((b * H + h) * K + i) * V + j]) : 0.0;
    };
    ReferenceResult r;
    r.o.assign(static_cast<size_t>(B * T * H * V), 0.0);
    r.final_state.assign(static_cast<size_t>(B * H * K * V), 0.0);
    std::vector<double> decay_power(static_cast<size_t>(T + 1));  // gamma^d, each from std::pow
    for (int64_t b = 0; b < B; b++) {
        for (int64_t h = 0; h < H; h++) {
            const double g = gamma[static_cast<size_t>(h)];
            for (int64_t d = 0; d <= T; d++) decay_power[static_cast<size_t>(d)] = std::pow(g, static_cast<double>(d));
            auto power = [&](int64_t d) { return decay_power[static_cast<size_t>(d)]; };
            for (int64_t n = 0; n < T; n++) {
                double *out = &r.o[static_cast<size_t>(((b * T + n) * H + h) * V)];
                for (int64_t m = 0; m <= n; m++) {
                    double dot = 0.0;
                    for (int64_t i = 0; i < K; i++) dot += qkv_at(qd, K, b, n, h, i) * qkv_at(kd, K, b, m, h, i);
                    const double w = scale * power(n - m) * dot;
                    for (int64_t j = 0; j < V; j++) out[j] += w * qkv_at(vd, V, b, m, h, j);
                }
                if (s0d) {
                    const double w = scale * power(n + 1);
                    for (int64_t i = 0; i < K; i++) {
                        const double qi = w * qkv_at(qd, K, b, n, h, i);
                        for (int64_t j = 0; j < V; j++) out[j] += qi * s0_at(b, h, i, j);
                    }
                }
            }
            double *state = &r.final_state[static_cast<size_t>((b * H + h) * K * V)];
            for (int64_t i = 0; i < K; i++) {
                for (int64_t j = 0; j < V; j++) {
                    double sum = power(T) * s0_at(b, h, i, j);
                    for (int64_t m = 0; m < T; m++) {
                        sum += power(T - 1 - m) * qkv_at(kd, K, b, m, h, i) * qkv_at(vd, V, b, m, h, j);
                    }
                    state[i * V + j] = sum;
                }
            }
        }
    }
    return r;
}

namespace {

Tensor absolute(const Tensor &t) {
    Tensor a = t.clone();
    for (int64_t i = 0; i < a.numel(); i++) a.data()[i] = std::fabs(a.data()[i]);
    return a;
}

}  // namespace

ReferenceResult reference_magnitude(const Tensor &q, const Tensor &k, const Tensor &v, const std::vector<double> &gamma,
                                    double scale, const Tensor *initial_state) {
    const Tensor s0 = initial_state ? absolute(*initial_state) : Tensor();
    return reference_retention(absolute(q), absolute(k), absolute(v), gamma, std::fabs(scale),
                               initial_state ? &s0 : nullptr);
}

double error_against_magnitude(const Tensor &actual, const std::vector<double> &expected,
                               const std::vector<double> &magnitude) {
    Tensor host = actual.to(Device::cpu);
    double num = 0, den = 0;
    for (size_t i = 0; i < expected.size(); i++) {
        const double d = double(host.data()[i]) - expected[i];
        num += d * d;
        den += std::max(magnitude[i] * magnitude[i], expected[i] * expected[i]);
    }
    return std::isnan(num) ? NAN : std::sqrt(num / den);
}

}  // namespace retnet::test
