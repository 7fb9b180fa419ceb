// The Transformer baseline's attention over a KV cache against float64, on every device: prefill
// from an empty cache, decoding after it, sequences of different lengths, long caches split into
// many chunks, and the refusals.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <tuple>
#include <functional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "device_test.h"
#include "retnet/attention.h"
#include "retnet/checked.h"
#include "retnet/error.h"
#include "retnet/transformer.h"
#include "test_support.h"

namespace retnet::test {
namespace {

// x rounded to the nearest bfloat16, ties to the even one: of the two bfloat16 values around x
// (x with its low 16 bits cleared, and the next one away from zero), the nearer.
float nearest_bfloat16(float x) {
    uint32_t bits;
    std::memcpy(&bits, &x, sizeof bits);
    const uint32_t toward_zero = bits & 0xffff0000u, away = toward_zero + 0x10000u;
    float low, high;
    std::memcpy(&low, &toward_zero, sizeof low);
    std::memcpy(&high, &away, sizeof high);
    const double to_low = std::fabs(double(x) - low), to_high = std::fabs(double(high) - x);
    if (to_low != to_high) return to_low < to_high ? low : high;
    return (toward_zero >> 16) % 2 == 0 ? low : high;
}

// What the caches hold, on the host: keys[b][j] and values[b][j], each [H, D] row-major, as
// stored (rounded to bfloat16 in a bfloat16 cache).
struct HostCache {
    int64_t H, D;
    std::vector<std::vector<std::vector<double>>> keys, values;  // [b][position][h * D + d]
    CacheStorage storage = CacheStorage::f32;

