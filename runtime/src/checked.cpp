#include "retnet/checked.h"

#include <malloc.h>
#include <unistd.h>

#include <cinttypes>
#include <cstdio>
#include <fstream>

#include <fmt/format.h>

namespace retnet {

namespace {

template<typename T>
T mul(T a, T b, const std::string &what) {
    T r;
    if (__builtin_mul_overflow(a, b, &r)) throw Error(fmt::format("{}: {} x {} overflows {}-bit arithmetic", what, a, b, sizeof(T) * 8));
    return r;
}

template<typename T>
T add(T a, T b, const std::string &what) {
    T r;
    if (__builtin_add_overflow(a, b, &r)) throw Error(fmt::format("{}: {} + {} overflows {}-bit arithmetic", what, a, b, sizeof(T) * 8));
    return r;
}

std::string human(uint64_t bytes) {
    const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    double v = double(bytes);
    int u = 0;
    while (v >= 1024 && u < 6) {
        v /= 1024;
        u++;
    }
    return fmt::format("{:.1f} {}", v, units[u]);
}

}  // namespace

int64_t checked_mul(int64_t a, int64_t b, const std::string &what) { return mul(a, b, what); }
uint64_t checked_mul(uint64_t a, uint64_t b, const std::string &what) { return mul(a, b, what); }
int64_t checked_add(int64_t a, int64_t b, const std::string &what) { return add(a, b, what); }
uint64_t checked_add(uint64_t a, uint64_t b, const std::string &what) { return add(a, b, what); }

namespace {

// sysconf's count of `pages_name` pages, in bytes; unknown: UINT64_MAX (the allocator decides).
uint64_t pages_in_bytes(int pages_name) {
    const long pages = sysconf(pages_name), page = sysconf(_SC_PAGESIZE);
    if (pages <= 0 || page <= 0) return UINT64_MAX;
    return uint64_t(pages) * uint64_t(page);
}

}  // namespace

// Linux's MemAvailable: free memory plus the page cache and slabs the kernel can reclaim without
// swapping. Free pages alone undercount it by whatever files were read last (a checkpoint, a
// build); without /proc, free pages.
uint64_t available_memory_bytes() {
    std::ifstream meminfo("/proc/meminfo");
    std::string line;
    while (std::getline(meminfo, line)) {
        uint64_t kib = 0;
        if (std::sscanf(line.c_str(), "MemAvailable: %" SCNu64 " kB", &kib) == 1) return kib * 1024;
    }
    return pages_in_bytes(_SC_AVPHYS_PAGES);
}

void require_available_memory(uint64_t bytes, const std::string &what) {
    // Memory this process freed but its allocator kept is free for this allocation too: give it
    // back first, so that the kernel's count includes it.
    malloc_trim(0);
    const uint64_t free_now = available_memory_bytes();
    if (bytes > free_now) {
        throw Error(fmt::format("{}: needs {} ({} bytes), more than the {} of memory free now", what, human(bytes), bytes,
                                human(free_now)));
    }
}

uint64_t physical_memory_bytes() { return pages_in_bytes(_SC_PHYS_PAGES); }

void require_fits_in_memory(uint64_t bytes, const std::string &what) {
    const uint64_t limit = physical_memory_bytes();
    if (bytes > limit) {
        throw Error(fmt::format("{}: needs {} ({} bytes), more than this machine's {} of memory", what, human(bytes),
                                bytes, human(limit)));
    }
}

}  // namespace retnet
