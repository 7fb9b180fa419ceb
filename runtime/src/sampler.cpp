#include "retnet/sampler.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include <fmt/format.h>

#include "retnet/error.h"

namespace retnet {

void SamplingOptions::validate() const {
    if (!std::isfinite(temperature) || temperature < 0) {
        throw Error(fmt::format("temperature: expected a finite number >= 0, got {}", temperature));
    }
    if (top_k < 0) throw Error(fmt::format("top_k: expected >= 0 (0 keeps every token), got {}", top_k));
    if (!(top_p > 0 && top_p <= 1)) throw Error(fmt::format("top_p: expected a number in (0, 1], got {}", top_p));
}

Sampler::Sampler(const SamplingOptions &options) : options_(options), rng_(options.seed) {
    options_.validate();
}

double Sampler::uniform() {
    return static_cast<double>(rng_() >> 11) * 0x1.0p-53;
}

std::vector<std::pair<int32_t, double>> Sampler::candidates(const float *logits, int64_t vocab) const {
    if (vocab < 1) throw Error(fmt::format("sampler: expected at least one logit, got {}", vocab));
    for (int64_t i = 0; i < vocab; i++) {
        if (std::isnan(logits[i])) throw Error(fmt::format("sampler: logit {} is NaN", i));
    }
    std::vector<int32_t> order(static_cast<size_t>(vocab));
    std::iota(order.begin(), order.end(), 0);
    // Most likely first; equal logits keep id order, so ties resolve the same way everywhere.
    std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return logits[a] > logits[b]; });
    if (options_.temperature == 0) return {{order[0], 1.0}};
    size_t keep = order.size();
    if (options_.top_k > 0) keep = std::min(keep, static_cast<size_t>(options_.top_k));
    // Softmax at the temperature over the kept tokens, in double, shifted by the largest logit.
    const double top = logits[order[0]];
    std::vector<double> p(keep);
    double sum = 0;
    for (size_t i = 0; i < keep; i++) sum += p[i] = std::exp((logits[order[i]] - top) / options_.temperature);
    for (double &x : p) x /= sum;
    if (options_.top_p < 1) {
        double cumulative = 0;
        size_t n = 0;
        while (n < keep) {
            cumulative += p[n++];
            if (cumulative >= options_.top_p) break;
        }
        keep = n;  // at least one
        double kept = std::accumulate(p.begin(), p.begin() + static_cast<std::ptrdiff_t>(keep), 0.0);
        for (size_t i = 0; i < keep; i++) p[i] /= kept;
    }
    std::vector<std::pair<int32_t, double>> out;
    for (size_t i = 0; i < keep; i++) out.emplace_back(order[i], p[i]);
    return out;
}

int32_t Sampler::sample(const float *logits, int64_t vocab) {
    const auto c = candidates(logits, vocab);
    const double u = uniform();
    double cumulative = 0;
    for (const auto &[id, p] : c) {
        cumulative += p;
        if (u < cumulative) return id;
    }
    return c.back().first;  // rounding left u above the sum
}

}  // namespace retnet
