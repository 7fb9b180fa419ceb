// Files a model comes from: config.json, .safetensors, .npy and token files. Every bad input is a
// retnet::Error naming the file and the field or tensor; a corrupt or truncated file never
// crashes the process.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>

#include <nlohmann/json.hpp>

#include "model_fixtures.h"
#include "scratch_dir.h"
#include "retnet/error.h"
#include "retnet/model.h"
#include "retnet/npy.h"
#include "retnet/safetensors.h"
#include "test_support.h"
#include "token_file.h"

namespace retnet::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

json valid_config() {
    return {{"decoder_embed_dim", 32}, {"decoder_value_embed_dim", 64}, {"decoder_retention_heads", 2}, {"decoder_ffn_embed_dim", 48}, {"decoder_layers", 2}, {"vocab_size", 50}, {"activation_fn", "swish"}};
}

ModelConfig parse(const json &j) { return ModelConfig::from_json_text(j.dump(), "config.json"); }

TEST(ModelConfig, ReadsTorchscaleFields) {
    json j = valid_config();
    j["deepnorm"] = true;
    j["no_scale_embedding"] = false;
    j["share_decoder_input_output_embed"] = true;
    j["layernorm_eps"] = 1e-5;
    j["dropout"] = 0.1;  // training-only fields are ignored
    ModelConfig c = parse(j);
    EXPECT_EQ(c.key_dim(), 16);
    EXPECT_EQ(c.value_dim(), 32);
    EXPECT_DOUBLE_EQ(c.residual_alpha(), std::pow(4.0, 0.25));
    EXPECT_DOUBLE_EQ(c.embed_scale(), std::sqrt(32.0));
    EXPECT_TRUE(c.tied_embeddings);
    EXPECT_EQ(c.activation, Activation::swish);
    EXPECT_EQ(parse(json::parse(c.to_json_text())).value_embed_dim, 64);  // round trip
    json defaults = valid_config();
    defaults.erase("activation_fn");
    EXPECT_EQ(parse(defaults).activation, Activation::gelu);  // torchscale's default
}

TEST(ModelConfig, RefusesBadAndUnsupportedFields) {
    auto with = [](const char *field, json value) {
        json j = valid_config();
        j[field] = value;
        return j;
    };
    // torchscale's own default config: 1280 value dims over 3 heads.
    expect_error([&] { parse(with("decoder_retention_heads", 3)); }, {"config.json", "decoder_embed_dim", "32", "3"});
    expect_error([&] { parse(with("decoder_value_embed_dim", 63)); }, {"decoder_value_embed_dim", "63"});
    expect_error([&] { parse(with("decoder_retention_heads", 32)); }, {"even key dimension"});  // K = 1
    expect_error([&] { parse(with("decoder_value_embed_dim", 2048)); }, {"at most 512"});
    expect_error([&] { parse(with("activation_fn", "relu")); }, {"activation_fn", "relu"});
    expect_error([&] { parse(with("use_xmoe", true)); }, {"use_xmoe", "not supported"});
    expect_error([&] { parse(with("moe_freq", 2)); }, {"moe_freq"});
    expect_error([&] { parse(with("multiway", true)); }, {"multiway"});
    expect_error([&] { parse(with("decoder_normalize_before", false)); }, {"decoder_normalize_before", "post-norm"});
    expect_error([&] { parse(with("no_output_layer", true)); }, {"no_output_layer"});
    expect_error([&] { parse(with("decoder_layers", 0)); }, {"decoder_layers", "positive"});
    expect_error([&] { parse(with("vocab_size", "50")); }, {"vocab_size", "integer", "\"50\""});
    expect_error([&] { parse(with("layernorm_eps", -1.0)); }, {"layernorm_eps"});
    json missing = valid_config();
    missing.erase("decoder_layers");
    expect_error([&] { parse(missing); }, {"decoder_layers", "missing"});
    expect_error([] { ModelConfig::from_json_text("{\"decoder_embed_dim\": 3", "c.json"); }, {"c.json", "not valid JSON"});
    expect_error([] { ModelConfig::from_json_text("[1, 2]", "c.json"); }, {"c.json", "JSON object"});
    expect_error([] { ModelConfig::load("/nonexistent/config.json"); }, {"/nonexistent/config.json", "cannot open"});
}

using Safetensors = ScratchDir;

