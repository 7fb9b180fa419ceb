// Every retention form against the float64 reference, and the forms against each other.
#include <gtest/gtest.h>

#include <cmath>

#include <fmt/format.h>

#include "reference.h"
#include "retnet/retention.h"
#include "device_test.h"
#include "test_support.h"

namespace retnet::test {
namespace {

constexpr double kTolerance = 1e-5;

struct FormUnderTest {
    Form form;
    int chunk;  // chunkwise only
    Device device = Device::cpu;
    std::string name() const {
        std::string f = form == Form::chunkwise ? fmt::format("chunkwise_c{}", chunk) : form_name(form);
        return fmt::format("{}_{}", device_name(device), f);
    }
};

// Every form on `device`: parallel, recurrent and chunkwise at each chunk length built for it.
std::vector<FormUnderTest> forms_on(Device device) {
    std::vector<FormUnderTest> forms{{Form::parallel, 0, device}, {Form::recurrent, 0, device}};
    for (int c : supported_chunk_lengths(device)) forms.push_back({Form::chunkwise, c, device});
    return forms;
}

std::vector<FormUnderTest> all_forms() {
    std::vector<FormUnderTest> forms;
    for (Device d : all_devices()) {
        for (const FormUnderTest &f : forms_on(d)) forms.push_back(f);
    }
    return forms;
}

void run_form(const FormUnderTest &f, const Tensor &q, const Tensor &k, const Tensor &v, Tensor &o,
              const RetentionOptions &options, const Tensor *s0, Tensor *sf) {
    switch (f.form) {
    case Form::parallel:
        retention_parallel(q, k, v, o, options, s0, sf);
        break;
    case Form::recurrent:
        retention_recurrent(q, k, v, o, options, s0, sf);
        break;
    default:
        retention_chunkwise(q, k, v, o, f.chunk, options, s0, sf);
        break;
    }
}

struct Shape5 {
    int64_t B, T, H, K, V;
};

// Runs `form` on fresh random inputs into NaN-poisoned outputs and checks o and the final state
// against the reference.
void expect_matches_reference(const FormUnderTest &form, const Shape5 &s, bool with_initial_state,
                              const RetentionOptions &options = {}) {
    SCOPED_TRACE(fmt::format("{} B={} T={} H={} K={} V={} initial_state={}", form.name(), s.B, s.T, s.H, s.K, s.V,
                             with_initial_state));
    Tensor q = random_tensor({s.B, s.T, s.H, s.K}), k = random_tensor({s.B, s.T, s.H, s.K});
    Tensor v = random_tensor({s.B, s.T, s.H, s.V});
    Tensor s0 = random_tensor({s.B, s.H, s.K, s.V});
    const Device d = form.device;
    Tensor o = on(d, poisoned({s.B, s.T, s.H, s.V})), sf = on(d, poisoned({s.B, s.H, s.K, s.V}));
    Tensor s0_on = on(d, s0);
    run_form(form, on(d, q), on(d, k), on(d, v), o, options, with_initial_state ? &s0_on : nullptr, &sf);
    std::vector<double> gamma = options.decay.empty() ? default_decay(s.H) : options.decay;
    double scale = options.scale.value_or(1.0 / std::sqrt(static_cast<double>(s.K)));
    ReferenceResult ref = reference_retention(q, k, v, gamma, scale, with_initial_state ? &s0 : nullptr);
    ReferenceResult magnitude = reference_magnitude(q, k, v, gamma, scale, with_initial_state ? &s0 : nullptr);
    EXPECT_LE(error_against_magnitude(o, ref.o, magnitude.o), kTolerance) << "output";
    EXPECT_LE(error_against_magnitude(sf, ref.final_state, magnitude.final_state), kTolerance) << "final state";
}

class EveryForm : public ::testing::TestWithParam<FormUnderTest> {
protected:
    void SetUp() override {
        std::string why = why_unavailable(GetParam().device);
        if (!why.empty()) GTEST_SKIP() << "skipping " << GetParam().name() << ": " << why;
    }
};

TEST_P(EveryForm, MatchesReferenceAcrossHeadDims) {
    // K in {60, 64, 100, 128, 256}, V in {K, 2K}; B, H > 1 on some; T not a multiple of any chunk.
    for (int64_t K : {60, 64, 100, 128, 256}) {
        for (int64_t V : {K, 2 * K}) {
            expect_matches_reference(GetParam(), {K <= 64 ? 2 : 1, K <= 100 ? 37 : 19, K <= 64 ? 3 : 1, K, V},
                                     /*with_initial_state=*/V == 2 * K);
        }
    }
}

TEST_P(EveryForm, SingleToken) {
    expect_matches_reference(GetParam(), {2, 1, 2, 16, 24}, false);
    expect_matches_reference(GetParam(), {2, 1, 2, 16, 24}, true);
}

TEST_P(EveryForm, TinyAndOddHeadDims) {
    expect_matches_reference(GetParam(), {1, 5, 1, 1, 1}, true);
    expect_matches_reference(GetParam(), {1, 9, 2, 3, 7}, true);
    expect_matches_reference(GetParam(), {3, 11, 2, 17, 5}, false);
}

TEST_P(EveryForm, SeveralChunksWithPartialLastOne) {
    // 600 = 512 + 88 = 9 x 64 + 24 = 37 x 16 + 8: several chunks and a partial one for every C.
    expect_matches_reference(GetParam(), {1, 600, 2, 32, 40}, true);
}

TEST_P(EveryForm, LongSequenceInTokenBlocks) {
    // On the CPU the chunkwise form runs a long sequence as blocks of at least 256 tokens, each
    // starting from the state the one before ended with (retention.cpp: cpu_chunkwise_token_block).
    // K = V = 256: 256-token blocks (512 at C = 512), so 520 tokens are two or three blocks at every
    // chunk length, the last block and its last chunk partial; K = 128, V = 256: 256-token blocks
    // up to C = 128. (The other forms and the GPUs run whole sequences; other tests cover them.)
    if (GetParam().device != Device::cpu || GetParam().form != Form::chunkwise) {
        GTEST_SKIP() << "token blocks are the CPU chunkwise form's";
    }
    expect_matches_reference(GetParam(), {1, 520, 1, 256, 256}, true);
    expect_matches_reference(GetParam(), {2, 300, 1, 128, 256}, false);
}

TEST_P(EveryForm, CustomDecayAndScale) {
    RetentionOptions options;
    options.decay = {0.5, 0.9, 0.999};
    options.scale = 0.37;
    expect_matches_reference(GetParam(), {2, 150, 3, 24, 32}, true, options);
}

INSTANTIATE_TEST_SUITE_P(Retention, EveryForm, ::testing::ValuesIn(all_forms()),
                         [](const auto &info) { return info.param.name(); });

// gamma = 1 - 2^-20 at T = 8192: decay powers must stay accurate and the state grows large.
class RetentionOnDevice : public OnEveryDevice {};

TEST_P(RetentionOnDevice, SlowDecayLongSequence) {
    RetentionOptions options;
    options.decay = {1.0 - std::ldexp(1.0, -20)};
    for (const FormUnderTest &form : forms_on(device())) {
        if (form.form == Form::chunkwise && form.chunk != 64 && form.chunk != supported_chunk_lengths(device()).back()) continue;
        expect_matches_reference(form, {1, 8192, 1, 16, 16}, true, options);
    }
}

// All forms compute the same numbers as each other, at a size beyond what the reference checks.
TEST_P(RetentionOnDevice, FormsAgreeWithEachOther) {
    const Shape5 s{2, 1000, 4, 64, 128};
    const Device d = device();
    Tensor q = on(d, random_tensor({s.B, s.T, s.H, s.K})), k = on(d, random_tensor({s.B, s.T, s.H, s.K}));
    Tensor v = on(d, random_tensor({s.B, s.T, s.H, s.V})), s0 = on(d, random_tensor({s.B, s.H, s.K, s.V}));
    Tensor o_base = on(d, poisoned({s.B, s.T, s.H, s.V})), sf_base = on(d, poisoned({s.B, s.H, s.K, s.V}));
    retention_recurrent(q, k, v, o_base, {}, &s0, &sf_base);
    for (const FormUnderTest &form : forms_on(d)) {
        SCOPED_TRACE(form.name());
        Tensor o = on(d, poisoned({s.B, s.T, s.H, s.V})), sf = on(d, poisoned({s.B, s.H, s.K, s.V}));
        run_form(form, q, k, v, o, {}, &s0, &sf);
        EXPECT_LE(relative_error(o, o_base), kTolerance);
        EXPECT_LE(relative_error(sf, sf_base), kTolerance);
    }
}

// Prefill the first `split` tokens (returning the state), then decode the rest one token at a
// time: the same as running the whole sequence.
TEST_P(RetentionOnDevice, PrefillThenDecodeEqualsWholeSequence) {
    const Device d = device();
    const int64_t B = 2, T = 80, H = 3, K = 20, V = 36;
    Tensor q = random_tensor({B, T, H, K}), k = random_tensor({B, T, H, K}), v = random_tensor({B, T, H, V});
    ReferenceResult whole = reference_retention(q, k, v, default_decay(H), 1.0 / std::sqrt(double(K)), nullptr);

    auto slice_tokens = [&](const Tensor &x, int64_t from, int64_t to) {
        const int64_t D = x.dim(3);
        Tensor out = Tensor::empty({B, to - from, H, D});
        for (int64_t b = 0; b < B; b++)
            for (int64_t t = from; t < to; t++)
                for (int64_t i = 0; i < H * D; i++)
                    out.data()[(b * (to - from) + (t - from)) * H * D + i] = x.data()[(b * T + t) * H * D + i];
        return out;
    };
    for (FormUnderTest prefill : {FormUnderTest{Form::parallel, 0, d}, FormUnderTest{Form::chunkwise, 16, d},
                                  FormUnderTest{Form::chunkwise, 64, d}, FormUnderTest{Form::recurrent, 0, d}}) {
        for (int64_t split : {int64_t(1), int64_t(17), int64_t(64), T - 1}) {
            SCOPED_TRACE(fmt::format("prefill {} of {} tokens by {}", split, T, prefill.name()));
            // The state stays on the device from prefill through every decode step.
            Tensor state = on(d, poisoned({B, H, K, V}));
            Tensor o_prefill_d = on(d, poisoned({B, split, H, V}));
            run_form(prefill, on(d, slice_tokens(q, 0, split)), on(d, slice_tokens(k, 0, split)),
                     on(d, slice_tokens(v, 0, split)), o_prefill_d, {}, nullptr, &state);
            Tensor o_prefill = to_host(o_prefill_d);
            Tensor o_all = poisoned({B, T, H, V});
            for (int64_t b = 0; b < B; b++)
                std::copy_n(o_prefill.data() + b * split * H * V, split * H * V, o_all.data() + b * T * H * V);
            for (int64_t t = split; t < T; t++) {
                Tensor qt = slice_tokens(q, t, t + 1), kt = slice_tokens(k, t, t + 1), vt = slice_tokens(v, t, t + 1);
                Tensor q1 = on(d, Tensor::view(qt.data(), {B, H, K})), k1 = on(d, Tensor::view(kt.data(), {B, H, K}));
                Tensor v1 = on(d, Tensor::view(vt.data(), {B, H, V}));
                Tensor o1_d = on(d, poisoned({B, H, V}));
                retention_decode_step(q1, k1, v1, state, o1_d);
                Tensor o1 = to_host(o1_d);
                for (int64_t b = 0; b < B; b++)
                    std::copy_n(o1.data() + b * H * V, H * V, o_all.data() + (b * T + t) * H * V);
            }
            EXPECT_LE(relative_error(o_all, whole.o), kTolerance);
            EXPECT_LE(relative_error(state, whole.final_state), kTolerance);
        }
    }
}

// A chunkwise prefill split anywhere and continued from the returned state equals the whole.
TEST_P(RetentionOnDevice, SplitChunkwiseEqualsWhole) {
    const int64_t B = 1, T = 300, H = 2, K = 32, V = 64;
    const Device d = device();
    Tensor q = random_tensor({B, T, H, K}), k = random_tensor({B, T, H, K}), v = random_tensor({B, T, H, V});
    Tensor o_whole = on(d, poisoned({B, T, H, V})), s_whole = on(d, poisoned({B, H, K, V}));
    retention_chunkwise(on(d, q), on(d, k), on(d, v), o_whole, 64, {}, nullptr, &s_whole);
    for (int64_t split : {int64_t(1), int64_t(63), int64_t(64), int64_t(65), int64_t(200)}) {
        SCOPED_TRACE(fmt::format("split at {}", split));
        auto part = [&](const Tensor &x, int64_t from, int64_t to) {
            Tensor out = Tensor::empty({B, to - from, H, x.dim(3)});
            std::copy_n(x.data() + from * H * x.dim(3), (to - from) * H * x.dim(3), out.data());
            return out;
        };
        Tensor o1_d = on(d, poisoned({B, split, H, V})), o2_d = on(d, poisoned({B, T - split, H, V}));
        Tensor mid = on(d, poisoned({B, H, K, V})), end = on(d, poisoned({B, H, K, V}));
        retention_chunkwise(on(d, part(q, 0, split)), on(d, part(k, 0, split)), on(d, part(v, 0, split)), o1_d, 64, {},
                            nullptr, &mid);
        retention_chunkwise(on(d, part(q, split, T)), on(d, part(k, split, T)), on(d, part(v, split, T)), o2_d, 64, {},
                            &mid, &end);
        Tensor o1 = to_host(o1_d), o2 = to_host(o2_d);
        Tensor joined = Tensor::empty({B, T, H, V});
        std::copy_n(o1.data(), o1.numel(), joined.data());
        std::copy_n(o2.data(), o2.numel(), joined.data() + o1.numel());
        EXPECT_LE(relative_error(joined, o_whole), kTolerance);
        EXPECT_LE(relative_error(end, s_whole), kTolerance);
    }
}

INSTANTIATE_TEST_SUITE_P(Retention, RetentionOnDevice, ::testing::ValuesIn(all_devices()), device_test_name);

TEST(RetentionForms, AutomaticFormChoice) {
    EXPECT_EQ(choose_form(1), Form::recurrent);
    EXPECT_EQ(choose_form(kParallelMaxT), Form::parallel);
    EXPECT_EQ(choose_form(kParallelMaxT + 1), Form::chunkwise);
    for (int64_t T : {int64_t(1), int64_t(100), int64_t(700)}) {
        Tensor q = random_tensor({1, T, 2, 8}), k = random_tensor({1, T, 2, 8}), v = random_tensor({1, T, 2, 8});
        RetentionResult r = retention(q, k, v, {}, Form::automatic, nullptr, true);
        EXPECT_EQ(r.form, choose_form(T));
        ReferenceResult ref = reference_retention(q, k, v, default_decay(2), 1.0 / std::sqrt(8.0), nullptr);
        EXPECT_LE(relative_error(r.o, ref.o), kTolerance);
        EXPECT_LE(relative_error(r.final_state, ref.final_state), kTolerance);
    }
}

}  // namespace
}  // namespace retnet::test
