// Linear weights from a checkpoint's [out, in] (float32, bfloat16 or float16, often a view of the
// mapped file) into the kernels' panel layout (layers.h), in the storage asked for (int8: with a
// scale per output feature, found by a first pass along the source's rows). One pass over
// the source: each element is read once, checked finite, converted if needed and written to its
// transposed place, a panel's 64 input rows at a time (element by element, every write of a
// [32000, 2048] weight went to another page; kept 16- and 32-bit weights move in vector blocks),
// split over the machine's cores.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <limits>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "kernel_dispatch.h"
#include "retnet/error.h"
#include "retnet/float_formats.h"
#include "retnet/layers.h"
#include "transpose_blocks.h"

namespace retnet {

namespace {

// A source element type and how to read it: its bits (kept as they are when the storage is the
// same), as float32, and whether it is finite (by its exponent bits: no conversion needed).
struct Bf16 {
    static constexpr DType dtype = DType::bf16;
    using Bits = uint16_t;
    using Word = uint16_t;  // the bits as an unsigned integer
    static constexpr Word kExponent = 0x7f80u;
    static float widen(Bits b) { return bfloat16_to_float(b); }
    static bool finite(Bits b) { return (b & 0x7f80u) != 0x7f80u; }
};
struct F16 {
    static constexpr DType dtype = DType::f16;
    using Bits = uint16_t;
    using Word = uint16_t;
    static constexpr Word kExponent = 0x7c00u;
    static float widen(Bits b) { return half_to_float(b); }
    static bool finite(Bits b) { return (b & 0x7c00u) != 0x7c00u; }
};
struct F32 {
    static constexpr DType dtype = DType::f32;
    using Bits = float;
    using Word = uint32_t;
    static constexpr Word kExponent = 0x7f800000u;
    static float widen(Bits b) { return b; }
    static bool finite(Bits b) { return std::isfinite(b); }
};

// Runs body(first, last) over [0, count) split into one contiguous range per core.
template<typename Body>
void parallel_ranges(int64_t count, int64_t grain, Body &&body) {
    const int64_t cores = std::max<int64_t>(1, std::thread::hardware_concurrency());
    const int64_t tasks = std::max<int64_t>(1, std::min(cores, count / std::max<int64_t>(grain, 1)));
    if (tasks == 1) {
        body(int64_t(0), count);
        return;
    }
    std::vector<std::thread> threads;
    const int64_t per = (count + tasks - 1) / tasks;
    for (int64_t t = 0; t < tasks; t++) {
        const int64_t first = t * per, last = std::min(count, first + per);
        if (first < last) threads.emplace_back([&body, first, last] { body(first, last); });
    }
    for (std::thread &t : threads) t.join();
}

// The packed copy: element (i, o) of the kernels' layout, dst[((o / 16) * in + i) * 16 + o % 16] (a
// panel of 16 output columns after another, each [in][16]), = convert(src[o * in + i], o) for
// o < out, zeros up to `padded`, from source elements of format Src; returns the first non-finite
// source index, or -1. With kKeepsBits (convert is the identity) whole blocks move through vector
// registers.
template<typename Src, bool kKeepsBits = false, typename Dst, typename Convert>
int64_t transpose_into(const typename Src::Bits *src, int64_t out, int64_t in, Dst *dst, int64_t padded,
                       Convert convert) {
    constexpr int64_t kPanel = LinearWeight::kPanel, kRows = 64;
    const int64_t panels = padded / kPanel;
    std::atomic<int64_t> bad{std::numeric_limits<int64_t>::max()};
    const Dst zero = convert(typename Src::Bits(0), 0);
    // Split over input rows (i): each task writes the same rows of every panel.
    parallel_ranges(in, kRows, [&](int64_t i_first, int64_t i_last) {
        bool all_finite = true;
        for (int64_t i0 = i_first; i0 < i_last; i0 += kRows) {
            const int64_t i1 = std::min(i_last, i0 + kRows);
            for (int64_t p = 0; p < panels; p++) {
                const int64_t o0 = p * kPanel, o1 = std::clamp(out, o0, o0 + kPanel);
                Dst *panel = dst + p * in * kPanel;  // element (i, o) at panel[i * kPanel + o - o0]
                if constexpr (kKeepsBits) {
                    all_finite &= detail::transpose_tile_keeping_bits<typename Src::Word>(src, in, o0, o1, i0, i1, panel,
                                                                                          kPanel, Src::kExponent);
                } else {
                    for (int64_t i = i0; i < i1; i++) {
                        for (int64_t o = o0; o < o1; o++) {
                            const typename Src::Bits v = src[o * in + i];
                            all_finite &= Src::finite(v);
                            panel[i * kPanel + o - o0] = convert(v, o);
                        }
                    }
                }
                for (int64_t i = i0; i < i1; i++) std::fill(panel + i * kPanel + (o1 - o0), panel + (i + 1) * kPanel, zero);
            }
        }
        if (all_finite) return;
        // Rare: find this range's first bad element, for the message.
        for (int64_t o = 0; o < out; o++) {
            for (int64_t i = i_first; i < i_last; i++) {
                if (!Src::finite(src[o * in + i])) {
                    int64_t seen = bad.load();
                    while (o * in + i < seen && !bad.compare_exchange_weak(seen, o * in + i)) {
                    }
                    return;
                }
            }
        }
    });
    const int64_t first = bad.load();
    return first == std::numeric_limits<int64_t>::max() ? -1 : first;
}

// int8 quantization: the scale of output feature o is max_i |w(o, i)| / 127 (0 for a row of
// zeros), its weights round(w / scale) in [-127, 127]. Returns 127 / max per feature, the factor
// the transpose multiplies by, and fills `scale` [padded] (zeros past `out`).
template<typename Src>
std::vector<float> int8_scales(const typename Src::Bits *src, int64_t out, int64_t in, float *scale, int64_t padded) {
    std::vector<float> inverse(static_cast<size_t>(out));
    parallel_ranges(out, 16, [&](int64_t first, int64_t last) {
        for (int64_t o = first; o < last; o++) {
            float max = 0.0f;
            for (int64_t i = 0; i < in; i++) max = std::max(max, std::fabs(Src::widen(src[o * in + i])));
            // A non-finite row is refused by the transpose's check, whatever its scale.
            scale[o] = max / 127.0f;
            inverse[static_cast<size_t>(o)] = max > 0.0f && std::isfinite(max) ? 127.0f / max : 0.0f;
        }
    });
    std::fill(scale + out, scale + padded, 0.0f);
    return inverse;
}

inline int8_t quantized(float w, float inverse_scale) {
    const float q = std::nearbyint(w * inverse_scale);
    return static_cast<int8_t>(std::clamp(std::isfinite(q) ? q : 0.0f, -127.0f, 127.0f));
}

// The packed copy of `weight` (format Src) in `dtype` (int8: and its scales into `scale`).
template<typename Src>
int64_t pack_from(const Tensor &weight, DType dtype, Tensor &host, Tensor &scale, int64_t padded) {
    const auto *src = static_cast<const typename Src::Bits *>(weight.bytes());
    const int64_t out = weight.dim(0), in = weight.dim(1);
    using Bits = typename Src::Bits;
    const bool same = dtype == Src::dtype;  // the bits are kept as they are
    switch (dtype) {
    case DType::bf16:
        if (same) return transpose_into<Src, true>(src, out, in, host.data_u16(), padded, [](Bits b, int64_t) { return uint16_t(b); });
        return transpose_into<Src>(src, out, in, host.data_u16(), padded,
                                   [](Bits b, int64_t) { return float_to_bfloat16(Src::widen(b)); });
    case DType::f16:
        if (same) return transpose_into<Src, true>(src, out, in, host.data_u16(), padded, [](Bits b, int64_t) { return uint16_t(b); });
        return transpose_into<Src>(src, out, in, host.data_u16(), padded,
                                   [](Bits b, int64_t) { return float_to_half(Src::widen(b)); });
    case DType::i8: {
        const std::vector<float> inverse = int8_scales<Src>(src, out, in, scale.data(), padded);
        return transpose_into<Src>(src, out, in, host.data_i8(), padded, [&inverse](Bits b, int64_t o) {
            return quantized(Src::widen(b), inverse[static_cast<size_t>(o)]);
        });
    }
    default:
        if (same) return transpose_into<Src, true>(src, out, in, host.data(), padded, [](Bits b, int64_t) { return b; });
        return transpose_into<Src>(src, out, in, host.data(), padded, [](Bits b, int64_t) { return Src::widen(b); });
    }
}

DType storage_dtype(WeightStorage storage, DType stored, Device device) {
    switch (storage) {
    case WeightStorage::as_stored: {
        // Where the device has no kernels for the stored format (float16 on OpenCL): float32,
        // widened exactly.
        const WeightStorage kept = stored == DType::bf16  ? WeightStorage::bf16
                                   : stored == DType::f16 ? WeightStorage::f16
                                                          : WeightStorage::f32;
        return weight_storage_supported(kept, device) ? stored : DType::f32;
    }
    case WeightStorage::f32: return DType::f32;
    case WeightStorage::bf16: return DType::bf16;
    case WeightStorage::f16: return DType::f16;
    case WeightStorage::int8: return DType::i8;
    }
    return stored;
}

}  // namespace

WeightStorage parse_weight_storage(const std::string &name) {
    if (name == "auto") return WeightStorage::as_stored;
    if (name == "f32") return WeightStorage::f32;
    if (name == "bf16") return WeightStorage::bf16;
    if (name == "f16") return WeightStorage::f16;
    if (name == "int8") return WeightStorage::int8;
    throw Error(fmt::format("weights: expected auto, f32, bf16, f16 or int8, got '{}'", name));
}

const char *weight_storage_name(WeightStorage storage) {
    switch (storage) {
    case WeightStorage::as_stored:
        return "auto";
    case WeightStorage::f32:
        return "f32";
    case WeightStorage::bf16:
        return "bf16";
    case WeightStorage::f16:
        return "f16";
    case WeightStorage::int8:
        return "int8";
    }
    return "auto";
}

LinearWeight LinearWeight::pack(const Tensor &weight, Device device, const std::string &name, WeightStorage storage) {
    detail::check_rank(weight, "LinearWeight: " + name, 2, "out, in");
    const DType stored = weight.dtype();
    if (stored != DType::f32 && stored != DType::bf16 && stored != DType::f16) {
        throw Error(fmt::format("LinearWeight: {}: expected float32, bfloat16 or float16 weights, got {}", name,
                                dtype_name(stored)));
    }
    const int64_t out = weight.dim(0), in = weight.dim(1);
    if (out < 1 || in < 1) {
        throw Error(fmt::format("LinearWeight: {}: expected a non-empty [out, in], got {}", name, shape_string(weight.shape())));
    }
    const int64_t padded = (out + kColumnPadding - 1) / kColumnPadding * kColumnPadding;
    const DType dtype = storage_dtype(storage, stored, device);
    Tensor host = Tensor::empty({padded / kPanel, in, kPanel}, Device::cpu, dtype);
    Tensor scale = dtype == DType::i8 ? Tensor::empty({padded}) : Tensor();
    const int64_t bad = stored == DType::bf16  ? pack_from<Bf16>(weight, dtype, host, scale, padded)
                        : stored == DType::f16 ? pack_from<F16>(weight, dtype, host, scale, padded)
                                               : pack_from<F32>(weight, dtype, host, scale, padded);
    if (bad < 0 && dtype == DType::f16 && stored != DType::f16) {
        // A weight past float16's range became infinite: refused by name.
        const uint16_t *h = host.data_u16();
        const int64_t n = host.numel();
        for (int64_t k = 0; k < n; k++) {
            if ((h[k] & 0x7c00u) == 0x7c00u) {
                throw Error(fmt::format("LinearWeight: {}: a weight beyond float16's range (65504): store it as f32 "
                                        "or bf16",
                                        name));
            }
        }
    }
    if (bad >= 0) {
        throw Error(fmt::format("LinearWeight: {}: element {} (row {}, column {}) is not finite: expected finite weights",
                                name, bad, bad / in, bad % in));
    }
    LinearWeight w;
    w.packed = host.to(device);
    if (scale.defined()) w.scale = scale.to(device);
    w.in_features = in;
    w.out_features = out;
    w.name = name;
    return w;
}

Tensor to_float32(const Tensor &t, const std::string &name) {
    const int64_t n = t.numel();
    if (t.dtype() == DType::f32) {
        const float *v = t.data();
        for (int64_t k = 0; k < n; k++) {
            if (!std::isfinite(v[k])) throw Error(fmt::format("{}: element {} is {}: expected finite weights", name, k, v[k]));
        }
        return t;
    }
    if (t.dtype() != DType::bf16 && t.dtype() != DType::f16) {
        throw Error(fmt::format("{}: expected float32, bfloat16 or float16, got {}", name, dtype_name(t.dtype())));
    }
    Tensor out = Tensor::empty(t.shape());
    const uint16_t *src = t.data_u16();
    float *dst = out.data();
    const bool half = t.dtype() == DType::f16;
    int64_t bad = -1;
    for (int64_t k = 0; k < n; k++) {
        dst[k] = half ? half_to_float(src[k]) : bfloat16_to_float(src[k]);
        if (!std::isfinite(dst[k]) && bad < 0) bad = k;
    }
    if (bad >= 0) throw Error(fmt::format("{}: element {} is {}: expected finite weights", name, bad, dst[bad]));
    return out;
}

}  // namespace retnet