    HostCache(int64_t B, int64_t heads, int64_t dim, CacheStorage s)
        : H(heads), D(dim), keys(static_cast<size_t>(B)), values(static_cast<size_t>(B)), storage(s) {}
    double stored(float x) const { return storage == CacheStorage::bf16 ? nearest_bfloat16(x) : x; }
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
            keys[at].resize(static_cast<size_t>(row));
            values[at].resize(static_cast<size_t>(row));
            for (int64_t i = 0; i < row; i++) {
                keys[at][static_cast<size_t>(i)] = cache.stored(kr[i]);
                values[at][static_cast<size_t>(i)] = cache.stored(vr[i]);
            }
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

// Every device, with float32 and with bfloat16 caches.
class AttentionOnDevice : public ::testing::TestWithParam<std::tuple<Device, CacheStorage>> {
protected:
    void SetUp() override { skip_unless_available(device()); }
    Device device() const { return std::get<0>(GetParam()); }
    CacheStorage storage() const { return std::get<1>(GetParam()); }
};

// The cache's elements as the host reads them: the rows of the value cache [B, H, S, D] at
// positions [0, n) of sequence b, head h, as doubles.
std::vector<double> cached_values(const KvCache &cache, int64_t b, int64_t h, int64_t n) {
    const Tensor host = cache.values.to(Device::cpu);
    const int64_t H = host.dim(1), S = host.dim(2), D = host.dim(3);
    std::vector<double> out;
    for (int64_t i = 0; i < n * D; i++) {
        const int64_t at = ((b * H + h) * S) * D + i;
        if (host.dtype() == DType::bf16) {
            const uint32_t bits = uint32_t(host.data_u16()[at]) << 16;
            float x;
            std::memcpy(&x, &bits, sizeof x);
            out.push_back(x);
        } else {
            out.push_back(host.data()[at]);
        }
    }
    return out;
}

// Prefill of T tokens into an empty cache, then `steps` decode steps, each checked.
void expect_prefill_then_decode(Device device, CacheStorage storage, int64_t B, int64_t T, int64_t H, int64_t D,
                                int64_t steps) {
    SCOPED_TRACE(fmt::format("B={} T={} H={} D={} steps={} cache {}", B, T, H, D, steps, cache_storage_name(storage)));
    const double scale = 1.0 / std::sqrt(double(D));
    KvCache cache = KvCache::empty(B, H, D, T + steps + 5, device, storage);
    HostCache host(B, H, D, storage);
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
    // The values stored are exactly the inputs, rounded as the storage says (the keys go through
    // the same rounding, in the transposed cache).
    const std::vector<double> stored = cached_values(cache, B - 1, H - 1, lengths.back());
    for (int64_t j = 0; j < lengths.back(); j++) {
        for (int64_t d = 0; d < D; d++) {
            ASSERT_EQ(stored[static_cast<size_t>(j * D + d)],
                      host.values[static_cast<size_t>(B - 1)][static_cast<size_t>(j)][static_cast<size_t>((H - 1) * D + d)])
                << "position " << j << ", feature " << d;
        }
    }
}

TEST_P(AttentionOnDevice, AttentionMatchesReference) {
    expect_prefill_then_decode(device(), storage(), 1, 5, 2, 16, 3);
    expect_prefill_then_decode(device(), storage(), 2, 37, 3, 64, 2);
    expect_prefill_then_decode(device(), storage(), 1, 300, 2, 128, 2);  // three chunks of keys, the last partial
    expect_prefill_then_decode(device(), storage(), 3, 1, 1, 8, 4);      // one-token prompts
}

// Sequences at different positions: each appends at its own place and sees its own keys.
TEST_P(AttentionOnDevice, SequencesOfDifferentLengths) {
    const int64_t B = 3, H = 2, D = 32;
    const double scale = 0.2;
    KvCache cache = KvCache::empty(B, H, D, 400, device(), storage());
    HostCache host(B, H, D, storage());
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
    TransformerState whole = model.new_state(1, 20, storage());
    Tensor at_once = to_host(model.forward(prompt, 1, T, whole));
    TransformerState steps = model.new_state(1, 20, storage());
    Tensor last;
    for (int32_t token : prompt) last = to_host(model.forward({token}, 1, 1, steps));
    EXPECT_LE(relative_error(at_once, last), 1e-5);
    EXPECT_EQ(whole.lengths, std::vector<int64_t>{T});
    // Two sequences in one batch: the second alone gives its row.
    std::vector<int32_t> both = prompt;
    both.insert(both.end(), prompt.rbegin(), prompt.rend());
    TransformerState batch = model.new_state(2, 20, storage()), alone = model.new_state(1, 20, storage());
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
    EXPECT_NE(message([&] { KvCache::bytes_for(1, 2, 8, 0, CacheStorage::f32); }).find("at least 1"), std::string::npos);
    EXPECT_EQ(KvCache::bytes_for(2, 3, 8, 5, CacheStorage::bf16), 2u * 3 * 8 * 5 * 2 * 2);
}

// A Transformer state larger than the free memory is refused, naming every layer's caches, before
// any of them is made: one layer's caches (a 32nd of the free memory) fit, 64 layers' do not.
TEST(Attention, TransformerStateThatDoesNotFitIsRefusedWhole) {
    TransformerConfig config;
    config.layers = 64, config.embed_dim = 64, config.heads = 2, config.ffn_dim = 8, config.vocab_size = 8;
    const TransformerModel model = TransformerModel::random(config, 7, Device::cpu);
    const uint64_t position = KvCache::bytes_for(1, config.heads, config.head_dim(), 1, CacheStorage::f32);
    const int64_t capacity = static_cast<int64_t>(available_memory_bytes() / position / 32 + 1);
    try {
        model.new_state(1, capacity, CacheStorage::f32);
        ADD_FAILURE() << "a state larger than the free memory was made";
    } catch (const Error &e) {
        EXPECT_NE(std::string(e.what()).find("KV caches of 64 layers"), std::string::npos) << e.what();
    }
}

// bfloat16's rounding: ties go to the even neighbour, either way; a cache of float16 is refused.
TEST(Attention, BfloatRoundingOfTheReference) {
    EXPECT_EQ(nearest_bfloat16(1.0f + 1.0f / 256), 1.0f);                     // a tie, to the even 1.0
    EXPECT_EQ(nearest_bfloat16(1.0f + 3.0f / 256), 1.0f + 4.0f / 256);        // a tie, up to the even one
    EXPECT_EQ(nearest_bfloat16(-(1.0f + 1.5f / 256)), -(1.0f + 2.0f / 256));  // nearer the one away from zero
    EXPECT_EQ(nearest_bfloat16(0.0f), 0.0f);
}

TEST(Attention, RefusesCachesOfOtherElementTypes) {
    KvCache cache = KvCache::empty(1, 1, 8, 4, Device::cpu, CacheStorage::bf16);
    EXPECT_EQ(cache.memory_bytes(), 2 * 8 * 4 * 2);
    cache.values = Tensor::zeros({1, 1, 4, 8});  // keys bfloat16, values float32
    Tensor q = Tensor::zeros({1, 1, 1, 8}), o = Tensor::empty({1, 1, 1, 8});
    try {
        attention(q, cache, {1}, 1.0f, o);
        ADD_FAILURE() << "no error";
    } catch (const Error &e) {
        EXPECT_NE(std::string(e.what()).find("one element type"), std::string::npos) << e.what();
    }
    EXPECT_THROW(parse_cache_storage("f16", "--cache"), Error);
}

std::string storage_test_name(const ::testing::TestParamInfo<std::tuple<Device, CacheStorage>> &info) {
    return std::string(device_name(std::get<0>(info.param))) + "_" + cache_storage_name(std::get<1>(info.param));
}

INSTANTIATE_TEST_SUITE_P(Devices, AttentionOnDevice,
                         ::testing::Combine(::testing::ValuesIn(all_devices()),
                                            ::testing::Values(CacheStorage::f32, CacheStorage::bf16)),
                         storage_test_name);

}  // namespace
}  // namespace retnet::test
