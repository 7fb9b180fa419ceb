// Hostile and careless inputs to the runtime's readers and writers: each case here once aborted
// the process, exhausted memory or invoked undefined behaviour; now each is a retnet::Error that
// names the input, and a failed write leaves nothing behind.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <limits>

#include <nlohmann/json.hpp>

#include "model_fixtures.h"
#include "retnet/checked.h"
#include "retnet/files.h"
#include "retnet/model.h"
#include "retnet/npy.h"
#include "retnet/safetensors.h"
#include "scratch_dir.h"
#include "token_file.h"

namespace retnet::test {
namespace {

using nlohmann::json;
using Robustness = ScratchDir;

json small_config() {
    return {{"decoder_embed_dim", 8}, {"decoder_value_embed_dim", 8}, {"decoder_retention_heads", 2}, {"decoder_ffn_embed_dim", 8}, {"decoder_layers", 1}, {"vocab_size", 16}, {"activation_fn", "swish"}};
}

// A .npy file with the given header text (version 1) and `data_bytes` bytes after it.
void write_npy_raw(const std::string &p, std::string header, size_t data_bytes) {
    header.push_back('\n');
    std::vector<char> bytes{'\x93', 'N', 'U', 'M', 'P', 'Y', 1, 0, static_cast<char>(header.size() & 0xff),
                            static_cast<char>(header.size() >> 8)};
    bytes.insert(bytes.end(), header.begin(), header.end());
    bytes.resize(bytes.size() + data_bytes, 0);
    std::ofstream(p, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

TEST_F(Robustness, SafetensorsShapeWhoseByteCountOverflowsIsRefused) {
    // [2^62] float32 is 2^64 bytes: once wrapped to 0 and matched data_offsets [0, 0].
    write_raw(path("w.safetensors"), R"({"x":{"dtype":"F32","shape":[4611686018427387904],"data_offsets":[0,0]}})", 0);
    expect_error([&] { SafetensorsFile::open(path("w.safetensors")); }, {"w.safetensors", "tensor 'x'", "overflows"});
    write_raw(path("w2.safetensors"), R"({"x":{"dtype":"F16","shape":[4294967296,4294967296],"data_offsets":[0,0]}})", 0);
    expect_error([&] { SafetensorsFile::open(path("w2.safetensors")); }, {"tensor 'x'", "overflows"});
}

TEST_F(Robustness, SafetensorsWithTooManyDimensionsIsRefused) {
    write_raw(path("w.safetensors"), R"({"x":{"dtype":"F32","shape":[1,1,1,1,1,1,1,1,1],"data_offsets":[0,4]}})", 4);
    expect_error([&] { SafetensorsFile::open(path("w.safetensors")); }, {"tensor 'x'", "at most 8 dimensions", "got 9"});
}

TEST_F(Robustness, ZeroElementTensorReadsAsEmpty) {
    write_raw(path("w.safetensors"), R"({"z":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}})", 0);
    const SafetensorsFile f = SafetensorsFile::open(path("w.safetensors"));
    EXPECT_EQ(f.read("z").numel(), 0);  // once memcpy(dst, nullptr, 0): undefined behaviour
}

TEST_F(Robustness, WeightsFileThatIsADirectoryIsNamed) {
    std::ofstream(path("config.json")) << small_config().dump();
    fs::create_directory(path("model.safetensors"));
    expect_error([&] { Model::load(dir_.string()); }, {"model.safetensors", "regular file", "directory"});
}

TEST_F(Robustness, ConfigThatIsADirectoryIsNamed) {
    fs::create_directory(path("config.json"));
    expect_error([&] { Model::load(dir_.string()); }, {"config.json", "directory"});
}

TEST(RobustConfig, HugeLayerCountsAreRefusedBeforeAnythingIsSized) {
    json c = small_config();
    c["decoder_layers"] = 1000000000;
    expect_error([&] { ModelConfig::from_json_text(c.dump(), "cfg"); }, {"cfg", "decoder_layers", "at most 1024", "1000000000"});
    for (const char *field : {"decoder_embed_dim", "decoder_value_embed_dim", "decoder_ffn_embed_dim"}) {
        json wide = small_config();
        wide[field] = int64_t(1) << 40;
        expect_error([&] { ModelConfig::from_json_text(wide.dump(), "cfg"); }, {field, "at most"});
    }
}

TEST(RobustConfig, ParameterCountOverflowIsAnError) {
    ModelConfig c = ModelConfig::from_json_text(small_config().dump(), "cfg");
    c.layers = int64_t(1) << 62;  // bench-model's --layers once reached here unchecked
    expect_error([&] { c.parameter_count(); }, {"parameter count", "overflows"});
}

TEST(RobustConfig, AModelLargerThanMemoryIsRefusedByName) {
    ModelConfig c = ModelConfig::from_json_text(small_config().dump(), "cfg");
    c.layers = 1024;
    c.embed_dim = c.value_embed_dim = 1 << 16;
    c.heads = 256;
    c.ffn_dim = 1 << 20;  // ~3 x 10^14 parameters
    expect_error([&] { Model::random(c, 1); }, {"Model::random", "more than this machine's"});
}

TEST(RobustConfig, AbsurdEpsilonIsRefused) {
    json c = small_config();
    c["layernorm_eps"] = 1e300;
    expect_error([&] { ModelConfig::from_json_text(c.dump(), "cfg"); }, {"layernorm_eps", "[0, 1]"});
}

TEST_F(Robustness, NonFiniteWeightsAreRefusedByName) {
    const ModelConfig config = ModelConfig::from_json_text(small_config().dump(), "cfg");
    std::vector<std::pair<std::string, Tensor>> tensors;
    for (const auto &[name, shape] : Model::checkpoint_layout(config)) tensors.emplace_back(name, Tensor::full(shape, 0.5f));
    tensors[3].second.data()[5] = std::numeric_limits<float>::quiet_NaN();
    std::ofstream(path("config.json")) << small_config().dump();
    write_safetensors(path("model.safetensors"), tensors);
    expect_error([&] { Model::load(dir_.string()); }, {"model.safetensors", tensors[3].first, "element 5", "finite"});
}

TEST_F(Robustness, NpyHeadersThatOnceCrashedTheReader) {
    // A 60 KB header: std::regex recursed per character and overflowed the stack.
    write_npy_raw(path("long.npy"), "{'descr': '<f4', 'fortran_order': False, 'shape': (" + std::string(60000, ' ') + "2,), }", 8);
    EXPECT_EQ(read_npy(path("long.npy")).numel(), 2);
    std::string many = "{'descr': '<f4', 'fortran_order': False, 'shape': (";
    for (int i = 0; i < 9000; i++) many += "1, ";
    write_npy_raw(path("many.npy"), many + "), }", 4);
    expect_error([&] { read_npy(path("many.npy")); }, {"many.npy", "more than 8 dimensions"});
    // A 20-digit dimension: std::stoll threw std::out_of_range.
    write_npy_raw(path("digits.npy"), "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }", 4);
    expect_error([&] { read_npy(path("digits.npy")); }, {"digits.npy", "too large"});
    // (2^40,): allocated 4 TiB before looking at the file's size.
    write_npy_raw(path("huge.npy"), "{'descr': '<f4', 'fortran_order': False, 'shape': (1099511627776,), }", 4);
    expect_error([&] { read_npy(path("huge.npy")); }, {"huge.npy", "truncated", "4398046511104 bytes"});
    // Dimensions whose product overflows.
    write_npy_raw(path("wrap.npy"), "{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296), }", 0);
    expect_error([&] { read_npy(path("wrap.npy")); }, {"wrap.npy", "overflows"});
    write_npy_raw(path("key.npy"), "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'extra': 1}", 4);
    expect_error([&] { read_npy(path("key.npy")); }, {"key.npy", "unexpected key 'extra'"});
}

TEST_F(Robustness, TokenFilesAcceptOnlyPlainDigits) {
    std::ofstream(path("plus.txt")) << "1 +2";
    expect_error([&] { apps::read_token_file(path("plus.txt")); }, {"plus.txt", "token 1 ('+2')"});
    std::ofstream(path("big.txt")) << "2147483648";
    expect_error([&] { apps::read_token_file(path("big.txt")); }, {"token 0", "below 2^31"});
    fs::create_directory(path("dir.txt"));
    expect_error([&] { apps::read_token_file(path("dir.txt")); }, {"dir.txt", "directory"});
}

TEST_F(Robustness, AFailedWriteKeepsTheOldFileAndLeavesNoPartialOne) {
    const Tensor old = random_tensor({3, 2});
    write_npy(path("out.npy"), old);
    const std::vector<char> before = read_bytes(path("out.npy"));
    // The child writes 256 KB under a 4 KB file-size limit: the write fails with EFBIG.
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        signal(SIGXFSZ, SIG_IGN);
        const rlimit limit{4096, 4096};
        setrlimit(RLIMIT_FSIZE, &limit);
        try {
            write_npy(path("out.npy"), Tensor::full({256, 256}, 1.0f));
            _exit(0);
        } catch (const Error &e) {
            _exit(std::string(e.what()).find("out.npy") != std::string::npos ? 3 : 4);
        } catch (...) {
            _exit(5);
        }
    }
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 3) << "expected a retnet::Error naming out.npy";
    EXPECT_EQ(read_bytes(path("out.npy")), before);
    int files = 0;
    for (const auto &entry : fs::directory_iterator(dir_)) files += entry.path().filename() != "out.npy";
    EXPECT_EQ(files, 0) << "a partial file was left behind";
}

TEST_F(Robustness, OutputsIntoMissingFoldersAreRefusedUpFront) {
    expect_error([&] { AtomicOutputFile out(path("no/such/dir/x.npy"), "--out"); }, {"--out", "does not exist"});
    expect_error([&] { AtomicOutputFile out(dir_.string(), "--out"); }, {"--out", "is a directory"});
}

TEST(RobustArithmetic, CheckedOperationsRefuseOverflow) {
    EXPECT_EQ(checked_mul(int64_t(3), int64_t(4), "x"), 12);
    expect_error([&] { checked_mul(INT64_MAX, int64_t(2), "what"); }, {"what", "overflows"});
    expect_error([&] { checked_add(UINT64_MAX, uint64_t(1), "sum"); }, {"sum", "overflows"});
    expect_error([&] { require_fits_in_memory(UINT64_MAX, "thing"); }, {"thing", "more than this machine's"});
}

TEST(RobustArithmetic, AvailableMemoryIsBoundedByPhysicalAndRefusesByName) {
    const uint64_t available = available_memory_bytes(), physical = physical_memory_bytes();
    EXPECT_GT(available, 0u);
    EXPECT_LE(available, physical);
    require_available_memory(1 << 20, "a megabyte");
    expect_error([&] { require_available_memory(physical + 1, "cache"); }, {"cache", "of memory free now"});
}

}  // namespace
}  // namespace retnet::test
