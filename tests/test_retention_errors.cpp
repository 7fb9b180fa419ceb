// Bad input raises retnet::Error naming the input, what was expected and what came; the process
// never aborts. Halide's own errors arrive as retnet::Error too.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "halide_bridge.h"
#include "retention_parallel_cpu.h"
#include "retnet/error.h"
#include "retnet/layers.h"
#include "retnet/retention.h"
#include "test_support.h"

namespace retnet::test {
namespace {

// Expects `call` to throw retnet::Error whose message contains every one of `fragments`.
template<typename Call>
void expect_error(Call &&call, std::initializer_list<const char *> fragments) {
    try {
        call();
        ADD_FAILURE() << "expected retnet::Error";
    } catch (const Error &e) {
        std::string message = e.what();
        for (const char *fragment : fragments) {
            EXPECT_NE(message.find(fragment), std::string::npos) << "message: " << message << "\nmissing: " << fragment;
        }
    }
}

struct Inputs {
    Tensor q = random_tensor({2, 10, 3, 8}), k = random_tensor({2, 10, 3, 8}), v = random_tensor({2, 10, 3, 16});
    Tensor o = poisoned({2, 10, 3, 16});
    Tensor state = random_tensor({2, 3, 8, 16});
};

TEST(RetentionErrors, MismatchedShapes) {
    Inputs in;
    Tensor bad_k = random_tensor({2, 10, 3, 9});
    expect_error([&] { retention_chunkwise(in.q, bad_k, in.v, in.o, 64); },
                 {"retention_chunkwise: k", "[2, 10, 3, 8]", "[2, 10, 3, 9]"});
    Tensor bad_v = random_tensor({2, 11, 3, 16});
    expect_error([&] { retention_parallel(in.q, in.k, bad_v, in.o); }, {"retention_parallel: v", "[2, 11, 3, 16]"});
    Tensor bad_o = poisoned({2, 10, 3, 15});
    expect_error([&] { retention_recurrent(in.q, in.k, in.v, bad_o); }, {"retention_recurrent: o", "[2, 10, 3, 16]", "[2, 10, 3, 15]"});
    Tensor bad_state = random_tensor({2, 3, 16, 8});
    expect_error([&] { retention_chunkwise(in.q, in.k, in.v, in.o, 64, {}, &bad_state); },
                 {"initial_state", "[2, 3, 8, 16]", "[2, 3, 16, 8]"});
    expect_error([&] { retention_parallel(in.q, in.k, in.v, in.o, {}, nullptr, &bad_state); }, {"final_state", "[2, 3, 16, 8]"});
    Tensor rank3 = random_tensor({2, 10, 24});
    expect_error([&] { retention_parallel(rank3, in.k, in.v, in.o); }, {"retention_parallel: q", "4 dimensions", "[2, 10, 24]"});
    expect_error([&] { retention_parallel(Tensor(), in.k, in.v, in.o); }, {"retention_parallel: q", "undefined"});
}

TEST(RetentionErrors, HeadDimsOutOfRange) {
    Tensor q = random_tensor({1, 4, 1, 257}), v = random_tensor({1, 4, 1, 8});
    Tensor o = poisoned({1, 4, 1, 8});
    expect_error([&] { retention_parallel(q, q, v, o); }, {"key dimension K", "1 to 256", "257"});
    Tensor q8 = random_tensor({1, 4, 1, 8}), v_big = random_tensor({1, 4, 1, 513}), o_big = poisoned({1, 4, 1, 513});
    expect_error([&] { retention_recurrent(q8, q8, v_big, o_big); }, {"value dimension V", "1 to 512", "513"});
    Tensor q0 = random_tensor({1, 4, 1, 0});
    expect_error([&] { retention_chunkwise(q0, q0, v, o, 64); }, {"key dimension K", "got 0"});
}

TEST(RetentionErrors, EmptyBatchOrSequence) {
    Tensor q = random_tensor({1, 0, 2, 8}), v = random_tensor({1, 0, 2, 8}), o = poisoned({1, 0, 2, 8});
    expect_error([&] { retention_chunkwise(q, q, v, o, 64); }, {"sequence length T", "got 0"});
    Tensor qb = random_tensor({0, 4, 2, 8}), vb = random_tensor({0, 4, 2, 8}), ob = poisoned({0, 4, 2, 8});
    expect_error([&] { retention_parallel(qb, qb, vb, ob); }, {"batch size B", "got 0"});
    Tensor q1 = random_tensor({0, 2, 8}), v1 = random_tensor({0, 2, 8}), s1 = random_tensor({0, 2, 8, 8}), o1 = poisoned({0, 2, 8});
    expect_error([&] { retention_decode_step(q1, q1, v1, s1, o1); }, {"retention_decode_step", "batch size B", "got 0"});
}

TEST(RetentionErrors, DecayOutsideOpenUnitInterval) {
    Inputs in;
    for (double bad : {0.0, 1.0, -0.5, 1.5, std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity()}) {
        RetentionOptions options;
        options.decay = {0.9, bad, 0.9};
        expect_error([&] { retention_chunkwise(in.q, in.k, in.v, in.o, 64, options); }, {"decay[1]", "(0, 1)"});
    }
    RetentionOptions wrong_count;
    wrong_count.decay = {0.9, 0.9};
    expect_error([&] { retention_parallel(in.q, in.k, in.v, in.o, wrong_count); }, {"decay", "expected 3 values", "got 2"});
    RetentionOptions bad_scale;
    bad_scale.scale = std::numeric_limits<double>::infinity();
    expect_error([&] { retention_recurrent(in.q, in.k, in.v, in.o, bad_scale); }, {"scale", "finite"});
}

TEST(RetentionErrors, UnsupportedChunk) {
    Inputs in;
    expect_error([&] { retention_chunkwise(in.q, in.k, in.v, in.o, 48); }, {"chunk", "16, 32, 64, 128, 256, 512", "got 48"});
    expect_error([] { parse_form("sideways"); }, {"form", "sideways"});
}

TEST(RetentionErrors, DecodeStepShapes) {
    Tensor q = random_tensor({2, 3, 8}), v = random_tensor({2, 3, 16}), o = poisoned({2, 3, 16});
    Tensor state = random_tensor({2, 3, 8, 15});
    expect_error([&] { retention_decode_step(q, q, v, state, o); }, {"retention_decode_step: state", "[2, 3, 8, 16]", "[2, 3, 8, 15]"});
}

TEST(RetentionErrors, RotatedDecodeStepShapes) {
    Tensor q = random_tensor({2, 3, 8}), v = random_tensor({2, 3, 16}), o = poisoned({2, 3, 16});
    Tensor state = random_tensor({2, 3, 8, 16});
    RotationTables tables{random_tensor({2, 1, 4}), random_tensor({2, 1, 4})};
    RotationTables wrong_batch{random_tensor({1, 1, 4}), random_tensor({1, 1, 4})};
    expect_error([&] { retention_decode_step_rotated(q, q, wrong_batch, 1.0f, v, state, o); },
                 {"retention_decode_step_rotated: cos", "[2, 1, 4]", "[1, 1, 4]"});
    Tensor odd = random_tensor({2, 3, 7}), odd_state = random_tensor({2, 3, 7, 16});
    expect_error([&] { retention_decode_step_rotated(odd, odd, tables, 1.0f, v, odd_state, o); },
                 {"retention_decode_step_rotated", "key dimension K", "even", "got 7"});
}

TEST(RetentionErrors, HalideErrorsBecomeExceptions) {
    // The runtime validates before Halide does, so call a generated kernel directly with a key
    // buffer shorter than the queries: Halide's bounds check fires, its handler records the
    // message, and the bridge turns the status into retnet::Error.
    Tensor q = random_tensor({1, 10, 1, 8}), k = random_tensor({1, 5, 1, 8}), v = random_tensor({1, 10, 1, 8});
    Tensor s = random_tensor({1, 1, 8, 8}), sf = poisoned({1, 1, 8, 8}), o = poisoned({1, 10, 1, 8});
    std::vector<float> log_decay{-0.1f};
    detail::KernelBuffer hq(q, "q"), hk(k, "k"), hv(v, "v"), hs(s, "s"), hsf(sf, "sf"), ho(o, "o"), hd(log_decay);
    expect_error([&] {
        detail::run_kernel("retention_parallel_cpu", [&] {
            return retention_parallel_cpu(hq, hk, hv, hd, 1.0f, true, hs, ho, hsf);
        });
    },
                 {"retention_parallel_cpu", "Halide status", "k"});
}

TEST(RetentionErrors, MissingDeviceIsNamed) {
    // A device with no driver or hardware here: allocating on it fails with its name and why.
    for (Device d : {Device::cuda, Device::opencl}) {
        if (why_unavailable(d).empty()) continue;
        expect_error([&] { Tensor::empty({2, 3}, d); }, {device_name(d)});
    }
}

TEST(RetentionErrors, MixedDevicesAreRefused) {
    for (Device d : {Device::opencl, Device::cuda}) {
        if (!why_unavailable(d).empty()) continue;
        Inputs in;
        Tensor k_on_device = in.k.to(d);
        expect_error([&] { retention_chunkwise(in.q, k_on_device, in.v, in.o, 64); },
                     {"retention_chunkwise", "k is on", device_name(d), "q is on cpu"});
        return;
    }
    GTEST_SKIP() << "no GPU device here to mix with the CPU";
}

TEST(RetentionErrors, TensorsBeyond32BitIndexing) {
    // Too large for the kernels' 32-bit indexing: refused with a clear message, not a crash.
    Tensor huge = Tensor::view(reinterpret_cast<float *>(16), {1, int64_t(1) << 23, 1, 256});
    Tensor v = Tensor::view(reinterpret_cast<float *>(16), {1, int64_t(1) << 23, 1, 256});
    Tensor o = Tensor::view(reinterpret_cast<float *>(16), {1, int64_t(1) << 23, 1, 256});
    expect_error([&] { retention_chunkwise(huge, huge, v, o, 64); }, {"2^31"});
}

}  // namespace
}  // namespace retnet::test
