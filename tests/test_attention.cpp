// The Transformer baseline's attention over a KV cache against float64, on every device: prefill
// from an empty cache, decoding after it, sequences of different lengths, long caches split into
// many chunks, and the refusals.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "device_test.h"
#include "retnet/attention.h"
#include "retnet/error.h"
#include "retnet/transformer.h"
#include "test_support.h"

namespace retnet::test {
namespace {

// What the caches hold, on the host: keys[b][j] and values[b][j], each [H, D] row-major.
struct HostCache {
    int64_t H, D;
    std::vector<std::vector<std::vector<double>>> keys, values;  // [b][position][h * D + d]
};

// Appends rows t of k, v [B, T, H, D] at `start[b]` of the host copy.
void append_host(HostCache &cache, const Tensor &k, const Tensor &v, const std::vector<int64_t> &start) {
    const int64_t B = k.dim(0), T = k.dim(1), row = cache.H * cache.D;
    for (int64_t b = 0; b < B; b++) {
        for (int64_t t = 0; t < T; t++) {
            const size_t at = static_cast<size_t>(start[static_cast<size_t>(b)] + t);
            auto &keys = cache.keys[static_cast<size_t>(b)], &values = cache.values[static_cast<size_t>(b)];
            if (keys.size() <= at) keys.resize(at + 1), values.resize(at + 1);
            const float *kr = k.data() + (b * T + t) * row, *vr = v.data() + (b * T + t) * row;
            keys[at].assign(kr, kr + row);
            values[at].assign(vr, vr + row);
        }
    }
}

// softmax(scale q k^T) v in float64, causal at each query's position lengths[b] - T + t.
std::vector<double> reference_attention(const HostCache &cache, const Tensor &q, const std::vector<int64_t> &lengths,
                                        double scale) {
    const int64_t B = q.dim(0), T = q.dim(1), H = cache.H, D = cache.D;
    std::vector<double> o(static_cast<size_t>(q.numel()));
    for (int64_t b = 0; b < B; b++) {
        for (int64_t t = 0; t < T; t++) {
            const int64_t position = lengths[static_cast<size_t>(b)] - T + t;
            for (int64_t h = 0; h < H; h++) {
                const float *qr = q.data() + ((b * T + t) * H + h) * D;
                std::vector<double> scores;
                double largest = -INFINITY;
                for (int64_t j = 0; j <= position; j++) {
                    const auto &key = cache.keys[static_cast<size_t>(b)][static_cast<size_t>(j)];
                    double s = 0;
                    for (int64_t d = 0; d < D; d++) s += double(qr[d]) * key[static_cast<size_t>(h * D + d)];
                    scores.push_back(scale * s);
                    largest = std::max(largest, scale * s);
                }
                double total = 0;
                for (double &s : scores) total += (s = std::exp(s - largest));
                for (int64_t d = 0; d < D; d++) {
                    double sum = 0;
                    for (int64_t j = 0; j <= position; j++) {
                        sum += scores[static_cast<size_t>(j)] *
                               cache.values[static_cast<size_t>(b)][static_cast<size_t>(j)][static_cast<size_t>(h * D + d)];
                    }
                    o[static_cast<size_t>(((b * T + t) * H + h) * D + d)] = sum / total;
                }
            }
        }
    }
    return o;
}

class AttentionOnDevice : public OnEveryDevice {};

// Prefill of T tokens into an empty cache, then `steps` decode steps, each checked.
void expect_prefill_then_decode(Device device, int64_t B, int64_t T, int64_t H, int64_t D, int64_t steps) {
    SCOPED_TRACE(fmt::format("B={} T={} H={} D={} steps={}", B, T, H, D, steps));
    const double scale = 1.0 / std::sqrt(double(D));
    KvCache cache = KvCache::empty(B, H, D, T + steps + 5, device);
    HostCache host{H, D, std::vector<std::vector<std::vector<double>>>(static_cast<size_t>(B)),
                   std::vector<std::vector<std::vector<double>>>(static_cast<size_t>(B))};
    std::vector<int64_t> lengths(static_cast<size_t>(B), 0);
    for (int64_t step = 0; step <= steps; step++) {
        const int64_t n = step == 0 ? T : 1;
        Tensor q = random_tensor({B, n, H, D}), k = random_tensor({B, n, H, D}), v = random_tensor({B, n, H, D});
        const std::vector<int64_t> start = lengths;
        for (int64_t &l : lengths) l += n;
        kv_cache_append(on(device, k), on(device, v), start, cache);
        append_host(host, k, v, start);
        Tensor o = on(device, poisoned({B, n, H, D}));
        attention(on(device, q), cache, lengths, static_cast<float>(scale), o);
        EXPECT_LE(relative_error(o, reference_attention(host, q, lengths, scale)), 1e-5) << "step " << step;
    }
}

TEST_P(AttentionOnDevice, AttentionMatchesReference) {
    expect_prefill_then_decode(device(), 1, 5, 2, 16, 3);
    expect_prefill_then_decode(device(), 2, 37, 3, 64, 2);
    expect_prefill_then_decode(device(), 1, 300, 2, 128, 2);  // three chunks of keys, the last partial
    expect_prefill_then_decode(device(), 3, 1, 1, 8, 4);      // one-token prompts
}

// Sequences at different positions: each appends at its own place and sees its own keys.
TEST_P(AttentionOnDevice, SequencesOfDifferentLengths) {
    const int64_t B = 3, H = 2, D = 32;
    const double scale = 0.2;
    KvCache cache = KvCache::empty(B, H, D, 400, device());
    HostCache host{H, D, std::vector<std::vector<std::vector<double>>>(B), std::vector<std::vector<std::vector<double>>>(B)};
    // Fill every sequence to a different length, one sequence's prompt at a time.
    std::vector<int64_t> lengths{0, 0, 0};
    const std::vector<int64_t> prompt{130, 7, 260};
    for (int64_t b = 0; b < B; b++) {
        for (int64_t t = 0; t < prompt[static_cast<size_t>(b)]; t++) {
            // Every sequence writes at its own length; only sequence b's length moves on, so the
            // others' rows are overwritten by their next append.
            Tensor k = random_tensor({B, 1, H, D}), v = random_tensor({B, 1, H, D});
            const std::vector<int64_t> start = lengths;
            kv_cache_append(on(device(), k), on(device(), v), start, cache);
            append_host(host, k, v, start);
            lengths[static_cast<size_t>(b)]++;
        }
    }
    // Two new tokens for every sequence, at their own positions.
    Tensor q = random_tensor({B, 2, H, D}), k = random_tensor({B, 2, H, D}), v = random_tensor({B, 2, H, D});
    const std::vector<int64_t> start = lengths;
    for (int64_t &l : lengths) l += 2;
    kv_cache_append(on(device(), k), on(device(), v), start, cache);
    append_host(host, k, v, start);
    Tensor o = on(device(), poisoned({B, 2, H, D}));
    attention(on(device(), q), cache, lengths, static_cast<float>(scale), o);
    EXPECT_LE(relative_error(o, reference_attention(host, q, lengths, scale)), 1e-5);
}

// The Transformer baseline: a prompt in one pass gives the same last logits as the same prompt
// token by token through the cache, and a batch gives each sequence its own.
TEST_P(AttentionOnDevice, TransformerPrefillMatchesTokenByToken) {
    TransformerConfig config;
    config.layers = 2, config.embed_dim = 64, config.heads = 2, config.ffn_dim = 96, config.vocab_size = 50;
    const TransformerModel model = TransformerModel::random(config, 7, device());
    const std::vector<int32_t> prompt{3, 14, 15, 9, 26, 5, 35, 8, 9, 7, 9, 3};
    const int64_t T = static_cast<int64_t>(prompt.size());
    TransformerState whole = model.new_state(1, 20);
    Tensor at_once = to_host(model.forward(prompt, 1, T, whole));
    TransformerState steps = model.new_state(1, 20);
    Tensor last;
    for (int32_t token : prompt) last = to_host(model.forward({token}, 1, 1, steps));
    EXPECT_LE(relative_error(at_once, last), 1e-5);
    EXPECT_EQ(whole.lengths, std::vector<int64_t>{T});
    // Two sequences in one batch: the second alone gives its row.
    std::vector<int32_t> both = prompt;
    both.insert(both.end(), prompt.rbegin(), prompt.rend());
    TransformerState batch = model.new_state(2, 20), alone = model.new_state(1, 20);
    Tensor two = to_host(model.forward(both, 2, T, batch));
    Tensor second = to_host(model.forward(std::vector<int32_t>(prompt.rbegin(), prompt.rend()), 1, T, alone));
    Tensor row = Tensor::empty({1, config.vocab_size});
    std::copy(two.data() + config.vocab_size, two.data() + 2 * config.vocab_size, row.data());
    EXPECT_LE(relative_error(row, second), 1e-5);
    EXPECT_THROW(model.forward(prompt, 1, T, whole), Error);  // 12 + 12 positions do not fit in 20
}

TEST(Attention, RefusesBadShapesAndLengths) {
    KvCache cache = KvCache::empty(2, 2, 8, 16, Device::cpu);
    Tensor q = Tensor::zeros({2, 3, 2, 8}), o = Tensor::empty({2, 3, 2, 8});
    auto message = [&](const std::function<void()> &call) {
        try {
            call();
        } catch (const Error &e) {
            return std::string(e.what());
        }
        return std::string("no error");
    };
    EXPECT_NE(message([&] { attention(q, cache, {3, 2}, 1.0f, o); }).find("lengths[1]"), std::string::npos);
    EXPECT_NE(message([&] { attention(q, cache, {3, 17}, 1.0f, o); }).find("lengths[1]"), std::string::npos);
    EXPECT_NE(message([&] { attention(q, cache, {3}, 1.0f, o); }).find("one per sequence"), std::string::npos);
    Tensor wrong = Tensor::zeros({2, 3, 2, 4});
    EXPECT_NE(message([&] { attention(wrong, cache, {3, 3}, 1.0f, o); }).find("attention: q"), std::string::npos);
    EXPECT_NE(message([&] { kv_cache_append(q, q, {14, 0}, cache); }).find("start[0]"), std::string::npos);
    EXPECT_THROW(KvCache::empty(1, 1, 1, int64_t(1) << 62, Device::cpu), Error);
}

INSTANTIATE_TEST_SUITE_P(Devices, AttentionOnDevice, ::testing::ValuesIn(all_devices()), device_test_name);

}  // namespace
}  // namespace retnet::test
