// The sampler: seeded determinism, greedy decoding, and the edges of top-k and top-p.
#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "retnet/error.h"
#include "retnet/sampler.h"

namespace retnet::test {
namespace {

SamplingOptions with(double temperature, int64_t top_k, double top_p, uint64_t seed = 1) {
    SamplingOptions o;
    o.temperature = temperature;
    o.top_k = top_k;
    o.top_p = top_p;
    o.seed = seed;
    return o;
}

std::vector<int32_t> draws(const SamplingOptions &o, const std::vector<float> &logits, int n) {
    Sampler s(o);
    std::vector<int32_t> out;
    for (int i = 0; i < n; i++) out.push_back(s.sample(logits.data(), static_cast<int64_t>(logits.size())));
    return out;
}

const std::vector<float> kLogits{0.5f, 2.0f, -1.0f, 2.0f, 1.0f, -3.0f};

TEST(Sampler, SameSeedSameChoicesOtherSeedOtherChoices) {
    auto a = draws(with(1.0, 0, 1.0, 42), kLogits, 200), b = draws(with(1.0, 0, 1.0, 42), kLogits, 200);
    auto c = draws(with(1.0, 0, 1.0, 43), kLogits, 200);
    EXPECT_EQ(a, b);
    EXPECT_NE(a, c);
}

TEST(Sampler, FrequenciesFollowTheSoftmax) {
    const int n = 20000;
    std::map<int32_t, int> counts;
    for (int32_t id : draws(with(1.0, 0, 1.0, 7), kLogits, n)) counts[id]++;
    double z = 0;
    for (float l : kLogits) z += std::exp(double(l));
    for (size_t i = 0; i < kLogits.size(); i++) {
        const double p = std::exp(double(kLogits[i])) / z;
        EXPECT_NEAR(counts[static_cast<int32_t>(i)] / double(n), p, 4 * std::sqrt(p * (1 - p) / n) + 1e-3) << "token " << i;
    }
}

TEST(Sampler, GreedyTakesTheLargestAndTheLowestIdOnTies) {
    EXPECT_EQ(draws(with(0.0, 0, 1.0), kLogits, 5), std::vector<int32_t>(5, 1));  // ids 1 and 3 tie at 2.0
}

TEST(Sampler, TopKEdges) {
    Sampler one(with(1.0, 1, 1.0));
    auto c = one.candidates(kLogits.data(), 6);
    ASSERT_EQ(c.size(), 1u);  // k = 1 is greedy
    EXPECT_EQ(c[0].first, 1);
    EXPECT_DOUBLE_EQ(c[0].second, 1.0);
    Sampler two(with(1.0, 2, 1.0));
    c = two.candidates(kLogits.data(), 6);
    ASSERT_EQ(c.size(), 2u);  // the two tied best, renormalised
    EXPECT_EQ(c[0].first, 1);
    EXPECT_EQ(c[1].first, 3);
    EXPECT_NEAR(c[0].second, 0.5, 1e-12);
    Sampler all(with(1.0, 100, 1.0));  // k beyond the vocabulary keeps everything
    EXPECT_EQ(all.candidates(kLogits.data(), 6).size(), 6u);
    for (int32_t id : draws(with(1.0, 3, 1.0, 9), kLogits, 500)) EXPECT_TRUE(id == 1 || id == 3 || id == 4) << id;
}

TEST(Sampler, TopPEdges) {
    // p so small that only the most likely token survives; p = 1 keeps all.
    Sampler tiny(with(1.0, 0, 1e-9));
    auto c = tiny.candidates(kLogits.data(), 6);
    ASSERT_EQ(c.size(), 1u);
    EXPECT_EQ(c[0].first, 1);
    Sampler full(with(1.0, 0, 1.0));
    EXPECT_EQ(full.candidates(kLogits.data(), 6).size(), 6u);
    // The kept prefix is the smallest whose mass reaches p: here the two tied tokens hold ~0.74.
    Sampler nucleus(with(1.0, 0, 0.7));
    c = nucleus.candidates(kLogits.data(), 6);
    EXPECT_EQ(c.size(), 2u);
    double sum = 0;
    for (auto &[id, p] : c) sum += p;
    EXPECT_NEAR(sum, 1.0, 1e-12);
    // top-k applies first, then top-p within it.
    Sampler both(with(1.0, 3, 0.99));
    EXPECT_EQ(both.candidates(kLogits.data(), 6).size(), 3u);
}

TEST(Sampler, TemperatureSharpens) {
    Sampler cold(with(0.05, 0, 1.0)), hot(with(10.0, 0, 1.0));
    EXPECT_GT(cold.candidates(kLogits.data(), 6)[0].second, 0.49);  // almost all mass on the tied pair
    EXPECT_LT(hot.candidates(kLogits.data(), 6)[0].second, 0.25);
}

TEST(Sampler, BadOptionsAndLogitsAreErrors) {
    EXPECT_THROW(Sampler(with(-1.0, 0, 1.0)), Error);
    EXPECT_THROW(Sampler(with(NAN, 0, 1.0)), Error);
    EXPECT_THROW(Sampler(with(1.0, -2, 1.0)), Error);
    EXPECT_THROW(Sampler(with(1.0, 0, 0.0)), Error);
    EXPECT_THROW(Sampler(with(1.0, 0, 1.5)), Error);
    Sampler s(with(1.0, 0, 1.0));
    std::vector<float> nan_logits{1.0f, NAN};
    EXPECT_THROW(s.sample(nan_logits.data(), 2), Error);
    EXPECT_THROW(s.sample(nan_logits.data(), 0), Error);
}

}  // namespace
}  // namespace retnet::test
