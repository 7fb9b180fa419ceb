// Batched decoding: a sequence decoded in a batch, with others joining and leaving around it,
// gives the same logits as decoded alone.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include "device_test.h"
#include "model_fixtures.h"
#include "retnet/decode_session.h"
#include "retnet/error.h"
#include "test_support.h"

namespace retnet::test {
namespace {

// Logits after each token of `tokens` decoded alone: prompt prefilled, then one step per token.
std::vector<std::vector<float>> decoded_alone(const Model &model, const std::vector<int32_t> &prompt,
                                              const std::vector<int32_t> &tokens) {
    DecodeSession alone(model, 1);
    int64_t id = alone.join(prompt);
    std::vector<std::vector<float>> out{alone.last_logits(id)};
    for (int32_t t : tokens) {
        alone.step({t});
        out.push_back(alone.last_logits(id));
    }
    return out;
}

double relative(const std::vector<float> &a, const std::vector<float> &b) {
    double num = 0, den = 0;
    for (size_t i = 0; i < a.size(); i++) {
        num += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
        den += double(b[i]) * b[i];
    }
    return std::sqrt(num / den);
}

class DecodeSessionOnDevice : public OnEveryDevice {};

TEST_P(DecodeSessionOnDevice, BatchedEqualsAlone) {
    GoldenModel g = load_golden("tiny_swish");
    Model model = Model::load(g.dir, device());
    const std::vector<int32_t> prompt_a(g.tokens.begin(), g.tokens.begin() + 10);
    const std::vector<int32_t> prompt_b(g.tokens.begin() + 20, g.tokens.begin() + 27);
    const std::vector<int32_t> prompt_c(g.tokens.begin() + 40, g.tokens.begin() + 41);
    const std::vector<int32_t> steps(g.tokens.begin() + 50, g.tokens.begin() + 62);
    const auto a_alone = decoded_alone(model, prompt_a, steps);
    const auto c_alone = decoded_alone(model, prompt_c, steps);

    DecodeSession session(model, 3);
    const int64_t b = session.join(prompt_b, Form::parallel);
    const int64_t a = session.join(prompt_a);
    EXPECT_LE(relative(session.last_logits(a), a_alone[0]), 1e-5);
    int64_t c = -1;
    for (size_t t = 0; t < steps.size(); t++) {
        // b leaves after 3 steps; c joins after 5 and is fed the same tokens from its own start.
        if (t == 3) session.leave(b);
        if (t == 5) c = session.join(prompt_c, Form::chunkwise, 16);
        std::vector<int32_t> tokens;
        for (int64_t id : session.ids()) tokens.push_back(id == c ? steps[t - 5] : steps[t]);
        session.step(tokens);
        EXPECT_LE(relative(session.last_logits(a), a_alone[t + 1]), 1e-5) << "step " << t;
        if (c >= 0) EXPECT_LE(relative(session.last_logits(c), c_alone[t - 5 + 1]), 1e-5) << "step " << t;
    }
    EXPECT_EQ(session.position(a), static_cast<int64_t>(prompt_a.size() + steps.size()));
    EXPECT_EQ(session.size(), 2);
}

TEST_P(DecodeSessionOnDevice, ForkedSequencesDecodeIndependently) {
    GoldenModel g = load_golden("odd_dims_f16");
    Model model = Model::load(g.dir, device());
    const std::vector<int32_t> prompt(g.tokens.begin(), g.tokens.begin() + 12);
    DecodeSession session(model, 4);
    const int64_t first = session.join(prompt);
    const int64_t copy = session.fork(first);
    EXPECT_EQ(session.last_logits(first), session.last_logits(copy));
    session.step({3, 7});
    const auto three = decoded_alone(model, prompt, {3}), seven = decoded_alone(model, prompt, {7});
    EXPECT_LE(relative(session.last_logits(first), three[1]), 1e-5);
    EXPECT_LE(relative(session.last_logits(copy), seven[1]), 1e-5);
}

TEST(DecodeSession, MisuseIsAnError) {
    GoldenModel g = load_golden("tiny_swish");
    Model model = Model::load(g.dir);
    EXPECT_THROW(DecodeSession(model, 0), Error);
    DecodeSession session(model, 1);
    EXPECT_THROW(session.step({1}), Error);  // nobody has joined
    EXPECT_THROW(session.join({}), Error);
    const int64_t id = session.join({1, 2, 3});
    EXPECT_THROW(session.join({4}), Error);  // full
    EXPECT_THROW(session.fork(id), Error);   // full
    EXPECT_THROW(session.step({1, 2}), Error);
    EXPECT_THROW(session.leave(id + 1), Error);
    EXPECT_THROW(session.join({99}), Error);  // no such token (vocab 50)
    session.leave(id);
    EXPECT_EQ(session.size(), 0);
    EXPECT_NO_THROW(session.join({4}));
}

INSTANTIATE_TEST_SUITE_P(Devices, DecodeSessionOnDevice, ::testing::ValuesIn(all_devices()), device_test_name);

}  // namespace
}  // namespace retnet::test
