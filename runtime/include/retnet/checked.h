// Checked arithmetic for sizes that come from files and flags: a product or sum that does not fit
// is a retnet::Error naming what was being computed, never a wrapped value that passes a later
// check (a safetensors shape of [2^62] F32 once wrapped to 0 bytes that way).
#pragma once

#include <cstdint>
#include <string>

#include "retnet/error.h"

namespace retnet {

// a * b, or an Error "<what>: <a> x <b> overflows".
int64_t checked_mul(int64_t a, int64_t b, const std::string &what);
uint64_t checked_mul(uint64_t a, uint64_t b, const std::string &what);
int64_t checked_add(int64_t a, int64_t b, const std::string &what);
uint64_t checked_add(uint64_t a, uint64_t b, const std::string &what);

// The machine's physical memory in bytes (sysconf), the ceiling for any single allocation whose
// size comes from input: past it an allocation can only fail or summon the OOM killer.
uint64_t physical_memory_bytes();
// Memory that can be allocated now without swapping (Linux's MemAvailable, which counts the page
// cache the kernel can drop), and the check against it: for allocations a caller sizes from what
// fits, such as a benchmark's KV caches.
uint64_t available_memory_bytes();
void require_available_memory(uint64_t bytes, const std::string &what);

// Throws an Error naming `what` when `bytes` exceed the physical memory.
void require_fits_in_memory(uint64_t bytes, const std::string &what);

}  // namespace retnet
