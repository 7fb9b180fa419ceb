// Choosing the next token from logits: temperature, top-k and top-p (nucleus) sampling, seeded so
// that the same seed gives the same choices on every machine (the generator and its conversion to
// [0, 1) are specified here, not left to the standard library's distributions).
#pragma once

#include <cstdint>
#include <random>
#include <vector>

namespace retnet {

struct SamplingOptions {
    double temperature = 0.8;  // 0: greedy (the largest logit; ties: the lowest id)
    int64_t top_k = 0;         // keep the k most likely tokens; 0: all
    double top_p = 1.0;        // keep the most likely tokens whose probabilities sum to >= p; 1: all
    uint64_t seed = 0;

    // Throws retnet::Error naming the option that is out of range.
    void validate() const;
};

class Sampler {
public:
    explicit Sampler(const SamplingOptions &options);

    // One token id from `vocab` logits; throws retnet::Error if a logit is NaN.
    int32_t sample(const float *logits, int64_t vocab);

    // The candidates left after top-k and top-p, most likely first, with their probabilities
    // (renormalised): what sample() draws from. Exposed for tests.
    std::vector<std::pair<int32_t, double>> candidates(const float *logits, int64_t vocab) const;

private:
    double uniform();  // [0, 1) from 53 random bits

    SamplingOptions options_;
    std::mt19937_64 rng_;
};

}  // namespace retnet
