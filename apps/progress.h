// Progress of a long pass over a file: a line on stderr at most every `interval` seconds with the
// bytes done, the rate and the time left. On a terminal the line rewrites itself; into a log
// each update is a line of its own.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

#include <fmt/format.h>

namespace retnet::apps {

class Progress {
public:
    Progress(std::string what, uint64_t total_bytes, bool enabled, double interval)
        : what_(std::move(what)), total_(total_bytes), interval_(interval), enabled_(enabled), tty_(isatty(2) != 0) {}

    void update(uint64_t done) {
        const auto now = std::chrono::steady_clock::now();
        if (!enabled_ || std::chrono::duration<double>(now - last_).count() < interval_) return;
        last_ = now;
        const double seconds = std::chrono::duration<double>(now - start_).count();
        const double rate = seconds > 0 ? double(done) / seconds : 0;
        const double left = rate > 0 ? double(total_ - std::min(done, total_)) / rate : 0;
        fmt::print(stderr, "{}{}: {:.1f} of {:.1f} MB ({:.0f}%), {:.1f} KB/s, {:.0f} s left{}", tty_ ? "\r" : "", what_,
                   done / 1e6, total_ / 1e6, total_ ? 100.0 * double(done) / double(total_) : 100.0, rate / 1e3, left,
                   tty_ ? "   " : "\n");
        printed_ = true;
    }
    void finish() {
        if (printed_ && tty_) fmt::print(stderr, "\n");
    }

private:
    std::string what_;
    uint64_t total_;
    double interval_;
    bool enabled_, tty_, printed_ = false;
    std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now(), last_ = start_;
};

}  // namespace retnet::apps
