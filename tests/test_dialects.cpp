// The checkpoint dialects (retnet/model_config.h, runtime/src/checkpoint_dialects.cpp): which one a
// config is, what each refuses by name, fla's grouped-query heads, sharded files and syncdoth's
// buffers. (Every form of every dialect against the float64 reference: test_model.cpp.)
#include <gtest/gtest.h>

#include <cmath>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "model_fixtures.h"
#include "retnet/model.h"
#include "retnet/safetensors.h"
#include "scratch_dir.h"

namespace retnet::test {
namespace {

using nlohmann::json;

json fixture_config(const std::string &name) {
    std::ifstream in(test_data_dir() + "/models/" + name + "/config.json");
    return json::parse(in);
}

ModelConfig parse(const json &j) { return ModelConfig::from_json_text(j.dump(), "config.json"); }

TEST(Dialects, EachFixtureIsToldApartByItsConfig) {
    EXPECT_EQ(parse(fixture_config("tiny_swish")).dialect, Dialect::torchscale);
    EXPECT_EQ(parse(fixture_config("syncdoth_tiny")).dialect, Dialect::syncdoth);
    EXPECT_EQ(parse(fixture_config("syncdoth_lm_decay_bf16")).dialect, Dialect::syncdoth);
    EXPECT_EQ(parse(fixture_config("fla_tiny")).dialect, Dialect::fla);
    EXPECT_EQ(parse(fixture_config("fla_legacy_sharded")).dialect, Dialect::fla);
}

TEST(Dialects, FlaHubOnePointThreeBillionSizes) {
    // fla-hub/retnet-1.3B-100B's config.json (its published fields).
    const json j = json::parse(R"({"architectures": ["RetNetForCausalLM"], "attn_mode": "fused_chunk", "bos_token_id": 1,
        "conv_size": 4, "elementwise_affine": true, "eos_token_id": 2, "expand_k": 1, "expand_v": 2, "feature_map": null,
        "fuse_cross_entropy": true, "fuse_norm": true, "hidden_act": "swish", "hidden_ratio": 2, "hidden_size": 2048,
        "initializer_range": 0.02, "intermediate_size": null, "max_position_embeddings": 2048, "model_type": "retnet",
        "norm_eps": 1e-06, "num_heads": 8, "num_hidden_layers": 24, "num_kv_heads": null, "rms_norm_eps": 1e-06,
        "share_conv_kernel": true, "tie_word_embeddings": false, "torch_dtype": "bfloat16", "use_cache": true,
        "use_output_gate": true, "use_short_conv": false, "vocab_size": 32000})");
    const ModelConfig c = parse(j);
    EXPECT_EQ(c.key_dim(), 256);
    EXPECT_EQ(c.value_dim(), 512);
    EXPECT_EQ(c.ffn_dim, 2816);                  // 256 * ceil(int(2048 * 2 * 2/3) / 256)
    EXPECT_EQ(c.parameter_count(), 1351727104);  // the 267 tensors of its model.safetensors
    EXPECT_EQ(c.bos_id, 1);
    EXPECT_EQ(c.eos_id, 2);
    // fla's rotation: theta_i = 10000^(-2i/K).
    EXPECT_FLOAT_EQ(c.rotation_angles()[1], std::pow(10000.0f, -2.0f / 256.0f));
}

TEST(Dialects, WhatIsNotRunIsRefusedByName) {
    struct Case {
        std::string fixture, field;
        json value;
        std::vector<std::string> parts;
    };
    const std::vector<Case> cases{
        {"fla_tiny", "feature_map", "elu", {"feature_map", "\"elu\""}},
        {"fla_tiny", "attn", json{{"layers", {1}}, {"num_heads", 4}}, {"attn", "hybrid"}},
        {"fla_tiny", "use_output_gate", false, {"use_output_gate"}},
        {"fla_tiny", "hidden_act", "gelu", {"hidden_act", "gelu"}},
        {"fla_tiny", "num_kv_heads", 3, {"num_kv_heads", "3"}},
        {"fla_tiny", "decoder_embed_dim", 32, {"hidden_size", "decoder_embed_dim"}},
        {"fla_tiny", "model_type", "llama", {"model_type", "llama"}},
        {"syncdoth_tiny", "use_glu", false, {"use_glu"}},
        {"syncdoth_tiny", "deepnorm", true, {"deepnorm", "post-norm"}},
        {"syncdoth_tiny", "use_rms_norm", false, {"use_rms_norm", "XATL"}},
        {"syncdoth_tiny", "activation_fn", "relu", {"activation_fn", "relu"}},
        // Bounded before anything is sized per head (use_lm_decay computes a decay for each).
        {"syncdoth_lm_decay_bf16", "decoder_retention_heads", int64_t(1) << 40, {"decoder_retention_heads"}},
    };
    for (const Case &c : cases) {
        json j = fixture_config(c.fixture);
        j[c.field] = c.value;
        SCOPED_TRACE(c.fixture + " " + c.field);
        std::vector<std::string> parts = c.parts;
        parts.push_back("config.json");
        try {
            parse(j);
            ADD_FAILURE() << "accepted";
        } catch (const Error &e) {
            for (const std::string &part : parts) EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
        }
    }
}

// Copies a fixture into the scratch directory, then lets the test change it.
class DialectFiles : public ScratchDir {
protected:
    std::string copy_fixture(const std::string &name) {
        const std::string to = path(name);
        fs::copy(test_data_dir() + "/models/" + name, to);
        return to;
    }
    // Rewrites DIR/FILE (F32) after `edit` has changed its tensors.
    template<typename Edit>
    void rewrite(const std::string &file, Edit edit) {
        const SafetensorsFile f = SafetensorsFile::open(file);
        std::map<std::string, Tensor> tensors;
        for (const auto &[name, entry] : f.entries()) tensors.emplace(name, f.read(name));
        edit(tensors);
        std::vector<std::pair<std::string, Tensor>> list(tensors.begin(), tensors.end());
        write_safetensors(file, list);
    }
};

TEST_F(DialectFiles, GroupedQueryHeadsReadTheirKvHeadInFlaOrder) {
    // fla_tiny has 4 heads. As a grouped checkpoint with 2 kv heads storing heads 0 and 2, query
    // heads 0 and 1 read kv head 0, heads 2 and 3 kv head 1: the same model as the full one whose
    // k and v heads are [0, 0, 2, 2].
    const std::string grouped = copy_fixture("fla_tiny"), full = path("full");
    fs::copy(grouped, full);
    const ModelConfig c = ModelConfig::load(grouped + "/config.json");
    const int64_t K = c.key_dim(), V = c.value_dim(), D = c.embed_dim;
    auto heads = [&](const Tensor &w, int64_t rows, std::vector<int64_t> pick) {
        Tensor out = Tensor::empty({static_cast<int64_t>(pick.size()) * rows, D});
        for (size_t i = 0; i < pick.size(); i++) {
            std::copy(w.data() + pick[i] * rows * D, w.data() + (pick[i] + 1) * rows * D, out.data() + int64_t(i) * rows * D);
        }
        return out;
    };
    for (const auto &[dir, pick] : {std::pair{grouped, std::vector<int64_t>{0, 2}}, std::pair{full, std::vector<int64_t>{0, 0, 2, 2}}}) {
        rewrite(dir + "/model.safetensors", [&, pick = pick](std::map<std::string, Tensor> &t) {
            for (int64_t l = 0; l < c.layers; l++) {
                for (const auto &[name, rows] : {std::pair{"k_proj", K}, std::pair{"v_proj", V}}) {
                    Tensor &w = t.at(fmt::format("model.layers.{}.attn.{}.weight", l, name));
                    w = heads(w, rows, pick);
                }
            }
        });
    }
    json j = fixture_config("fla_tiny");
    j["num_kv_heads"] = 2;
    std::ofstream(grouped + "/config.json") << j.dump();
    const GoldenModel g = load_golden("fla_tiny");
    const int64_t T = static_cast<int64_t>(g.tokens.size());
    const Model a = Model::load(grouped), b = Model::load(full);
    DecodeState sa = a.new_state(1), sb = b.new_state(1);
    const Tensor la = a.forward(g.tokens, 1, T, sa), lb = b.forward(g.tokens, 1, T, sb);
    EXPECT_EQ(relative_error(la, lb), 0.0);
    EXPECT_GT(relative_error(la, g.logits.reshape({1, T, c.vocab_size})), 1e-3);  // the k/v change mattered
}

TEST_F(DialectFiles, ShardIndexesAreCheckedAgainstTheShards) {
    const std::string dir = copy_fixture("fla_legacy_sharded");
    const std::string index_path = dir + "/model.safetensors.index.json";
    json index = json::parse(std::ifstream(index_path));
    auto with_index = [&](const json &changed) { std::ofstream(index_path) << changed.dump(); };
    json outside = index;
    outside["weight_map"]["lm_head.weight"] = "../model-00003-of-00003.safetensors";
    with_index(outside);
    expect_error([&] { Model::load(dir); }, {"model.safetensors.index.json", "lm_head.weight", "file name"});
    json moved = index;
    moved["weight_map"]["lm_head.weight"] = "model-00001-of-00003.safetensors";
    with_index(moved);
    expect_error([&] { Model::load(dir); }, {"lm_head.weight", "model-00003-of-00003.safetensors", "index"});
    with_index(index);
    fs::remove(dir + "/model-00002-of-00003.safetensors");
    expect_error([&] { Model::load(dir); }, {"model-00002-of-00003.safetensors", "cannot open"});
}

TEST_F(DialectFiles, MissingTensorsAreNamedInTheCheckpointsOwnNames) {
    const std::string dir = copy_fixture("fla_tiny");
    rewrite(dir + "/model.safetensors", [](std::map<std::string, Tensor> &t) {
        t.erase("lm_head.weight");
        t.erase("model.layers.1.attn.g_norm_swish_gate.weight");
        t.emplace("model.layers.0.attn.extra.weight", Tensor::zeros({2}));
    });
    expect_error([&] { Model::load(dir); }, {"missing 2", "lm_head.weight", "model.layers.1.attn.g_norm_swish_gate.weight"});
}

TEST_F(DialectFiles, SyncdothBuffersMustAgreeWithTheConfig) {
    const std::string dir = copy_fixture("syncdoth_tiny");
    rewrite(dir + "/model.safetensors", [](std::map<std::string, Tensor> &t) {
        t.at("model.retnet_rel_pos.decay").data()[1] *= 2;  // another decay than the config's
    });
    expect_error([&] { Model::load(dir); }, {"model.retnet_rel_pos.decay", "element 1", "use_lm_decay"});
}

TEST_F(DialectFiles, PickleCheckpointsAreRefusedWithTheReason) {
    const std::string dir = copy_fixture("syncdoth_tiny");
    fs::remove(dir + "/model.safetensors");
    std::ofstream(dir + "/pytorch_model.bin") << "not read";
    expect_error([&] { Model::load(dir); }, {"no model.safetensors", "pickle", "convert"});
}

}  // namespace
}  // namespace retnet::test
