// The `retnet` command as a user meets it: bad flags and files end in one line on stderr naming
// the input and exit status 1 (never an abort), and a failed output leaves nothing behind.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <cstdlib>

#include <fmt/format.h>

#include "model_fixtures.h"
#include "scratch_dir.h"

namespace retnet::test {
namespace {

struct Outcome {
    int status = -1;  // the exit status, or 128 + signal
    std::string err;
};

class Cli : public ScratchDir {
protected:
    // Runs `retnet ARGS` in the scratch directory through sh (so `prefix` can set limits).
    Outcome run(const std::string &args, const std::string &prefix = "") {
        const std::string command = fmt::format("cd '{}' && {} exec '{}' {} >out.log 2>err.log", dir_.string(), prefix,
                                                RETNET_CLI, args);
        const int raw = std::system(command.c_str());
        Outcome o;
        o.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : 128 + WTERMSIG(raw);
        const std::vector<char> err = read_bytes(path("err.log"));
        o.err.assign(err.begin(), err.end());
        fs::remove(path("out.log"));
        fs::remove(path("err.log"));
        return o;
    }
    // Exit status 1 and a message naming each of `parts`.
    void expect_refused(const std::string &args, std::initializer_list<std::string> parts, const std::string &prefix = "") {
        const Outcome o = run(args, prefix);
        EXPECT_EQ(o.status, 1) << args << "\n" << o.err;
        for (const std::string &part : parts) EXPECT_NE(o.err.find(part), std::string::npos) << args << "\n" << o.err;
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

}  // namespace
}  // namespace retnet::test