TEST_F(Safetensors, RoundTripAndHalfConversions) {
    Tensor a = random_tensor({3, 5}), b = random_tensor({7});
    write_safetensors(path("w.safetensors"), {{"a", a}, {"b", b}});
    SafetensorsFile f = SafetensorsFile::open(path("w.safetensors"));
    EXPECT_EQ(f.entries().size(), 2u);
    EXPECT_EQ(relative_error(f.read("a", {3, 5}), a), 0.0);
    EXPECT_EQ(relative_error(f.read("b"), b), 0.0);
    EXPECT_EQ(half_to_float(0x3c00), 1.0f);
    EXPECT_EQ(half_to_float(0xc000), -2.0f);
    EXPECT_EQ(half_to_float(0x0001), std::ldexp(1.0f, -24));  // smallest subnormal
    EXPECT_EQ(half_to_float(0x7bff), 65504.0f);
    EXPECT_TRUE(std::isinf(half_to_float(0x7c00)));
    EXPECT_EQ(bfloat16_to_float(0x3f80), 1.0f);
    EXPECT_EQ(bfloat16_to_float(0xc040), -3.0f);
}

TEST_F(Safetensors, BadHeadersAreErrorsNamingTheProblem) {
    const std::string p = path("bad.safetensors");
    auto open = [&] { SafetensorsFile::open(p); };
    write_bytes(p, {1, 2, 3});
    expect_error(open, {p, "shorter than the 8-byte header length"});
    write_raw(p, "{}", 0);
    std::vector<char> bytes = read_bytes(p);
    bytes[0] = 100;  // header longer than the file
    write_bytes(p, bytes);
    expect_error(open, {p, "header length 100 does not fit"});
    write_raw(p, "{\"a\": {\"dtype\": \"F32\"", 0);
    expect_error(open, {"not valid JSON"});
    write_raw(p, R"({"a": {"dtype": "I64", "shape": [1], "data_offsets": [0, 8]}})", 8);
    expect_error(open, {"tensor 'a'", "dtype", "I64"});
    write_raw(p, R"({"a": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 12]}})", 16);
    expect_error(open, {"tensor 'a'", "hold 12 bytes", "needs 16"});
    write_raw(p, R"({"a": {"dtype": "F32", "shape": [4], "data_offsets": [8, 24]}})", 16);
    expect_error(open, {"tensor 'a'", "outside the file's 16 bytes"});
    write_raw(p, R"({"a": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}})", 4);
    expect_error(open, {"tensor 'a'", "shape"});
    write_raw(p, R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0]}})", 4);
    expect_error(open, {"tensor 'a'", "data_offsets"});
    write_raw(p, R"({"a": 5})", 0);
    expect_error(open, {"tensor 'a'", "expected an object"});
    expect_error([&] { SafetensorsFile::open(path("absent.safetensors")); }, {"cannot open"});
}

// Every truncation of a real checkpoint, and random byte corruptions of its header: always a
// clean error (or, for corruptions that keep it valid, a file that still opens).
TEST_F(Safetensors, TruncatedOrCorruptFilesNeverCrash) {
    const std::string source = test_data_dir() + "/models/odd_dims_f16/model.safetensors";
    const std::vector<char> good = read_bytes(source);
    const std::string p = path("cut.safetensors");
    for (size_t size = 0; size < good.size(); size += (size < 600 ? 1 : 997)) {
        write_bytes(p, std::vector<char>(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(size)));
        EXPECT_THROW(SafetensorsFile::open(p), Error) << "truncated to " << size << " bytes";
    }
    std::mt19937 rng(static_cast<uint32_t>(test_seed()));
    uint64_t header_size = 0;
    for (int i = 7; i >= 0; i--) header_size = (header_size << 8) | static_cast<unsigned char>(good[static_cast<size_t>(i)]);
    for (int trial = 0; trial < 300; trial++) {
        std::vector<char> bytes = good;
        std::uniform_int_distribution<size_t> where(0, 8 + header_size - 1);
        for (int flips = 0; flips < 3; flips++) bytes[where(rng)] = static_cast<char>(rng());
        write_bytes(p, bytes);
        try {
            SafetensorsFile f = SafetensorsFile::open(p);
            for (const auto &[name, entry] : f.entries()) f.read(name);
        } catch (const Error &) {
        }
    }
}

using ModelFiles = ScratchDir;

