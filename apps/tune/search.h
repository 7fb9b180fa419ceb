// The search `retnet tune` runs over a kernel's schedule parameters: the default first, then random
// samples, then local search (one parameter moved to a neighbouring legal value at a time) from the
// best so far, until no neighbour improves or the evaluation budget is spent. Results already known
// (from an interrupted run's journal) are reused, not re-evaluated.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace retnet::tune {

using Candidate = std::map<std::string, int>;

struct SearchSpace {
    std::vector<std::pair<std::string, std::vector<int>>> params;  // name, legal values ascending
    Candidate defaults;
    int64_t size() const;
};

// One evaluation: a time in ms, or why the candidate was discarded (wrong result, failed or timed
// out compile).
struct Evaluation {
    std::optional<double> ms;
    std::string why;
};

struct SearchOptions {
    int random_samples = 8;
    int max_evaluations = 40;
    uint64_t seed = 1;
};

struct SearchResult {
    Candidate best;
    double best_ms = 0;
    int evaluated = 0;  // new evaluations (not from `known`)
};

std::string candidate_key(const Candidate &c);  // "a=1,b=2"

// `known` holds earlier evaluations by candidate_key and receives the new ones.
SearchResult search(const SearchSpace &space, const std::function<Evaluation(const Candidate &)> &evaluate,
                    const SearchOptions &options, std::map<std::string, Evaluation> &known);

}  // namespace retnet::tune
