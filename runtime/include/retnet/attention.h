// Causal softmax attention over a KV cache: the attention of the Transformer baseline that RetNet
// is compared with (docs/SEMANTICS.md §8). Queries [B, T, H, D] attend every cached key at or
// before their own position; the cache keeps keys transposed, [B, H, D, S], and values as
// [B, H, S, D], for S positions of capacity.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "retnet/tensor.h"

namespace retnet {

// What a cache's elements are: float32, or bfloat16 (half the memory; keys and values are rounded
// to the nearest bfloat16, ties to even, as they are appended, and attention reads them widened).
enum class CacheStorage { f32,
                          bf16 };
const char *cache_storage_name(CacheStorage storage);
// "f32" or "bf16"; throws retnet::Error naming `what` otherwise.
CacheStorage parse_cache_storage(const std::string &text, const std::string &what);

// A key and value cache of `capacity` positions for B sequences of H heads of dimension D.
struct KvCache {
    static KvCache empty(int64_t batch, int64_t heads, int64_t head_dim, int64_t capacity, Device device,
                         CacheStorage storage = CacheStorage::f32);
    // The bytes of keys and values such a cache holds; throws, naming it, if an extent is below 1 or
    // the product overflows.
    static uint64_t bytes_for(int64_t batch, int64_t heads, int64_t head_dim, int64_t capacity, CacheStorage storage);
    Tensor keys;    // [B, H, D, S]
    Tensor values;  // [B, H, S, D]
    int64_t capacity() const { return values.dim(2); }
    CacheStorage storage() const { return values.dtype() == DType::bf16 ? CacheStorage::bf16 : CacheStorage::f32; }
    int64_t memory_bytes() const;
};

// Writes k and v [B, T, H, D] into positions [start[b], start[b] + T) of each sequence's cache.
void kv_cache_append(const Tensor &k, const Tensor &v, const std::vector<int64_t> &start, KvCache &cache);

// o [B, T, H, D] = softmax(scale q k^T) v over the cache: query t of sequence b sits at position
// lengths[b] - T + t and sees keys 0 to that position. lengths[b] (the cache's filled positions,
// the T new ones included) lies in [T, capacity].
void attention(const Tensor &q, const KvCache &cache, const std::vector<int64_t> &lengths, float scale, Tensor &o);

}  // namespace retnet
