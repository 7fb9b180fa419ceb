// The tuner's search and its database (apps/tune): a tiny search must find a known best without
// trying every candidate; a resumed search reuses what was measured; the database reads back what
// was written, and a malformed one is an error naming the problem.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "retnet/error.h"
#include "search.h"
#include "test_support.h"
#include "tuning_db.h"

namespace retnet::test {
namespace {

using tune::Candidate;
using tune::Evaluation;

// A smooth bowl with its minimum at a = 6, b = 3 over a 12 x 8 grid, and a hole of failures.
tune::SearchSpace bowl_space() {
    tune::SearchSpace s;
    s.params = {{"a", {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}}, {"b", {1, 2, 3, 4, 5, 6, 7, 8}}};
    s.defaults = {{"a", 2}, {"b", 7}};
    return s;
}

Evaluation bowl(const Candidate &c) {
    const int a = c.at("a"), b = c.at("b");
    if (a == 4 && b == 4) return {std::nullopt, "wrong result"};  // discarded, not chosen
    return {1.0 + (a - 6) * (a - 6) + 2.0 * (b - 3) * (b - 3), ""};
}

TEST(TuningSearch, FindsTheKnownBestWithoutTryingEverything) {
    std::map<std::string, Evaluation> known;
    int calls = 0;
    tune::SearchOptions options;
    options.random_samples = 4;
    options.max_evaluations = 40;
    auto r = tune::search(
        bowl_space(), [&](const Candidate &c) { calls++; return bowl(c); }, options, known);
    EXPECT_EQ(r.best, (Candidate{{"a", 6}, {"b", 3}}));
    EXPECT_DOUBLE_EQ(r.best_ms, 1.0);
    EXPECT_LT(calls, 96);  // fewer than the whole grid
    EXPECT_EQ(r.evaluated, calls);
}

TEST(TuningSearch, ResumesFromKnownEvaluations) {
    std::map<std::string, Evaluation> known;
    tune::SearchOptions options;
    auto first = tune::search(bowl_space(), bowl, options, known);
    int calls = 0;
    auto again = tune::search(
        bowl_space(), [&](const Candidate &c) { calls++; return bowl(c); }, options, known);
    EXPECT_EQ(calls, 0);  // everything it needs was measured before
    EXPECT_EQ(again.best, first.best);
}

TEST(TuningSearch, EveryCandidateFailingIsAnError) {
    std::map<std::string, Evaluation> known;
    EXPECT_THROW(tune::search(
                     bowl_space(), [](const Candidate &) { return Evaluation{std::nullopt, "no"}; }, {}, known),
                 Error);
}

class TuningDb : public ::testing::Test {
protected:
    std::string path_ = (std::filesystem::temp_directory_path() / ("retnet_tuning_" + std::to_string(test_seed()) + ".json")).string();
    void TearDown() override { std::filesystem::remove(path_); }
    void write(const std::string &text) { std::ofstream(path_) << text; }
};

TEST_F(TuningDb, RoundTripAndUpsert) {
    EXPECT_TRUE(tune::read_tuning_db(path_).empty());  // no file: no records
    tune::TuningRecord r{"retention_chunkwise_c64", "retention_chunkwise", {{"chunk", 64}}, "x86-64-linux-avx2", "T_gt_1024", "B1 T2048 H8 K64 V128", {{"tile_rows", 6}, {"tile_vectors", 2}}, 8.5, 9.25, "2026-11-29", "retnet-tune 1"};
    std::vector<tune::TuningRecord> db;
    tune::upsert(db, r);
    r.bucket = "T_le_1024";
    tune::upsert(db, r);
    r.time_ms = 7.0;
    tune::upsert(db, r);  // replaces the T_le_1024 record
    tune::write_tuning_db(path_, db);
    auto back = tune::read_tuning_db(path_);
    ASSERT_EQ(back.size(), 2u);
    EXPECT_EQ(back[0].params, (std::map<std::string, int>{{"tile_rows", 6}, {"tile_vectors", 2}}));
    EXPECT_EQ(back[0].fixed.at("chunk"), 64);
    EXPECT_DOUBLE_EQ(back[1].time_ms, 7.0);
    EXPECT_EQ(back[1].bucket, "T_le_1024");
}

TEST_F(TuningDb, MalformedFilesAreErrorsNamingTheProblem) {
    auto expect_error = [&](const std::string &text, const std::string &part) {
        write(text);
        try {
            tune::read_tuning_db(path_);
            ADD_FAILURE() << "expected an error for " << text;
        } catch (const Error &e) {
            EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
        }
    };
    expect_error("{\"version\": 1, \"records\": [", "not valid JSON");
    expect_error("{\"version\": 2, \"records\": []}", "expected {\"version\": 1");
    expect_error("{\"version\": 1, \"records\": [{\"kernel\": \"linear\"}]}", "records[0]: generator: missing");
    expect_error(R"({"version": 1, "records": [{"kernel": "linear", "generator": "linear", "fixed": {}, "target": "t",
        "bucket": "rows_gt_4", "shape": "s", "params": {"rows": "eight"}, "time_ms": 1, "default_ms": 1, "date": "d",
        "tool_version": "v"}]})",
                 "records[0]: params: wrong type");
    expect_error(R"({"version": 1, "records": [{"kernel": "linear", "generator": "linear", "fixed": {}, "target": "t",
        "bucket": "rows_gt_4", "shape": "s", "params": {}, "time_ms": -1, "default_ms": 1, "date": "d",
        "tool_version": "v"}]})",
                 "times must be positive");
}

}  // namespace
}  // namespace retnet::test
