// `retnet-tune` (also `retnet tune`): searches the schedule parameters of the CPU kernels at the
// bench shapes and writes the winners to the tuning database, which the build turns into tuned
// kernel variants (cmake/TunedKernels.cmake).
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <memory>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "harness.h"
#include "isolate.h"
#include "retnet/device.h"
#include "retnet/error.h"
#include "search.h"
#include "tuning_db.h"

namespace retnet::tune {
namespace {

constexpr const char *kToolVersion = "retnet-tune 1";

struct TuneOptions {
    std::string kernel = "all";
    std::string target = "cpu";
    std::vector<std::string> shapes;  // buckets to tune; empty: all
    SearchOptions search;
    TimingOptions timing;
    double timeout_s = 180;
    std::string db;  // default: schedules/tuned/<target>.json
    std::string journal_dir = RETNET_SOURCE_DIR "/build/tune-journal";
    bool adams = true;
};

std::string today() {
    std::time_t t = std::time(nullptr);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%d", std::gmtime(&t));
    return buf;
}

// Evaluations of earlier (interrupted) runs, one JSON line each, so a rerun resumes.
class Journal {
public:
    Journal(const std::string &dir, const Problem &p, const std::string &target) {
        std::filesystem::create_directories(dir);
        std::string name = fmt::format("{}-{}-{:x}.jsonl", p.kernel, p.bucket, std::hash<std::string>{}(target + p.shape));
        path_ = (std::filesystem::path(dir) / name).string();
        std::ifstream in(path_);
        for (std::string line; std::getline(in, line);) {
            try {
                auto j = nlohmann::json::parse(line);
                // Only measurements are reused: a failure may have come from an older build.
                if (j.contains("ms")) known[j.at("key").get<std::string>()] = Evaluation{j["ms"].get<double>(), ""};
            } catch (const std::exception &) {  // a line cut by the interruption
            }
        }
    }
    void append(const std::string &key, const Evaluation &e) {
        nlohmann::json j{{"key", key}};
        if (e.ms) j["ms"] = *e.ms;
        if (!e.why.empty()) j["why"] = e.why;
        std::ofstream(path_, std::ios::app) << j.dump() << "\n";
    }
    std::map<std::string, Evaluation> known;

private:
    std::string path_;
};

void progress(int done, int total, double elapsed, const std::string &label) {
    const int width = 30, filled = total ? width * done / total : width;
    const double eta = done ? elapsed / done * (total - done) : 0;
    std::fflush(stdout);
    fmt::print(stderr, "\r  [{}{}] {}/{} {}  ETA {}:{:02d}   ", std::string(filled, '#'), std::string(width - filled, '.'),
               done, total, label, static_cast<int>(eta) / 60, static_cast<int>(eta) % 60);
}

struct Row {
    std::string kernel, bucket, shape, params, adams;
    double default_ms, tuned_ms;
};

void run_tune(const TuneOptions &o) {
    if (o.target != "cpu") {
        // The candidates run on the device: say so now rather than discard every one of them.
        std::string why;
        if (!device_available(parse_device(o.target), &why)) throw Error(fmt::format("--target {}: {}", o.target, why));
    }
    const std::string target = target_string(o.target);
    std::string db_path = o.db.empty() ? std::string(RETNET_SOURCE_DIR) + "/schedules/tuned/" + o.target + ".json" : o.db;
    std::vector<TuningRecord> db = read_tuning_db(db_path);
    std::vector<Row> rows;
    fmt::print("retnet tune: target {}; database {}\n", target, db_path);
    for (Problem &p : problems(o.kernel, o.target)) {
        if (!o.shapes.empty() && std::find(o.shapes.begin(), o.shapes.end(), p.bucket) == o.shapes.end()) continue;
        fmt::print("{} [{}] {}: {} candidates in the space\n", p.kernel, p.bucket, p.shape, p.space.size());
        p.prepare();  // inputs and reference, shared by every candidate's child
        Journal journal(o.journal_dir, p, target);
        const size_t resumed = journal.known.size();
        if (resumed) fmt::print("  resuming: {} candidates already measured\n", resumed);
        const auto start = std::chrono::steady_clock::now();
        int done = 0;
        const int budget = std::min<int>(o.search.max_evaluations, static_cast<int>(p.space.size()));
        auto evaluate = [&](const Candidate &c) {
            progress(done, budget, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(),
                     candidate_key(c));
            Evaluation e = run_isolated([&] { return p.run(c, false, o.timing); }, o.timeout_s);
            journal.append(candidate_key(c), e);
            done++;
            if (!e.ms) fmt::print(stderr, "\n  discarded {}: {}\n", candidate_key(c), e.why);
            return e;
        };
        SearchOptions so = o.search;
        so.max_evaluations = budget;
        SearchResult r = search(p.space, evaluate, so, journal.known);
        progress(done, done, 0, "done");
        fmt::print(stderr, "\n");
        // Confirm side by side: the default and the best, alternately, three times each.
        double default_ms = 1e300, best_ms = 1e300;
        for (int round = 0; round < 3; round++) {
            if (auto e = run_isolated([&] { return p.run(p.space.defaults, false, o.timing); }, o.timeout_s); e.ms) default_ms = std::min(default_ms, *e.ms);
            if (auto e = run_isolated([&] { return p.run(r.best, false, o.timing); }, o.timeout_s); e.ms) best_ms = std::min(best_ms, *e.ms);
        }
        Candidate chosen = r.best;
        if (chosen == p.space.defaults || !(best_ms < 0.98 * default_ms)) {  // within noise: keep the default
            chosen = p.space.defaults;
            best_ms = default_ms = std::min(best_ms, default_ms);
        }
        std::string adams = "-";
        if (o.adams && o.target == "cpu") {
            Evaluation e = run_isolated([&] { return p.run({}, true, o.timing); }, o.timeout_s);
            adams = e.ms ? fmt::format("{:.3f}", *e.ms) : "failed: " + e.why.substr(0, 60);
        }
        TuningRecord rec{p.kernel, p.generator, p.fixed, target, p.bucket, p.shape, chosen, best_ms, default_ms, today(),
                         kToolVersion};
        upsert(db, rec);
        write_tuning_db(db_path, db);
        rows.push_back({p.kernel, p.bucket, p.shape, candidate_key(chosen), adams, default_ms, best_ms});
        fmt::print("  default {:.3f} ms, tuned {:.3f} ms ({}), Adams2019 {} ms; {} new evaluations\n", default_ms, best_ms,
                   candidate_key(chosen), adams, r.evaluated);
    }
    fmt::print("\n| kernel | bucket | shape | default ms | tuned ms | Adams2019 ms | tuned parameters |\n|---|---|---|---|---|---|---|\n");
    for (const Row &r : rows) {
        fmt::print("| {} | {} | {} | {:.3f} | {:.3f} | {} | {} |\n", r.kernel, r.bucket, r.shape, r.default_ms, r.tuned_ms,
                   r.adams, r.params);
    }
    fmt::print("\nwrote {}; reconfigure (cmake -S . -B build) to build the tuned variants\n", db_path);
}

}  // namespace
}  // namespace retnet::tune

