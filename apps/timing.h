// Wall-clock timing for benchmarks: warm-up calls, then repeats until both a minimum count and a
// minimum time are reached; the median is reported.
#pragma once

#include <algorithm>
#include <chrono>
#include <functional>
#include <vector>

namespace retnet::apps {

struct TimingPolicy {
    int warmup = 2;
    int min_repeats = 5;
    double min_seconds = 0.3;
    int max_repeats = 1000;
};

struct Timing {
    double median_ms;
    double min_ms;
    int repeats;
};

inline Timing time_call(const std::function<void()> &call, const TimingPolicy &policy) {
    using clock = std::chrono::steady_clock;
    for (int i = 0; i < policy.warmup; i++) call();
    std::vector<double> samples;
    const auto start = clock::now();
    while (static_cast<int>(samples.size()) < policy.max_repeats) {
        const auto t0 = clock::now();
        call();
        samples.push_back(std::chrono::duration<double, std::milli>(clock::now() - t0).count());
        const double elapsed = std::chrono::duration<double>(clock::now() - start).count();
        if (static_cast<int>(samples.size()) >= policy.min_repeats && elapsed >= policy.min_seconds) break;
    }
    std::sort(samples.begin(), samples.end());
    return {samples[samples.size() / 2], samples.front(), static_cast<int>(samples.size())};
}

}  // namespace retnet::apps
