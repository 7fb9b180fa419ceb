#include "retnet/attention.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include <fmt/format.h>

#include "halide_bridge.h"
#include "kernel_dispatch.h"
#include "retnet/checked.h"
#include "retnet/error.h"

namespace retnet {

using detail::check_rank;
using detail::check_same_device;
using detail::check_tensor;
using detail::find_kernel;
using detail::kernel_table;
using detail::KernelBuffer;
using detail::Label;
using detail::run_kernel;

namespace {

constexpr int64_t kChunk = 128;                     // kernels.json: attention_chunks' "chunk"
constexpr int64_t kPartsBytes = int64_t(64) << 20;  // the chunks' parts of one block of queries
// Queries per block at most: a causal block sees only the keys up to its last query, so blocks
// skip most of the chunks that would be masked out whole.
constexpr int64_t kQueryBlock = 256;

// The cache's geometry, checked: B, H, D and the capacity S.
struct CacheDims {
    int64_t B, H, D, S;
};

CacheDims check_cache(const char *fn, const KvCache &cache) {
    check_rank(cache.values, Label(fn, "cache values"), 4, "B, H, S, D");
    for (const auto &[tensor, name] : {std::pair{&cache.keys, "cache keys"}, std::pair{&cache.values, "cache values"}}) {
        if (tensor->dtype() != DType::f32 && tensor->dtype() != DType::bf16) {
            throw Error(fmt::format("{}: {}: expected float32 or bfloat16 elements, got {}", fn, name, dtype_name(tensor->dtype())));
        }
    }
    if (cache.keys.dtype() != cache.values.dtype()) {
        throw Error(fmt::format("{}: cache keys ({}) and values ({}): expected one element type", fn,
                                dtype_name(cache.keys.dtype()), dtype_name(cache.values.dtype())));
    }
    const int64_t B = cache.values.dim(0), H = cache.values.dim(1), S = cache.values.dim(2), D = cache.values.dim(3);
    check_tensor(cache.keys, Label(fn, "cache keys"), Shape{B, H, D, S}, "B, H, D, S of the values [B, H, S, D]",
                 cache.values.dtype());
    return {B, H, D, S};
}

// lengths as the kernel takes them: an int32 tensor on `device`.
Tensor lengths_on(const std::vector<int64_t> &lengths, Device device) {
    Tensor host = Tensor::empty({static_cast<int64_t>(lengths.size())}, Device::cpu, DType::i32);
    for (size_t b = 0; b < lengths.size(); b++) host.data_i32()[b] = static_cast<int32_t>(lengths[b]);
    return host.to(device);
}

}  // namespace

const char *cache_storage_name(CacheStorage storage) { return storage == CacheStorage::bf16 ? "bf16" : "f32"; }

CacheStorage parse_cache_storage(const std::string &text, const std::string &what) {
    if (text == "f32") return CacheStorage::f32;
    if (text == "bf16") return CacheStorage::bf16;
    throw Error(fmt::format("{}: expected f32 or bf16, got '{}'", what, text));
}

namespace {

std::string cache_name(int64_t batch, int64_t heads, int64_t head_dim, int64_t capacity, CacheStorage storage) {
    return fmt::format("KvCache of {} sequences x {} heads x {} positions x {} features ({})", batch, heads, capacity,
                       head_dim, cache_storage_name(storage));
}

DType cache_dtype(CacheStorage storage) { return storage == CacheStorage::bf16 ? DType::bf16 : DType::f32; }

// The bytes of a cache's keys and values, its name `what` in the errors.
uint64_t cache_bytes(int64_t batch, int64_t heads, int64_t head_dim, int64_t capacity, CacheStorage storage,
                     const std::string &what) {
    if (batch < 1 || heads < 1 || head_dim < 1 || capacity < 1) throw Error(what + ": every extent must be at least 1");
    return checked_mul(
        checked_mul(checked_mul(checked_mul(uint64_t(batch), uint64_t(heads), what), uint64_t(capacity), what),
                    uint64_t(head_dim), what),
        uint64_t(2 * dtype_size(cache_dtype(storage))), what);
}

}  // namespace

uint64_t KvCache::bytes_for(int64_t batch, int64_t heads, int64_t head_dim, int64_t capacity, CacheStorage storage) {
    return cache_bytes(batch, heads, head_dim, capacity, storage, cache_name(batch, heads, head_dim, capacity, storage));
}

KvCache KvCache::empty(int64_t batch, int64_t heads, int64_t head_dim, int64_t capacity, Device device,
                       CacheStorage storage) {
    const std::string what = cache_name(batch, heads, head_dim, capacity, storage);
    const uint64_t bytes = cache_bytes(batch, heads, head_dim, capacity, storage, what);
    const DType dtype = cache_dtype(storage);
    // On the host the caches are made where they stay; a GPU's are staged through the host (zeros:
    // all bits 0 in either element type).
    require_available_memory(bytes, what);
    auto zeros = [&](const Shape &shape) {
        Tensor t = Tensor::empty(shape, Device::cpu, dtype);
        std::memset(t.bytes(), 0, static_cast<size_t>(t.byte_size()));
        return t.to(device);
    };
    return {zeros({batch, heads, head_dim, capacity}), zeros({batch, heads, capacity, head_dim})};
}

int64_t KvCache::memory_bytes() const { return keys.byte_size() + values.byte_size(); }

void kv_cache_append(const Tensor &k, const Tensor &v, const std::vector<int64_t> &start, KvCache &cache) {
    const char *fn = "kv_cache_append";
    const CacheDims c = check_cache(fn, cache);
    check_rank(k, "kv_cache_append: k", 4, "B, T, H, D");
    const int64_t T = k.dim(1);
    check_tensor(k, "kv_cache_append: k", {c.B, T, c.H, c.D}, "B, T, H, D of the cache");
    check_tensor(v, "kv_cache_append: v", k.shape(), "as k");
    check_same_device(fn, {{"k", &k}, {"v", &v}, {"cache keys", &cache.keys}, {"cache values", &cache.values}});
    if (static_cast<int64_t>(start.size()) != c.B) {
        throw Error(fmt::format("kv_cache_append: start: expected one position per sequence ({}), got {}", c.B, start.size()));
    }
    for (size_t b = 0; b < start.size(); b++) {
        if (start[b] < 0 || start[b] > c.S - T) {
            throw Error(fmt::format("kv_cache_append: start[{}]: expected 0 to {} ({} new positions in a cache of {}), got {}",
                                    b, c.S - T, T, c.S, start[b]));
        }
    }
    if (k.device() == Device::opencl) {
        // The runtime makes no views at an offset of OpenCL buffers (halide_bridge.h, crop): OpenCL
        // appends through the host, the caches whole.
        KvCache host{cache.keys.to(Device::cpu), cache.values.to(Device::cpu)};  // (either element type)
        kv_cache_append(k.to(Device::cpu), v.to(Device::cpu), start, host);
        cache.keys.copy_from(host.keys);
        cache.values.copy_from(host.values);
        return;
    }
    const bool bf16 = cache.storage() == CacheStorage::bf16;
    auto kernel = find_kernel(fn, bf16 ? kernel_table().kv_cache_append_bf16 : kernel_table().kv_cache_append, k.device());
    KernelBuffer hk(k, "kv_cache_append: k"), hv(v, "kv_cache_append: v"), keys(cache.keys, "cache keys"),
        values(cache.values, "cache values");
    // One call when every sequence appends at one position (a batch decoding in step), else one per
    // sequence; the outputs are the rows written, indexed as in the whole cache.
    const bool same = std::all_of(start.begin(), start.end(), [&](int64_t s) { return s == start[0]; });
    for (int64_t b = 0; b < (same ? 1 : c.B); b++) {
        const int64_t first_b = same ? 0 : b, count_b = same ? c.B : 1, at = start[static_cast<size_t>(b)];
        auto k_in = detail::crop(hk.buffer(), 3, first_b, count_b, false);
        auto v_in = detail::crop(hv.buffer(), 3, first_b, count_b, false);
        auto k_rows = detail::crop(keys.buffer(), 3, first_b, count_b, false);
        auto v_rows = detail::crop(values.buffer(), 3, first_b, count_b, false);
        auto k_out = detail::crop(k_rows, 0, at, T, false);
        auto v_out = detail::crop(v_rows, 1, at, T, false);
        run_kernel(fn, [&] { return kernel(k_in, v_in, static_cast<int32_t>(at), k_out, v_out); });
    }
}

void attention(const Tensor &q, const KvCache &cache, const std::vector<int64_t> &lengths, float scale, Tensor &o) {
    const char *fn = "attention";
    const CacheDims c = check_cache(fn, cache);
    check_rank(q, "attention: q", 4, "B, T, H, D");
    const int64_t T = q.dim(1);
    check_tensor(q, "attention: q", {c.B, T, c.H, c.D}, "B, T, H, D of the cache");
    check_tensor(o, "attention: o", q.shape(), "as q");
    check_same_device(fn, {{"q", &q}, {"cache keys", &cache.keys}, {"cache values", &cache.values}, {"o", &o}});
    if (static_cast<int64_t>(lengths.size()) != c.B) {
        throw Error(fmt::format("attention: lengths: expected one per sequence ({}), got {}", c.B, lengths.size()));
    }
    for (size_t b = 0; b < lengths.size(); b++) {
        if (lengths[b] < T || lengths[b] > c.S) {
            throw Error(fmt::format("attention: lengths[{}]: expected {} to {} (the {} queries' keys are in a cache of {}), "
                                    "got {}",
                                    b, T, c.S, T, c.S, lengths[b]));
        }
    }
    const Device device = q.device();
    const detail::KernelTable &table = kernel_table();
    auto combine = find_kernel(fn, table.attention_combine, device);
    KernelBuffer hq(q, "attention: q"), ho(o, "attention: o"), keys(cache.keys, "cache keys"),
        values(cache.values, "cache values");
    // Queries in blocks whose chunks' parts stay within kPartsBytes; each block sees only the keys
    // up to its last query's position.
    const int64_t max_chunks = (c.S + kChunk - 1) / kChunk;
    const auto &chunk_kernels = cache.storage() == CacheStorage::bf16 ? table.attention_chunks_bf16 : table.attention_chunks;
    const int64_t part_bytes = c.B * c.H * max_chunks * (c.D + 2) * static_cast<int64_t>(sizeof(float));
    // (OpenCL takes no query blocks and reads the whole cache: no views at an offset there.)
    const int64_t block = device == Device::opencl
                              ? T
                              : std::clamp<int64_t>(kPartsBytes / std::max<int64_t>(part_bytes, 1), 1, std::min(T, kQueryBlock));
    for (int64_t first = 0; first < T; first += block) {
        const int64_t count = std::min(block, T - first);
        std::vector<int64_t> seen(lengths.size());
        for (size_t b = 0; b < lengths.size(); b++) seen[b] = lengths[b] - T + first + count;
        const int64_t keys_seen = device == Device::opencl ? c.S : *std::max_element(seen.begin(), seen.end());
        const int64_t chunks = (keys_seen + kChunk - 1) / kChunk;
        Tensor parts = Tensor::empty({c.B, c.H, chunks, count, c.D + 2}, device);
        Tensor lengths_tensor = lengths_on(seen, device);
        KernelBuffer hp(parts, "attention: parts"), hl(lengths_tensor, "attention: lengths");
        auto whole_or_crop = [](KernelBuffer &all, int dim, int64_t from, int64_t n) {
            return from == 0 && n == all.buffer().dim(dim).extent() ? all.buffer() : detail::crop(all.buffer(), dim, from, n);
        };
        auto q_block = whole_or_crop(hq, 2, first, count), o_block = whole_or_crop(ho, 2, first, count);
        auto k_seen = whole_or_crop(keys, 0, 0, keys_seen), v_seen = whole_or_crop(values, 1, 0, keys_seen);
        auto chunk_kernel = find_kernel(fn, chunk_kernels, device, count);
        run_kernel(fn, [&] { return chunk_kernel(q_block, k_seen, v_seen, hl, scale, hp); });
        run_kernel(fn, [&] { return combine(hp, o_block); });
    }
}

}  // namespace retnet