int main(int argc, char **argv) {
    using namespace retnet::tune;
    auto o = std::make_shared<TuneOptions>();
    CLI::App app{"retnet tune: search the kernels' schedule parameters and record the winners"};
    app.add_option("--kernel", o->kernel, "all, or one of: " + fmt::format("{}", fmt::join(tunable_kernels(), ", ")))->capture_default_str();
    app.add_option("--target", o->target, "cpu, cuda or opencl (GPU targets need the device here)")->capture_default_str();
    app.add_option("--shapes", o->shapes, "shape buckets to tune (default: all), e.g. T_gt_1024 rows_le_4 B_le_8");
    app.add_option("--budget", o->search.max_evaluations, "candidates measured per kernel and bucket")->capture_default_str();
    app.add_option("--random", o->search.random_samples, "random samples before the local search")->capture_default_str();
    app.add_option("--seed", o->search.seed, "random seed of the search")->capture_default_str();
    app.add_option("--repeats", o->timing.repeats, "timed calls per candidate (median)")->capture_default_str();
    app.add_option("--timeout", o->timeout_s, "seconds allowed per candidate (compile and run)")->capture_default_str();
    app.add_option("--db", o->db, "tuning database to update (default: schedules/tuned/<target>.json)");
    app.add_option("--journal-dir", o->journal_dir, "where evaluations are journaled (an interrupted run resumes)")->capture_default_str();
    app.add_flag("!--no-adams", o->adams, "skip the Adams2019 autoscheduler baseline");
    try {
        app.parse(argc, argv);
        run_tune(*o);
    } catch (const CLI::ParseError &e) {
        return app.exit(e);
    } catch (const retnet::Error &e) {
        fmt::print(stderr, "retnet tune: error: {}\n", e.what());
        return 1;
    }
    return 0;
}
