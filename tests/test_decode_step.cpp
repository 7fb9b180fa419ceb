// The fused decode step: B sequences one token each, state updated in place.
#include <gtest/gtest.h>

#include <cmath>

#include <fmt/format.h>

#include "reference.h"
#include "retnet/retention.h"
#include "device_test.h"
#include "test_support.h"

namespace retnet::test {
namespace {

// Decodes T tokens one step at a time from a random state and compares every output and the
// final state with the reference over the whole sequence.
void expect_steps_match_reference(Device d, int64_t B, int64_t T, int64_t H, int64_t K, int64_t V) {
    SCOPED_TRACE(fmt::format("{} B={} T={} H={} K={} V={}", device_name(d), B, T, H, K, V));
    Tensor q = random_tensor({B, T, H, K}), k = random_tensor({B, T, H, K}), v = random_tensor({B, T, H, V});
    Tensor s0 = random_tensor({B, H, K, V});
    ReferenceResult ref = reference_retention(q, k, v, default_decay(H), 1.0 / std::sqrt(double(K)), &s0);
    ReferenceResult magnitude = reference_magnitude(q, k, v, default_decay(H), 1.0 / std::sqrt(double(K)), &s0);

    Tensor state = on(d, s0.clone());  // stays on the device across steps
    Tensor o_all = poisoned({B, T, H, V});
    for (int64_t t = 0; t < T; t++) {
        auto token = [&](const Tensor &x) {
            const int64_t D = x.dim(3);
            Tensor out = Tensor::empty({B, H, D});
            for (int64_t b = 0; b < B; b++) std::copy_n(x.data() + (b * T + t) * H * D, H * D, out.data() + b * H * D);
            return out;
        };
        Tensor o_d = on(d, poisoned({B, H, V}));
        retention_decode_step(on(d, token(q)), on(d, token(k)), on(d, token(v)), state, o_d);
        Tensor o = to_host(o_d);
        for (int64_t b = 0; b < B; b++) std::copy_n(o.data() + b * H * V, H * V, o_all.data() + (b * T + t) * H * V);
    }
    EXPECT_LE(error_against_magnitude(o_all, ref.o, magnitude.o), 1e-5);
    EXPECT_LE(error_against_magnitude(state, ref.final_state, magnitude.final_state), 1e-5);
}

class DecodeStepOnDevice : public OnEveryDevice {};

TEST_P(DecodeStepOnDevice, MatchesReference) {
    expect_steps_match_reference(device(), 1, 6, 1, 128, 128);
    expect_steps_match_reference(device(), 3, 5, 2, 100, 200);
    expect_steps_match_reference(device(), 2, 4, 3, 60, 60);
    expect_steps_match_reference(device(), 64, 2, 2, 16, 8);
    expect_steps_match_reference(device(), 1, 3, 1, 1, 1);
    expect_steps_match_reference(device(), 1, 3, 1, 256, 512);   // K = 256 on GPUs: fla-1.3b's heads
    expect_steps_match_reference(device(), 3, 2, 5, 256, 96);    // K = 256, V a multiple of 32
    expect_steps_match_reference(device(), 2, 2, 2, 256, 100);   // K = 256, other V: any K and V
    expect_steps_match_reference(device(), 3, 3, 4, 128, 128);   // the K = V = 128 kernel, narrow blocks
    expect_steps_match_reference(device(), 33, 2, 8, 128, 128);  // a block per head (B H > 256)
    expect_steps_match_reference(device(), 2, 3, 2, 128, 96);    // K = 128 with another V: any K and V
}

INSTANTIATE_TEST_SUITE_P(Retention, DecodeStepOnDevice, ::testing::ValuesIn(all_devices()), device_test_name);

TEST(DecodeStep, WorksOnViewsOfCallerMemory) {
    const int64_t B = 2, H = 2, K = 8, V = 12;
    std::vector<float> qs(B * H * K, 0.5f), ks(B * H * K, -0.25f), vs(B * H * V, 1.5f), state(B * H * K * V, 0.1f);
    std::vector<float> o(B * H * V, std::nanf(""));
    Tensor tq = Tensor::view(qs.data(), {B, H, K}), tk = Tensor::view(ks.data(), {B, H, K});
    Tensor tv = Tensor::view(vs.data(), {B, H, V}), ts = Tensor::view(state.data(), {B, H, K, V});
    Tensor to = Tensor::view(o.data(), {B, H, V});
    retention_decode_step(tq, tk, tv, ts, to);
    // Head 0: gamma = 1 - 2^-5; S = gamma * 0.1 + (-0.25)(1.5); o = K^-0.5 * sum_k 0.5 * S.
    const double g = 1.0 - 1.0 / 32.0, s = g * 0.1 + (-0.25 * 1.5), expect_o = (1.0 / std::sqrt(8.0)) * 8 * 0.5 * s;
    EXPECT_NEAR(state[0], s, 1e-6);
    EXPECT_NEAR(o[0], expect_o, 1e-6);
    for (float x : o) EXPECT_FALSE(std::isnan(x));
}

}  // namespace
}  // namespace retnet::test
