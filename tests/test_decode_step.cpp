// The fused decode step: B sequences one token each, state updated in place.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>

#include <fmt/format.h>

#include "reference.h"
#include "retnet/error.h"
#include "retnet/layers.h"
#include "retnet/retention.h"
#include "device_test.h"
#include "test_support.h"

namespace retnet::test {
namespace {

// Token t of each sequence of x [B, T, H, D]: [B, H, D].
Tensor token(const Tensor &x, int64_t t) {
    const int64_t B = x.dim(0), T = x.dim(1), H = x.dim(2), D = x.dim(3);
    Tensor out = Tensor::empty({B, H, D});
    for (int64_t b = 0; b < B; b++) std::copy_n(x.data() + (b * T + t) * H * D, H * D, out.data() + b * H * D);
    return out;
}

// A float64 result as a float32 tensor of `shape`: the reference's rotated q and k, as inputs to
// the reference retention.
Tensor rounded(const std::vector<double> &values, const Shape &shape) {
    Tensor out = Tensor::empty(shape);
    std::transform(values.begin(), values.end(), out.data(), [](double x) { return static_cast<float>(x); });
    return out;
}

// Decodes T tokens one step at a time from a random state and compares every output and the
// final state with the reference over the whole sequence. step(t, q_t, k_t, v_t, state, o_t) runs
// one step on the device; the reference takes q_ref, k_ref (the inputs as the retention sees them)
// and `scale`.
template<typename Step>
void expect_steps_match(Device d, const Tensor &q, const Tensor &k, const Tensor &v, const Tensor &q_ref,
                        const Tensor &k_ref, double scale, const Step &step) {
    const int64_t B = q.dim(0), T = q.dim(1), H = q.dim(2), K = q.dim(3), V = v.dim(3);
    Tensor s0 = random_tensor({B, H, K, V});
    ReferenceResult ref = reference_retention(q_ref, k_ref, v, default_decay(H), scale, &s0);
    ReferenceResult magnitude = reference_magnitude(q_ref, k_ref, v, default_decay(H), scale, &s0);

    Tensor state = on(d, s0.clone());  // stays on the device across steps
    Tensor o_all = poisoned({B, T, H, V});
    for (int64_t t = 0; t < T; t++) {
        Tensor o_d = on(d, poisoned({B, H, V}));
        step(t, on(d, token(q, t)), on(d, token(k, t)), on(d, token(v, t)), state, o_d);
        Tensor o = to_host(o_d);
        for (int64_t b = 0; b < B; b++) std::copy_n(o.data() + b * H * V, H * V, o_all.data() + (b * T + t) * H * V);
    }
    EXPECT_LE(error_against_magnitude(o_all, ref.o, magnitude.o), 1e-5);
    EXPECT_LE(error_against_magnitude(state, ref.final_state, magnitude.final_state), 1e-5);
}

void expect_steps_match_reference(Device d, int64_t B, int64_t T, int64_t H, int64_t K, int64_t V) {
    SCOPED_TRACE(fmt::format("{} B={} T={} H={} K={} V={}", device_name(d), B, T, H, K, V));
    Tensor q = random_tensor({B, T, H, K}), k = random_tensor({B, T, H, K}), v = random_tensor({B, T, H, V});
    expect_steps_match(d, q, k, v, q, k, 1.0 / std::sqrt(double(K)),
                       [](int64_t, const Tensor &qt, const Tensor &kt, const Tensor &vt, Tensor &state, Tensor &o) {
                           retention_decode_step(qt, kt, vt, state, o);
                       });
}

// The step that rotates q and k itself, as a model's decoding runs it on GPUs (k scaled by
// K^-0.5, the read-out by 1), against the float64 rotation and then the reference. Sequence b's
// tokens sit at positions starts[b], starts[b] + 1, ...
void expect_rotated_steps_match_reference(Device d, int64_t T, int64_t H, int64_t K, int64_t V,
                                          const std::vector<int64_t> &starts) {
    const int64_t B = static_cast<int64_t>(starts.size());
    SCOPED_TRACE(fmt::format("{} rotated B={} T={} H={} K={} V={}", device_name(d), B, T, H, K, V));
    Tensor q = random_tensor({B, T, H, K}), k = random_tensor({B, T, H, K}), v = random_tensor({B, T, H, V});
    const std::vector<float> angles = rotation_angles(K);
    const double k_scale = 1.0 / std::sqrt(double(K));
    Tensor q_ref = rounded(reference_rotation(q, starts, angles, 1.0), q.shape());
    Tensor k_ref = rounded(reference_rotation(k, starts, angles, k_scale), k.shape());
    RetentionOptions options;
    options.scale = 1.0;
    expect_steps_match(d, q, k, v, q_ref, k_ref, 1.0,
                       [&](int64_t t, const Tensor &qt, const Tensor &kt, const Tensor &vt, Tensor &state, Tensor &o) {
                           std::vector<int64_t> positions(starts);
                           for (int64_t &p : positions) p += t;
                           retention_decode_step_rotated(qt, kt, RotationTables::make(positions, 1, angles, d),
                                                         static_cast<float>(k_scale), vt, state, o, options);
                       });
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

TEST_P(DecodeStepOnDevice, RotatedStepMatchesReference) {
    if (device() == Device::cpu) {
        Tensor x = Tensor::zeros({1, 1, 4}), state = Tensor::zeros({1, 1, 4, 4}), o = Tensor::zeros({1, 1, 4});
        try {
            retention_decode_step_rotated(x, x, RotationTables::make({0}, 1, 4, device()), 1.0f, x, state, o);
            FAIL() << "the CPU has no rotated step";
        } catch (const Error &e) {
            EXPECT_NE(std::string(e.what()).find("GPUs only"), std::string::npos) << e.what();
        }
        return;
    }
    expect_rotated_steps_match_reference(device(), 3, 2, 256, 512, {4000});                        // fla-1.3b's heads
    expect_rotated_steps_match_reference(device(), 2, 5, 256, 96, {0, 17, 123456});                // K = 256, V a multiple of 32
    expect_rotated_steps_match_reference(device(), 2, 2, 256, 100, {5, 9});                        // K = 256, other V: any K and V
    expect_rotated_steps_match_reference(device(), 3, 4, 128, 128, {1, 2, 3});                     // K = V = 128, narrow blocks
    expect_rotated_steps_match_reference(device(), 2, 8, 128, 128, std::vector<int64_t>(33, 70));  // a block per head
    expect_rotated_steps_match_reference(device(), 3, 3, 64, 48, {0, 1000});                       // any K and V
    expect_rotated_steps_match_reference(device(), 2, 1, 2, 3, {7});                               // one pair
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
