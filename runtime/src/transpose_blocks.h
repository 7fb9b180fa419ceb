// One tile of a row-major [out, in] matrix transposed with every element's bits kept, its
// finiteness read from the exponent bits on the way: element (i, o) of the destination, at
// dst[i * dst_stride + (o - o0)], = src[o * in + i] for o in [o0, o1) and i in [i0, i1) (a panel of
// the packed layout: dst_stride 16, o0 its first column). Whole 8 x 8 blocks of 16-bit elements (bfloat16, float16) or
// 4 x 4 blocks of 32-bit ones (float32) pass through SSE2 registers: a block costs about as many
// instructions as it has rows, where element by element each one cost a load, a test and a store,
// which made the transpose a third of loading a checkpoint. The edges go element by element.
#pragma once

#include <cstdint>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace retnet::detail {

#if defined(__SSE2__)
// Rows of 16-bit elements in, columns out.
inline void transpose_block(__m128i (&r)[8]) {
    const __m128i a0 = _mm_unpacklo_epi16(r[0], r[1]), a1 = _mm_unpackhi_epi16(r[0], r[1]);
    const __m128i a2 = _mm_unpacklo_epi16(r[2], r[3]), a3 = _mm_unpackhi_epi16(r[2], r[3]);
    const __m128i a4 = _mm_unpacklo_epi16(r[4], r[5]), a5 = _mm_unpackhi_epi16(r[4], r[5]);
    const __m128i a6 = _mm_unpacklo_epi16(r[6], r[7]), a7 = _mm_unpackhi_epi16(r[6], r[7]);
    const __m128i b0 = _mm_unpacklo_epi32(a0, a2), b1 = _mm_unpackhi_epi32(a0, a2);
    const __m128i b2 = _mm_unpacklo_epi32(a1, a3), b3 = _mm_unpackhi_epi32(a1, a3);
    const __m128i b4 = _mm_unpacklo_epi32(a4, a6), b5 = _mm_unpackhi_epi32(a4, a6);
    const __m128i b6 = _mm_unpacklo_epi32(a5, a7), b7 = _mm_unpackhi_epi32(a5, a7);
    r[0] = _mm_unpacklo_epi64(b0, b4), r[1] = _mm_unpackhi_epi64(b0, b4);
    r[2] = _mm_unpacklo_epi64(b1, b5), r[3] = _mm_unpackhi_epi64(b1, b5);
    r[4] = _mm_unpacklo_epi64(b2, b6), r[5] = _mm_unpackhi_epi64(b2, b6);
    r[6] = _mm_unpacklo_epi64(b3, b7), r[7] = _mm_unpackhi_epi64(b3, b7);
}

// Rows of 32-bit elements in, columns out.
inline void transpose_block(__m128i (&r)[4]) {
    const __m128i a0 = _mm_unpacklo_epi32(r[0], r[1]), a1 = _mm_unpackhi_epi32(r[0], r[1]);
    const __m128i a2 = _mm_unpacklo_epi32(r[2], r[3]), a3 = _mm_unpackhi_epi32(r[2], r[3]);
    r[0] = _mm_unpacklo_epi64(a0, a2), r[1] = _mm_unpackhi_epi64(a0, a2);
    r[2] = _mm_unpacklo_epi64(a1, a3), r[3] = _mm_unpackhi_epi64(a1, a3);
}
#endif

// Bits: uint16_t or uint32_t, the element's bits; `exponent`: the format's exponent field (all
// ones: an infinity or a NaN). `src` and `dst` may hold floats: elements are moved as bytes.
// Returns whether every element of the tile was finite.
template<typename Bits>
bool transpose_tile_keeping_bits(const void *src, int64_t in, int64_t o0, int64_t o1, int64_t i0, int64_t i1,
                                 void *dst, int64_t dst_stride, Bits exponent) {
    static_assert(sizeof(Bits) == 2 || sizeof(Bits) == 4);
    const auto *s = static_cast<const uint8_t *>(src);
    auto *d = static_cast<uint8_t *>(dst);
    constexpr int64_t size = sizeof(Bits);
    bool finite = true;
    int64_t o_blocks = o0, i_blocks = i0;  // the ends of the whole blocks
#if defined(__SSE2__)
    constexpr int kBlock = 16 / sizeof(Bits);
    o_blocks = o0 + (o1 - o0) / kBlock * kBlock;
    i_blocks = i0 + (i1 - i0) / kBlock * kBlock;
    const __m128i field = size == 2 ? _mm_set1_epi16(static_cast<int16_t>(exponent)) : _mm_set1_epi32(static_cast<int32_t>(exponent));
    __m128i all_ones_exponent = _mm_setzero_si128();
    for (int64_t i = i0; i < i_blocks; i += kBlock) {
        for (int64_t o = o0; o < o_blocks; o += kBlock) {
            __m128i r[kBlock];
            for (int j = 0; j < kBlock; j++) {
                r[j] = _mm_loadu_si128(reinterpret_cast<const __m128i *>(s + ((o + j) * in + i) * size));
                const __m128i e = _mm_and_si128(r[j], field);
                all_ones_exponent = _mm_or_si128(all_ones_exponent, size == 2 ? _mm_cmpeq_epi16(e, field) : _mm_cmpeq_epi32(e, field));
            }
            transpose_block(r);
            for (int j = 0; j < kBlock; j++) {
                _mm_storeu_si128(reinterpret_cast<__m128i *>(d + ((i + j) * dst_stride + o - o0) * size), r[j]);
            }
        }
    }
    finite = _mm_movemask_epi8(all_ones_exponent) == 0;
#endif
    auto one_by_one = [&](int64_t oa, int64_t ob, int64_t ia, int64_t ib) {
        for (int64_t i = ia; i < ib; i++) {
            for (int64_t o = oa; o < ob; o++) {
                Bits v;
                std::memcpy(&v, s + (o * in + i) * size, size);
                finite &= (v & exponent) != exponent;
                std::memcpy(d + (i * dst_stride + o - o0) * size, &v, size);
            }
        }
    };
    one_by_one(o0, o1, i_blocks, i1);        // the columns past the blocks, every row
    one_by_one(o_blocks, o1, i0, i_blocks);  // the rows past the blocks
    return finite;
}

}  // namespace retnet::detail
