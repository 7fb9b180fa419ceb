#include "reference.h"

#include <algorithm>
#include <cmath>

namespace retnet::test {

ReferenceResult reference_retention(const Tensor &q, const Tensor &k, const Tensor &v,
                                    const std::vector<double> &gamma, double scale,
                                    const Tensor *initial_state) {
    const int64_t B = q.dim(0), T = q.dim(1), H = q.dim(2), K = q.dim(3), V = v.dim(3);
    auto qkv_at = [&](const Tensor &x, int64_t b, int64_t t, int64_t h, int64_t i) {
        const int64_t D = x.dim(3);
        return static_cast<double>(x.data()[((b * T + t) * H + h) * D + i]);
    };
    auto s0_at = [&](int64_t b, int64_t h, int64_t i, int64_t j) {
        return initial_state ? static_cast<double>(initial_state->data()[((b * H + h) * K + i) * V + j]) : 0.0;
    };
    ReferenceResult r;
    r.o.assign(static_cast<size_t>(B * T * H * V), 0.0);
    r.final_state.assign(static_cast<size_t>(B * H * K * V), 0.0);
    for (int64_t b = 0; b < B; b++) {
        for (int64_t h = 0; h < H; h++) {
            const double g = gamma[static_cast<size_t>(h)];
            for (int64_t n = 0; n < T; n++) {
                double *out = &r.o[static_cast<size_t>(((b * T + n) * H + h) * V)];
                for (int64_t m = 0; m <= n; m++) {
                    double dot = 0.0;
                    for (int64_t i = 0; i < K; i++) dot += qkv_at(q, b, n, h, i) * qkv_at(k, b, m, h, i);
                    const double w = scale * std::pow(g, static_cast<double>(n - m)) * dot;
                    for (int64_t j = 0; j < V; j++) out[j] += w * qkv_at(v, b, m, h, j);
                }
                if (initial_state) {
                    const double w = scale * std::pow(g, static_cast<double>(n + 1));
                    for (int64_t i = 0; i < K; i++) {
                        const double qi = w * qkv_at(q, b, n, h, i);
                        for (int64_t j = 0; j < V; j++) out[j] += qi * s0_at(b, h, i, j);
                    }
                }
            }
            double *state = &r.final_state[static_cast<size_t>((b * H + h) * K * V)];
            for (int64_t i = 0; i < K; i++) {
                for (int64_t j = 0; j < V; j++) {
                    double sum = std::pow(g, static_cast<double>(T)) * s0_at(b, h, i, j);
                    for (int64_t m = 0; m < T; m++) {
                        sum += std::pow(g, static_cast<double>(T - 1 - m)) * qkv_at(k, b, m, h, i) * qkv_at(v, b, m, h, j);
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