// A copy of the golden tiny model with some tensors changed.
void write_model(const std::string &dir, const json &config, const std::map<std::string, Tensor> &tensors) {
    std::ofstream(dir + "/config.json") << config.dump();
    std::vector<std::pair<std::string, Tensor>> list(tensors.begin(), tensors.end());
    write_safetensors(dir + "/model.safetensors", list);
}

std::map<std::string, Tensor> golden_tensors(const std::string &name) {
    SafetensorsFile f = SafetensorsFile::open(test_data_dir() + "/models/" + name + "/model.safetensors");
    std::map<std::string, Tensor> tensors;
    for (const auto &[n, e] : f.entries()) tensors.emplace(n, f.read(n));
    return tensors;
}

TEST_F(ModelFiles, MissingUnexpectedAndMisshapenTensorsAreNamed) {
    const std::string dir = dir_.string();
    const json config = json::parse(std::ifstream(test_data_dir() + "/models/tiny_swish/config.json"));
    auto tensors = golden_tensors("tiny_swish");
    write_model(dir, config, tensors);
    EXPECT_NO_THROW(Model::load(dir));

    auto missing = tensors;
    missing.erase("layers.1.ffn.gate.weight");
    missing.erase("layer_norm.weight");
    write_model(dir, config, missing);
    expect_error([&] { Model::load(dir); }, {"missing 2 tensor(s)", "layers.1.ffn.gate.weight", "layer_norm.weight"});

    auto extra = tensors;
    extra["layers.2.ffn.gate.weight"] = random_tensor({2});
    write_model(dir, config, extra);
    expect_error([&] { Model::load(dir); }, {"unexpected tensor(s)", "layers.2.ffn.gate.weight"});

    auto misshapen = tensors;
    misshapen["layers.0.retention.v_proj.weight"] = random_tensor({64, 31});
    write_model(dir, config, misshapen);
    expect_error([&] { Model::load(dir); }, {"layers.0.retention.v_proj.weight", "[64, 32]", "[64, 31]"});

    json bad = config;
    bad["decoder_retention_heads"] = 5;
    write_model(dir, bad, tensors);
    expect_error([&] { Model::load(dir); }, {"config.json", "decoder_embed_dim"});
    expect_error([&] { Model::load(dir + "/nowhere"); }, {"model directory not found"});
}

TEST_F(ModelFiles, TiedModelsMayCarryTheOutputCopy) {
    const std::string dir = dir_.string();
    const json config = json::parse(std::ifstream(test_data_dir() + "/models/gelu_deepnorm_tied/config.json"));
    auto tensors = golden_tensors("gelu_deepnorm_tied");
    tensors["output_projection.weight"] = tensors.at("embed_tokens.weight");  // torchscale saves the tied copy
    write_model(dir, config, tensors);
    EXPECT_NO_THROW(Model::load(dir));
}

TEST_F(ModelFiles, NpyRoundTripAndErrors) {
    Tensor t = random_tensor({4, 3, 2});
    write_npy(path("a.npy"), t);
    Tensor back = read_npy(path("a.npy"));
    EXPECT_EQ(back.shape(), t.shape());
    EXPECT_EQ(relative_error(back, t), 0.0);
    std::vector<char> bytes = read_bytes(path("a.npy"));
    EXPECT_EQ(bytes.size() % 64, (4 * 3 * 2 * 4) % 64);  // header padded to 64 bytes
    bytes.resize(bytes.size() - 5);
    write_bytes(path("cut.npy"), bytes);
    expect_error([&] { read_npy(path("cut.npy")); }, {"truncated"});
    write_bytes(path("junk.npy"), {'h', 'i'});
    expect_error([&] { read_npy(path("junk.npy")); }, {"not a version 1 or 2 .npy file"});
}

TEST_F(ModelFiles, TokenFiles) {
    std::ofstream(path("ok.txt")) << "1 2\n3\t4\n";
    EXPECT_EQ(apps::read_token_file(path("ok.txt")), (std::vector<int32_t>{1, 2, 3, 4}));
    std::ofstream(path("bad.txt")) << "1 2 x3";
    expect_error([&] { apps::read_token_file(path("bad.txt")); }, {"token 2 ('x3')"});
    std::ofstream(path("neg.txt")) << "-4";
    expect_error([&] { apps::read_token_file(path("neg.txt")); }, {"token 0 ('-4')"});
    std::ofstream(path("empty.txt")) << "  \n";
    expect_error([&] { apps::read_token_file(path("empty.txt")); }, {"found none"});
}

}  // namespace
}  // namespace retnet::test
