#include "search.h"

#include <algorithm>
#include <random>

#include <fmt/format.h>

#include "retnet/error.h"

namespace retnet::tune {

int64_t SearchSpace::size() const {
    int64_t n = 1;
    for (const auto &p : params) n *= static_cast<int64_t>(p.second.size());
    return n;
}

std::string candidate_key(const Candidate &c) {
    std::string key;
    for (const auto &[name, value] : c) key += fmt::format("{}{}={}", key.empty() ? "" : ",", name, value);
    return key;
}

SearchResult search(const SearchSpace &space, const std::function<Evaluation(const Candidate &)> &evaluate,
                    const SearchOptions &options, std::map<std::string, Evaluation> &known) {
    SearchResult result;
    std::optional<double> best_ms;
    int budget = options.max_evaluations;
    auto try_candidate = [&](const Candidate &c) {
        const std::string key = candidate_key(c);
        auto it = known.find(key);
        if (it == known.end()) {
            if (budget <= 0) return;
            budget--;
            result.evaluated++;
            it = known.emplace(key, evaluate(c)).first;
        }
        const Evaluation &e = it->second;
        if (e.ms && (!best_ms || *e.ms < *best_ms)) {
            best_ms = e.ms;
            result.best = c;
        }
    };
    try_candidate(space.defaults);
    std::mt19937_64 rng(options.seed);
    for (int i = 0; i < options.random_samples && budget > 0; i++) {
        Candidate c;
        for (const auto &[name, values] : space.params) c[name] = values[rng() % values.size()];
        try_candidate(c);
    }
    // Local search: move each parameter one legal step either way from the best.
    for (bool improved = best_ms.has_value(); improved && budget > 0;) {
        improved = false;
        const Candidate centre = result.best;
        const std::optional<double> before = best_ms;
        for (const auto &[name, values] : space.params) {
            const auto at = std::find(values.begin(), values.end(), centre.at(name));
            const int64_t i = at - values.begin();
            for (int64_t j : {i - 1, i + 1}) {
                if (j < 0 || j >= static_cast<int64_t>(values.size())) continue;
                Candidate c = centre;
                c[name] = values[static_cast<size_t>(j)];
                try_candidate(c);
            }
        }
        improved = best_ms && (!before || *best_ms < *before);
    }
    if (!best_ms) throw Error("retnet tune: every candidate failed, the default included");
    result.best_ms = *best_ms;
    return result;
}

}  // namespace retnet::tune
