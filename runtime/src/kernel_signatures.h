// The C signatures of the generated kernels (kernels.json names one per kernel; a generated
// function of another signature does not compile into the table) and the table's types: each
// kernel is a KernelSet, its variants told apart by device, instance (a compile-time algorithm
// parameter such as the chunk length) and shape bucket.
#pragma once

#include <cstdint>
#include <vector>

#include "HalideRuntime.h"
#include "retnet/device.h"

namespace retnet::detail {

// retention_parallel, retention_chunkwise and retention_recurrent.
using SequenceKernel = int (*)(halide_buffer_t *q, halide_buffer_t *k, halide_buffer_t *v, halide_buffer_t *decay,
                               float scale, bool has_initial_state, halide_buffer_t *initial_state,
                               halide_buffer_t *o, halide_buffer_t *final_state);
using DecodeStepKernel = int (*)(halide_buffer_t *q, halide_buffer_t *k, halide_buffer_t *v, halide_buffer_t *decay,
                                 float scale, halide_buffer_t *state, halide_buffer_t *o,
                                 halide_buffer_t *state_out);
// The step that rotates q and k itself (GPUs): the rotation tables and k's scale after the state.
using DecodeStepRotatedKernel = int (*)(halide_buffer_t *q, halide_buffer_t *k, halide_buffer_t *v,
                                        halide_buffer_t *decay, float scale, halide_buffer_t *state,
                                        halide_buffer_t *cos_table, halide_buffer_t *sin_table, float k_scale,
                                        halide_buffer_t *o, halide_buffer_t *state_out);
using LinearKernel = int (*)(halide_buffer_t *x, halide_buffer_t *weight, halide_buffer_t *y);
using LinearResidualKernel = int (*)(halide_buffer_t *x, halide_buffer_t *weight, halide_buffer_t *residual,
                                     float alpha, halide_buffer_t *y);
using LinearGluKernel = int (*)(halide_buffer_t *x, halide_buffer_t *weight, halide_buffer_t *gate_weight,
                                halide_buffer_t *y);
// Two products of one x in one kernel (the Tuple output's buffers last).
using LinearPairKernel = int (*)(halide_buffer_t *x, halide_buffer_t *weight, halide_buffer_t *second_weight,
                                 halide_buffer_t *y_0, halide_buffer_t *y_1);
// The int8 products: each weight with its per-output-column scale.
using LinearInt8Kernel = int (*)(halide_buffer_t *x, halide_buffer_t *weight, halide_buffer_t *scale, halide_buffer_t *y);
using LinearResidualInt8Kernel = int (*)(halide_buffer_t *x, halide_buffer_t *weight, halide_buffer_t *scale,
                                         halide_buffer_t *residual, float alpha, halide_buffer_t *y);
using LinearGluInt8Kernel = int (*)(halide_buffer_t *x, halide_buffer_t *weight, halide_buffer_t *scale,
                                    halide_buffer_t *gate_weight, halide_buffer_t *gate_scale, halide_buffer_t *y);
using LinearPairInt8Kernel = int (*)(halide_buffer_t *x, halide_buffer_t *weight, halide_buffer_t *scale,
                                     halide_buffer_t *second_weight, halide_buffer_t *second_scale,
                                     halide_buffer_t *y_0, halide_buffer_t *y_1);
// The pre-norm folded in (decoding on GPUs): the norm's weight and eps after the products' weights.
using LinearPairNormedKernel = int (*)(halide_buffer_t *x, halide_buffer_t *weight, halide_buffer_t *second_weight,
                                       halide_buffer_t *norm_weight, float eps, halide_buffer_t *y_0,
                                       halide_buffer_t *y_1);
using LinearGluNormedKernel = int (*)(halide_buffer_t *x, halide_buffer_t *weight, halide_buffer_t *gate_weight,
                                      halide_buffer_t *norm_weight, float eps, halide_buffer_t *y);
using LinearPairNormedInt8Kernel = int (*)(halide_buffer_t *x, halide_buffer_t *weight, halide_buffer_t *scale,
                                           halide_buffer_t *second_weight, halide_buffer_t *second_scale,
                                           halide_buffer_t *norm_weight, float eps, halide_buffer_t *y_0,
                                           halide_buffer_t *y_1);
using LinearGluNormedInt8Kernel = int (*)(halide_buffer_t *x, halide_buffer_t *weight, halide_buffer_t *scale,
                                          halide_buffer_t *gate_weight, halide_buffer_t *gate_scale,
                                          halide_buffer_t *norm_weight, float eps, halide_buffer_t *y);
using NormKernel = int (*)(halide_buffer_t *x, halide_buffer_t *weight, float eps, halide_buffer_t *y);
using GroupNormGateKernel = int (*)(halide_buffer_t *x, halide_buffer_t *gate, halide_buffer_t *weight, float eps,
                                    halide_buffer_t *y);
using RotateKernel = int (*)(halide_buffer_t *q, halide_buffer_t *k, halide_buffer_t *cos_table,
                             halide_buffer_t *sin_table, float k_scale, halide_buffer_t *q_rotated,
                             halide_buffer_t *k_rotated);
using RotationTablesKernel = int (*)(halide_buffer_t *start, halide_buffer_t *angles, halide_buffer_t *cos_table,
                                     halide_buffer_t *sin_table);
// The Transformer baseline's attention over a KV cache, in two kernels (generators/attention.cpp).
using AttentionChunksKernel = int (*)(halide_buffer_t *q, halide_buffer_t *k_cache, halide_buffer_t *v_cache,
                                      halide_buffer_t *lengths, float scale, halide_buffer_t *parts);
using AttentionCombineKernel = int (*)(halide_buffer_t *parts, halide_buffer_t *o);
using KvCacheAppendKernel = int (*)(halide_buffer_t *k, halide_buffer_t *v, int32_t start, halide_buffer_t *k_rows,
                                    halide_buffer_t *v_rows);
using EmbeddingKernel = int (*)(halide_buffer_t *tokens, halide_buffer_t *table, float scale, halide_buffer_t *y);
using GatherRowsKernel = int (*)(halide_buffer_t *ids, halide_buffer_t *table, halide_buffer_t *y);

// How a kernel's calls are split into shape buckets: by one extent (`by`), bucket i holding the
// extents up to maxima[i] and the last bucket the rest.
struct BucketRule {
    const char *name, *by;
    std::vector<int64_t> maxima;
    std::vector<const char *> names;

