// The whole model against the float64 golden logits, on every device and in every form; the forms
// against each other; prefill handing off to decoding; batches.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>

#include <fmt/format.h>

#include "device_test.h"
#include "model_fixtures.h"
#include "retnet/error.h"
#include "retnet/model.h"
#include "retnet/model_config.h"
#include "retnet/safetensors.h"
#include "test_support.h"

namespace retnet::test {
namespace {

// Rows [from, to) of logits [B, T, vocab] for sequence b, as a host tensor [to - from, vocab].
Tensor rows_of(const Tensor &logits, int64_t b, int64_t from, int64_t to) {
    Tensor host = to_host(logits);
    const int64_t T = host.dim(1), vocab = host.dim(2);
    Tensor out = Tensor::empty({to - from, vocab});
    std::copy(host.data() + (b * T + from) * vocab, host.data() + (b * T + to) * vocab, out.data());
    return out;
}

Tensor golden_rows(const GoldenModel &g, int64_t from, int64_t to) {
    const int64_t vocab = g.logits.dim(1);
    Tensor out = Tensor::empty({to - from, vocab});
    std::copy(g.logits.data() + from * vocab, g.logits.data() + to * vocab, out.data());
    return out;
}

// Two models that should compute the same function (one weight storage against another): their
// logits for `tokens`, chunkwise and recurrent, agree to float32 rounding.
void expect_same_logits(Model &a, Model &b, const std::vector<int32_t> &tokens) {
    const int64_t T = static_cast<int64_t>(tokens.size());
    for (Form form : {Form::chunkwise, Form::recurrent}) {
        DecodeState sa = a.new_state(1), sb = b.new_state(1);
        Tensor x = to_host(a.forward(tokens, 1, T, sa, form)), y = to_host(b.forward(tokens, 1, T, sb, form));
        EXPECT_LE(relative_error(x, y), 1e-5) << form_name(form);
    }
}

struct FormCase {
    Form form;
    int chunk;
};

class ModelOnDevice : public OnEveryDevice {};

TEST_P(ModelOnDevice, EveryFormMatchesGoldenLogits) {
    for (const std::string &name : golden_model_names()) {
        GoldenModel g = load_golden(name);
        Model model = Model::load(g.dir, device());
        const int64_t T = static_cast<int64_t>(g.tokens.size());
        for (FormCase c : {FormCase{Form::parallel, 0}, FormCase{Form::chunkwise, 16}, FormCase{Form::chunkwise, 64},
                           FormCase{Form::recurrent, 0}}) {
            SCOPED_TRACE(fmt::format("{} {} chunk {}", name, form_name(c.form), c.chunk));
            DecodeState state = model.new_state(1);
            Tensor logits = model.forward(g.tokens, 1, T, state, c.form, c.chunk);
            ASSERT_EQ(logits.shape(), (Shape{1, T, model.config().vocab_size}));
            EXPECT_LE(relative_error(logits.reshape(g.logits.shape()), g.logits), 1e-4);
            EXPECT_EQ(state.positions, std::vector<int64_t>{T});
        }
    }
}

// A checkpoint's bfloat16 or float16 weights kept 2 bytes (widened in registers) give the logits
// of the same weights widened to float32 at load, within float32 rounding.
TEST_P(ModelOnDevice, StoredPrecisionMatchesFloat32Storage) {
    for (const std::string &name : golden_model_names()) {
        SCOPED_TRACE(name);
        GoldenModel g = load_golden(name);
        Model kept = Model::load(g.dir, device()), widened = Model::load(g.dir, device(), WeightStorage::f32);
        // The fixtures stored in 2-byte formats say so in their names.
        const bool bf16 = name.find("bf16") != std::string::npos;
        const bool f16 = !bf16 && name.find("f16") != std::string::npos;
        if ((bf16 && weight_storage_supported(WeightStorage::bf16, device())) ||
            (f16 && weight_storage_supported(WeightStorage::f16, device()))) {
            EXPECT_LT(kept.weight_bytes(), widened.weight_bytes());
        }
        expect_same_logits(kept, widened, g.tokens);
    }
}

// int8 storage of a model whose every matrix is already a multiple of its rows' int8 scale (the
// weights quantized and scaled back in float32 here): the quantization at load then keeps them
// (to float32 rounding), so the logits equal the float32 model's of the same weights.
TEST_P(ModelOnDevice, Int8StorageMatchesItsDequantizedWeights) {
    if (!weight_storage_supported(WeightStorage::int8, device())) GTEST_SKIP() << "no int8 kernels on this device";
    for (const std::string &name : {"tiny_swish", "gelu_deepnorm_tied"}) {
        SCOPED_TRACE(name);
        GoldenModel g = load_golden(name);
        const ModelConfig config = ModelConfig::load(g.dir + "/config.json");
        const SafetensorsFile file = SafetensorsFile::open(g.dir + "/model.safetensors");
        std::map<std::string, Tensor> tensors;
        for (const auto &[tensor_name, entry] : file.entries()) {
            Tensor t = file.read(tensor_name);
            if (t.rank() == 2) t = int8_dequantized_rows(t);
            tensors.emplace(tensor_name, t);
        }
        Model q = Model::from_tensors(config, tensors, device(), name, WeightStorage::int8);
        Model f = Model::from_tensors(config, tensors, device(), name, WeightStorage::f32);
        EXPECT_LT(q.weight_bytes(), f.weight_bytes());
        expect_same_logits(q, f, g.tokens);
        const int64_t T = static_cast<int64_t>(g.tokens.size());
        // And the quantization is close to the original weights: the logits move a little.
        Model original = Model::load(g.dir, device(), WeightStorage::f32);
        DecodeState a = q.new_state(1), b = original.new_state(1);
        const double moved = relative_error(to_host(q.forward(g.tokens, 1, T, a, Form::chunkwise)),
                                            to_host(original.forward(g.tokens, 1, T, b, Form::chunkwise)));
        EXPECT_GT(moved, 0.0);
        EXPECT_LT(moved, 0.05);
    }
}

TEST_P(ModelOnDevice, FormsAgreeWithEachOther) {
    GoldenModel g = load_golden("tiny_swish");
    Model model = Model::load(g.dir, device());
    const int64_t T = static_cast<int64_t>(g.tokens.size());
    DecodeState sp = model.new_state(1), sc = model.new_state(1), sr = model.new_state(1);
    Tensor parallel = to_host(model.forward(g.tokens, 1, T, sp, Form::parallel));
    EXPECT_LE(relative_error(model.forward(g.tokens, 1, T, sc, Form::chunkwise, 32), parallel), 1e-5);
    EXPECT_LE(relative_error(model.forward(g.tokens, 1, T, sr, Form::recurrent), parallel), 1e-5);
    // The states they leave behind agree too, layer by layer.
    for (size_t l = 0; l < sp.layer_states.size(); l++) {
        Tensor p = to_host(sp.layer_states[l]);
        EXPECT_LE(relative_error(sc.layer_states[l], p), 1e-5) << "layer " << l;
        EXPECT_LE(relative_error(sr.layer_states[l], p), 1e-5) << "layer " << l;
    }
}

// A prompt prefilled in one form, then continued (decode steps, or another prefill): the logits
// equal the whole sequence's, so positions and states carried over correctly.
TEST_P(ModelOnDevice, PrefillHandsOffToDecoding) {
    for (const std::string &name : golden_model_names()) {
        GoldenModel g = load_golden(name);
        Model model = Model::load(g.dir, device());
        const int64_t T = static_cast<int64_t>(g.tokens.size()), P = T / 2 + 3;
        const std::vector<int32_t> prompt(g.tokens.begin(), g.tokens.begin() + P);
        for (Form prefill : {Form::parallel, Form::chunkwise}) {
            SCOPED_TRACE(fmt::format("{} prefill {}", name, form_name(prefill)));
            DecodeState state = model.new_state(1);
            Tensor first = model.forward(prompt, 1, P, state, prefill, 16);
            EXPECT_LE(relative_error(first.reshape({P, g.logits.dim(1)}), golden_rows(g, 0, P)), 1e-4);
            Tensor rest = Tensor::empty({T - P, g.logits.dim(1)});
            for (int64_t t = P; t < T; t++) {
                Tensor step = to_host(model.decode_step({g.tokens[static_cast<size_t>(t)]}, state));
                std::copy(step.data(), step.data() + step.numel(), rest.data() + (t - P) * step.numel());
            }
            EXPECT_LE(relative_error(rest, golden_rows(g, P, T)), 1e-4);
            EXPECT_EQ(state.positions, std::vector<int64_t>{T});
        }
        // Chunkwise prefill continued by a second chunkwise prefill, from a non-zero state.
        DecodeState state = model.new_state(1);
        model.forward(prompt, 1, P, state, Form::chunkwise, 16);
        const std::vector<int32_t> tail(g.tokens.begin() + P, g.tokens.end());
        Tensor second = model.forward(tail, 1, T - P, state, Form::parallel);
        EXPECT_LE(relative_error(second.reshape({T - P, g.logits.dim(1)}), golden_rows(g, P, T)), 1e-4) << name;
    }
}

// On CUDA a batch's decode steps after its first are replayed from one captured graph: the same
// logits as kernel by kernel, a new graph for another batch's state, and the positions kept.
TEST_P(ModelOnDevice, DecodeStepsReplayedFromACudaGraph) {
    if (device() != Device::cuda) {
        Model model = Model::load(load_golden("tiny_swish").dir, device());
        EXPECT_FALSE(model.decode_graph_status().replaying);
        GTEST_SKIP() << "CUDA graphs are CUDA's";
    }
    GoldenModel g = load_golden("gelu_deepnorm_tied");
    Model model = Model::load(g.dir, device());
    const int64_t T = static_cast<int64_t>(g.tokens.size()), vocab = g.logits.dim(1);
    std::vector<int32_t> other(g.tokens.rbegin(), g.tokens.rend());
    auto decode_all = [&](bool graphs) {
        model.set_cuda_graphs(graphs);
        DecodeState state = model.new_state(2);
        Tensor logits = Tensor::empty({2, T, vocab});
        for (int64_t t = 0; t < T; t++) {
            Tensor step = to_host(model.decode_step({g.tokens[static_cast<size_t>(t)], other[static_cast<size_t>(t)]}, state));
            for (int64_t b = 0; b < 2; b++) {
                std::copy(step.data() + b * vocab, step.data() + (b + 1) * vocab, logits.data() + (b * T + t) * vocab);
            }
        }
        EXPECT_EQ(state.positions, (std::vector<int64_t>{T, T}));
        return logits;
    };
    Tensor replayed = decode_all(true);
    const Model::DecodeGraphStatus status = model.decode_graph_status();
    EXPECT_TRUE(status.replaying) << status.note;
    EXPECT_GT(status.kernels, 4 * model.config().layers);
    EXPECT_LE(relative_error(rows_of(replayed.reshape({2, T, vocab}), 0, 0, T), g.logits), 1e-4);
    Tensor again = decode_all(true);  // a new state: captured anew
    EXPECT_TRUE(model.decode_graph_status().replaying);
    Tensor direct = decode_all(false);
    EXPECT_FALSE(model.decode_graph_status().replaying);
    EXPECT_LE(relative_error(replayed, direct), 1e-6);
    EXPECT_LE(relative_error(again, direct), 1e-6);
}

// Two different sequences in one batch give each one's own logits.
TEST_P(ModelOnDevice, BatchedSequencesAreIndependent) {
    GoldenModel g = load_golden("gelu_deepnorm_tied");
    Model model = Model::load(g.dir, device());
    const int64_t T = static_cast<int64_t>(g.tokens.size());
    std::vector<int32_t> other(g.tokens.rbegin(), g.tokens.rend());
    std::vector<int32_t> both = g.tokens;
    both.insert(both.end(), other.begin(), other.end());
    for (Form form : {Form::parallel, Form::chunkwise, Form::recurrent}) {
        SCOPED_TRACE(form_name(form));
        DecodeState batch_state = model.new_state(2), alone_state = model.new_state(1);
        Tensor batch = model.forward(both, 2, T, batch_state, form, 16);
        Tensor alone = model.forward(other, 1, T, alone_state, form, 16);
        EXPECT_LE(relative_error(rows_of(batch, 0, 0, T), g.logits), 1e-4);
        EXPECT_LE(relative_error(rows_of(batch, 1, 0, T), to_host(alone).reshape({T, g.logits.dim(1)})), 1e-5);
    }
}

TEST_P(ModelOnDevice, LastLogitsOnly) {
    GoldenModel g = load_golden("odd_dims_f16");
    Model model = Model::load(g.dir, device());
    const int64_t T = static_cast<int64_t>(g.tokens.size());
    for (Form form : {Form::parallel, Form::chunkwise, Form::recurrent}) {
        DecodeState state = model.new_state(1);
        Tensor last = model.forward(g.tokens, 1, T, state, form, 16, false);
        ASSERT_EQ(last.shape(), (Shape{1, 1, g.logits.dim(1)})) << form_name(form);
        EXPECT_LE(relative_error(last.reshape({1, g.logits.dim(1)}), golden_rows(g, T - 1, T)), 1e-4) << form_name(form);
    }
}

TEST(Model, BadTokensAndStatesAreErrors) {
    GoldenModel g = load_golden("tiny_swish");
    Model model = Model::load(g.dir);
    DecodeState state = model.new_state(1);
    try {
        model.forward({1, 2, 50, 3}, 1, 4, state);
        FAIL() << "expected an error";
    } catch (const Error &e) {
        EXPECT_NE(std::string(e.what()).find("id 50 (sequence 0, position 2) is outside the vocabulary [0, 50)"),
                  std::string::npos)
            << e.what();
    }
    EXPECT_THROW(model.forward({1, -1}, 1, 2, state), Error);
    EXPECT_THROW(model.forward({1, 2, 3}, 1, 2, state), Error);  // 3 ids for 1 x 2
    EXPECT_THROW(model.forward({1, 2}, 2, 1, state), Error);     // state for 1 sequence, batch 2
    EXPECT_THROW(model.decode_step({}, state), Error);
    EXPECT_THROW(model.forward({1, 2}, 1, 2, state, Form::chunkwise, 48), Error);  // no such chunk
    EXPECT_THROW(model.new_state(0), Error);
    EXPECT_EQ(state.positions, std::vector<int64_t>{0});  // nothing ran
}

TEST(Model, DecodeStateMemoryAndClone) {
    GoldenModel g = load_golden("tiny_swish");
    Model model = Model::load(g.dir);
    DecodeState state = model.new_state(3);
    // 2 layers x [3, 2 heads, 16, 32] floats.
    EXPECT_EQ(state.memory_bytes(), 2 * 3 * 2 * 16 * 32 * 4);
    model.forward(std::vector<int32_t>(6, 1), 3, 2, state);
    DecodeState copy = state.clone();
    model.decode_step({1, 2, 3}, state);
    EXPECT_EQ(copy.positions, (std::vector<int64_t>{2, 2, 2}));
    EXPECT_GT(relative_error(copy.layer_states[0], to_host(state.layer_states[0])), 1e-3);  // not shared
}

INSTANTIATE_TEST_SUITE_P(Devices, ModelOnDevice, ::testing::ValuesIn(all_devices()), device_test_name);

}  // namespace
}  // namespace retnet::test
