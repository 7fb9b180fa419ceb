// Test helpers for files: a scratch directory per test, and expecting a retnet::Error whose
// message names what it should.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <string>
#include <vector>

#include "retnet/error.h"
#include "test_support.h"

namespace retnet::test {

namespace fs = std::filesystem;

// Expects `call` to throw retnet::Error whose message contains every one of `parts`.
template<typename Call>
void expect_error(Call &&call, std::initializer_list<std::string> parts) {
    try {
        call();
        ADD_FAILURE() << "expected an error containing '" << *parts.begin() << "'";
    } catch (const Error &e) {
        for (const std::string &part : parts) EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
    }
}

// A scratch directory per test, removed afterwards.
class ScratchDir : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() / ("retnet_test_" + std::to_string(test_seed()) + "_" +
                                            ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::create_directories(dir_);
    }
    void TearDown() override { fs::remove_all(dir_); }
    std::string path(const std::string &name) const { return (dir_ / name).string(); }

    static std::vector<char> read_bytes(const std::string &p) {
        std::ifstream in(p, std::ios::binary);
        return {std::istreambuf_iterator<char>(in), {}};
    }
    static void write_bytes(const std::string &p, const std::vector<char> &bytes) {
        std::ofstream out(p, std::ios::binary);
        out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    }
    // A safetensors file with the given raw header and `data_bytes` bytes of data.
    void write_raw(const std::string &p, const std::string &header, size_t data_bytes) {
        std::vector<char> bytes(8 + header.size() + data_bytes, 1);
        for (int i = 0; i < 8; i++) bytes[static_cast<size_t>(i)] = static_cast<char>(uint64_t(header.size()) >> (8 * i));
        std::copy(header.begin(), header.end(), bytes.begin() + 8);
        write_bytes(p, bytes);
    }

    fs::path dir_;
};

}  // namespace retnet::test