    int index(int64_t extent) const {
        int i = 0;
        while (i < static_cast<int>(maxima.size()) && extent > maxima[static_cast<size_t>(i)]) i++;
        return i;
    }
    const char *name_of(int64_t extent) const { return names[static_cast<size_t>(index(extent))]; }
};

// On the CPU a long sequence may run in blocks of tokens whose per-chunk states take about
// `state_bytes_per_head` a head (so they stay in a core's L2 between the scan and the outputs),
// each at least `min_tokens` long; zero: never blocked.
struct TokenBlocks {
    int64_t state_bytes_per_head = 0, min_tokens = 0;
};

template<typename Fn>
struct KernelVariant {
    Device device;
    int instance;  // the instance parameter's value (0: the kernel has none)
    int bucket;    // index into the kernel's BucketRule; -1: every shape
    Fn fn;
};

template<typename Fn>
struct KernelSet {
    const char *name;
    const char *instance_param;  // the algorithm parameter the instances differ in ("" if none)
    const BucketRule *buckets;
    TokenBlocks cpu_token_blocks;
    std::vector<KernelVariant<Fn>> variants;

    // The variant for `device`, `instance` and the bucket of `extent`: a bucket's own variant
    // (tuned, or the manifest's bucket schedule) before the default; nullptr if none is built.
    Fn find(Device device, int64_t extent, int instance = 0) const {
        const int bucket = buckets->index(extent);
        Fn fallback = nullptr;
        for (const KernelVariant<Fn> &v : variants) {
            if (v.device != device || v.instance != instance) continue;
            if (v.bucket == bucket) return v.fn;
            if (v.bucket < 0) fallback = v.fn;
        }
        return fallback;
    }
    bool built_for(Device device) const {
        for (const KernelVariant<Fn> &v : variants) {
            if (v.device == device) return true;
        }
        return false;
    }
    // The instance values built for `device`, ascending.
    std::vector<int> instances(Device device) const {
        std::vector<int> values;
        for (const KernelVariant<Fn> &v : variants) {
            if (v.device == device && v.bucket < 0) values.push_back(v.instance);
        }
        return values;
    }
};

}  // namespace retnet::detail
