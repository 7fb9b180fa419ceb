// The `retnet` command as a user meets it: bad flags and files end in one line on stderr naming
// the input and exit status 1 (never an abort), and a failed output leaves nothing behind.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <cstdlib>

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "model_fixtures.h"
#include "retnet/model.h"
#include "retnet/npy.h"
#include "retnet/safetensors.h"
#include "retnet/tokenizer.h"
#include "scratch_dir.h"

namespace retnet::test {
namespace {

struct Outcome {
    int status = -1;  // the exit status, or 128 + signal
    std::string out, err;
};

class Cli : public ScratchDir {
protected:
    // Runs `retnet ARGS` in the scratch directory through sh (so `prefix` can set limits).
    Outcome run(const std::string &args, const std::string &prefix = "") {
        // RETNET_CLI_EMULATOR: empty, or what runs a cross-built `retnet` (qemu-aarch64).
        const std::string command = fmt::format("cd '{}' && {} exec {} '{}' {} >out.log 2>err.log", dir_.string(), prefix,
                                                RETNET_CLI_EMULATOR, RETNET_CLI, args);
        const int raw = std::system(command.c_str());
        Outcome o;
        o.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : 128 + WTERMSIG(raw);
        const std::vector<char> out = read_bytes(path("out.log")), err = read_bytes(path("err.log"));
        o.out.assign(out.begin(), out.end());
        o.err.assign(err.begin(), err.end());
        fs::remove(path("out.log"));
        fs::remove(path("err.log"));
        return o;
    }
    // Exit status 1 and a message naming each of `parts`.
    void expect_refused(const std::string &args, std::initializer_list<std::string> parts, const std::string &prefix = "") {
        const Outcome o = run(args, prefix);
        EXPECT_EQ(o.status, 1) << args << "\n"
                               << o.err;
        for (const std::string &part : parts) EXPECT_NE(o.err.find(part), std::string::npos) << args << "\n"
                                                                                             << o.err;
    }
    std::string golden_dir() const { return test_data_dir() + "/models/tiny_swish"; }
};

TEST_F(Cli, OutOfRangeAndMistypedNumbersAreRefused) {
    expect_refused("generate --max-tokens 18446744073709551617", {"--max-tokens", "18446744073709551617"});
    expect_refused("generate --max-tokens -1", {"--max-tokens"});
    expect_refused("generate --seed 18446744073709551616", {"--seed"});
    expect_refused("generate --top-k +2", {"--top-k", "+2"});
    expect_refused("bench-model --repeats 0", {"--repeats"});
    expect_refused("bench-model --layers 1000000000", {"--layers"});
    expect_refused("bench-model --layers 4611686018427387904", {"--layers"});
    expect_refused("perplexity --text x --window 1000000000", {"--window"});
}

TEST_F(Cli, DirectoriesGivenAsFilesAreNamed) {
    fs::create_directory(path("d"));
    expect_refused(fmt::format("perplexity --model {} --text d", golden_dir()), {"d: expected the text file", "directory"});
    expect_refused(fmt::format("logits --model {} --tokens d --out x.npy", golden_dir()), {"token file", "directory"});
}

TEST_F(Cli, AnUnwritableOutIsReportedBeforeTheModelRuns) {
    std::ofstream(path("t.txt")) << "1 2 3";
    // The model does not exist either: the --out error must come first.
    expect_refused("logits --model no_such_model --tokens t.txt --out no/such/folder/x.npy", {"--out", "does not exist"});
}

TEST_F(Cli, AFailedLogitsWriteKeepsTheOldFile) {
    std::ofstream(path("out.npy")) << "the previous, good file";
    const std::vector<char> before = read_bytes(path("out.npy"));
    // 1 KB file-size limit; the logits are 14 KB.
    expect_refused(fmt::format("logits --model {} --tokens {}/tokens.txt --out out.npy", golden_dir(), golden_dir()),
                   {"out.npy", "File too large"}, "ulimit -f 1;");
    EXPECT_EQ(read_bytes(path("out.npy")), before);
    for (const auto &entry : fs::directory_iterator(dir_)) EXPECT_EQ(entry.path().filename(), "out.npy");
}

TEST_F(Cli, AHostileCheckpointIsAnErrorNotAnAbort) {
    fs::create_directory(path("m"));
    fs::copy_file(golden_dir() + "/config.json", path("m/config.json"));
    write_raw(path("m/model.safetensors"), R"({"x":{"dtype":"F32","shape":[4611686018427387904],"data_offsets":[0,0]}})", 0);
    std::ofstream(path("t.txt")) << "1 2 3";
    expect_refused("logits --model m --tokens t.txt --out x.npy", {"model.safetensors", "tensor 'x'", "overflows"});
    EXPECT_FALSE(fs::exists(path("x.npy")));
}

TEST_F(Cli, PerplexityReportsProgressOnStderr) {
    std::ofstream(path("text.txt")) << std::string(3000, 'a');
    const Outcome o = run("perplexity --text text.txt --window 512 --progress-interval 0");
    EXPECT_EQ(o.status, 0) << o.err;
    EXPECT_NE(o.err.find("perplexity: 0.0 of 0.0 MB"), std::string::npos) << o.err;
    EXPECT_NE(o.err.find("KB/s"), std::string::npos) << o.err;
    EXPECT_NE(o.err.find("s left"), std::string::npos) << o.err;
}

// ---- text in, text out -----------------------------------------------------------------------

// A small random model in syncdoth's layout beside the SentencePiece fixture (3000 tokens, BOS 1).
// With `always_eos`, the final norm and the output projection are zero: every logit is 0 and greedy
// decoding picks id 0, which the config names as EOS.
void write_text_model(const std::string &dir, bool always_eos) {
    fs::create_directories(dir);
    nlohmann::json config{{"model_type", "retnet"}, {"decoder_embed_dim", 16}, {"decoder_value_embed_dim", 16}, {"decoder_retention_heads", 2}, {"decoder_ffn_embed_dim", 16}, {"decoder_layers", 1}, {"vocab_size", 3000}, {"activation_fn", "swish"}, {"bos_token_id", 1}, {"eos_token_id", always_eos ? 0 : 2}};
    std::ofstream(dir + "/config.json") << config.dump();
    const ModelConfig c = ModelConfig::from_json_text(config.dump(), "config");
    std::vector<std::pair<std::string, Tensor>> tensors;
    for (const auto &[name, shape] : Model::checkpoint_layout(c)) {
        const bool zero = always_eos && (name == "layer_norm.weight" || name == "output_projection.weight");
        Tensor t = zero ? Tensor::zeros(shape) : random_tensor(shape);
        tensors.emplace_back(name == "output_projection.weight" ? "lm_head.weight" : "model." + name, t);
    }
    write_safetensors(dir + "/model.safetensors", tensors);
    fs::copy_file(test_data_dir() + "/tokenizers/spm_bpe/tokenizer.model", dir + "/tokenizer.model");
}

using TextCli = Cli;

TEST_F(TextCli, TokenizeGivesTheReferenceIds) {
    write_text_model(path("m"), false);
    // python3-sentencepiece's ids for this text (tests/data/tokenizers/spm_bpe/expected_ids.json), BOS first.
    const Outcome o = run("tokenize --model m --text 'In the beginning God created the heaven and the earth.'");
    EXPECT_EQ(o.status, 0) << o.err;
    EXPECT_EQ(o.out, "1 824 261 2439 406 2125 287 261 797 271 261 673 2878\n");
    std::ofstream(path("ids.txt")) << "824 261 2439 406 2125 287 261 797 271 261 673 2878";
    const Outcome back = run("tokenize --model m --decode --tokens ids.txt");
    EXPECT_EQ(back.out, "In the beginning God created the heaven and the earth.\n") << back.err;
}

TEST_F(TextCli, GenerateStreamsTextFromATokenizedModel) {
    write_text_model(path("m"), false);
    const Outcome o = run("generate --model m --prompt 'In the beginning' -n 12 --temperature 0");
    ASSERT_EQ(o.status, 0) << o.err;
    EXPECT_EQ(o.out.rfind("In the beginning", 0), 0u) << o.out;
    EXPECT_TRUE(utf8::valid(o.out)) << o.out;
    EXPECT_NE(o.err.find("generated: 12 tokens"), std::string::npos) << o.err;
    EXPECT_NE(o.err.find("syncdoth layout, sentencepiece tokenizer"), std::string::npos) << o.err;
}

TEST_F(TextCli, GenerateStopsAtEndOfText) {
    write_text_model(path("m"), true);
    const Outcome o = run("generate --model m --prompt 'In the beginning' -n 8 --temperature 0");
    ASSERT_EQ(o.status, 0) << o.err;
    EXPECT_EQ(o.out, "In the beginning\n");
    EXPECT_NE(o.err.find("generated: 1 tokens"), std::string::npos) << o.err;
    const Outcome all = run("generate --model m --prompt 'In the beginning' -n 8 --temperature 0 --ignore-eos");
    EXPECT_NE(all.err.find("generated: 8 tokens"), std::string::npos) << all.err;
}

TEST_F(TextCli, LogitsOfATextEqualThoseOfItsTokens) {
    write_text_model(path("m"), false);
    const Outcome ids = run("tokenize --model m --text 'Hello world'");
    std::ofstream(path("ids.txt")) << ids.out;
    ASSERT_EQ(run("logits --model m --text 'Hello world' --out a.npy").status, 0);
    ASSERT_EQ(run("logits --model m --tokens ids.txt --out b.npy").status, 0);
    const Tensor a = read_npy(path("a.npy")), b = read_npy(path("b.npy"));
    EXPECT_EQ(a.shape(), (Shape{5, 3000}));
    EXPECT_EQ(relative_error(a, b), 0.0);
}

TEST_F(TextCli, PerplexityOfATokenizedModelReportsBytesAndTokens) {
    write_text_model(path("m"), false);
    std::ofstream(path("text.txt")) << "In the beginning God created the heaven and the earth.\nAnd the earth was without form.\n";
    const Outcome o = run("perplexity --model m --text text.txt --window 7");
    ASSERT_EQ(o.status, 0) << o.err;
    EXPECT_NE(o.out.find("bits per byte over"), std::string::npos) << o.out;
    EXPECT_NE(o.out.find("bits per token over"), std::string::npos) << o.out;
    EXPECT_NE(o.out.find("sentencepiece tokenizer"), std::string::npos) << o.out;
}

}  // namespace
}  // namespace retnet::test
