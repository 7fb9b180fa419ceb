// Work and traffic counts for rates in benchmarks, as docs/SEMANTICS.md §3 defines them.
#pragma once

#include <cstdint>

namespace retnet::apps {

struct WorkCount {
    double flops;
    double bytes;
};

// Every sequence form is credited with the chunkwise count for chunk C, so their rates compare:
// 2 B H T (C K + C V + 2 K V) FLOPs; q, k, v read once and o written once.
inline WorkCount sequence_work(int64_t B, int64_t T, int64_t H, int64_t K, int64_t V, int64_t C) {
    const double b = double(B), t = double(T), h = double(H), k = double(K), v = double(V), c = double(C);
    return {2.0 * b * h * t * (c * k + c * v + 2.0 * k * v), 4.0 * b * t * h * (2.0 * k + 2.0 * v)};
}

// A decode step: the state read and written once, plus q, k, v and o; 2 K V FLOPs to update the
// state and 2 K V to read it out, per head.
inline WorkCount decode_step_work(int64_t B, int64_t H, int64_t K, int64_t V) {
    const double b = double(B), h = double(H), k = double(K), v = double(V);
    return {4.0 * b * h * k * v, 4.0 * (2.0 * b * h * k * v + b * h * (2.0 * k + 2.0 * v))};
}

}  // namespace retnet::apps
