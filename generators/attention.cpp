// Causal softmax attention over a KV cache: the Transformer baseline's attention
// (docs/SEMANTICS.md §8), for prefill (T queries) and decoding (T = 1) alike:
//
//   o(t) = sum_{j <= p_t} softmax_j(scale * q_t . k_j) v_j,   p_t = length(b) - T + t
//
// (the cache already holds the T new keys: query t of sequence b sits at position p_t). In two
// kernels, so that no T x S matrix is ever held and a long cache is spread over the GPU:
//   attention_chunks   per chunk c of `chunk` keys: o_c = sum exp(score - m_c) v, the sum l_c
//                      of exp(score - m_c) and the chunk's largest visible score m_c, side by
//                      side in one row of D + 2 (one output: the scores are computed once for
//                      all three); flash decoding's split over the cache;
//   attention_combine  o = sum_c exp(m_c - M) o_c / sum_c exp(m_c - M) l_c, M = max_c m_c.
// A chunk with no visible key has m_c = -1e30 (not -inf: exp(m_c - M) is then 0, never NaN).
//
// Layouts (Halide order, innermost first): q, o (d, h, t, b) = [B, T, H, D];
// k_cache (j, d, h, b) = [B, H, D, S], transposed so that a chunk's keys are contiguous for each
// feature; v_cache (d, j, h, b) = [B, H, S, D]; lengths (b) = [B] int32;
// The caches hold float32 or bfloat16 (its bits, uint16: half the memory; widened in registers).
// parts (e, t, c, h, b) = [B, H, C, T, D + 2]: e < D o_c, e = D l_c, e = D + 1 m_c.
#include "gpu/attention.h"
#include "gpu/elementwise.h"
#include "storage_types.h"

namespace retnet_gen {

constexpr float kNoScore = -1e30f;  // the largest score of a chunk that sees no key

template<typename C>
class AttentionChunksT : public Generator<AttentionChunksT<C>> {
public:
    RETNET_PARAMS_attention_cpu
        RETNET_PARAMS_attention_gpu
            GeneratorParam<int>
                chunk{"chunk", 128};  // keys per chunk

    GeneratorInput<Buffer<float, 4>> q{"q"};                // (d, h, t, b)
    GeneratorInput<Buffer<C, 4>> k_cache{"k_cache"};        // (j, d, h, b)
    GeneratorInput<Buffer<C, 4>> v_cache{"v_cache"};        // (d, j, h, b)
    GeneratorInput<Buffer<int32_t, 1>> lengths{"lengths"};  // (b): keys in the cache, the T new ones included
    GeneratorInput<float> scale{"scale"};
    GeneratorOutput<Buffer<float, 5>> parts{"parts"};  // (e, t, c, h, b)

    void generate() {
        Var e("e"), jj("jj"), t("t"), c("c"), h("h"), b("b");
        const Expr T = q.dim(2).extent(), S = k_cache.dim(0).extent(), D = q.dim(0).extent();
        // Key jj of chunk c, clamped into the cache: keys past its end are never visible.
        const Expr key = c * chunk + jj;
        Func visible("visible"), score("score"), largest("largest"), weight("weight"), chunk_out("chunk_out");
        visible(jj, t, c, b) = key <= lengths(b) - T + t && key < S;
        RDom rd(0, D, "rd");
        score(jj, t, c, h, b) = 0.0f;
        // Queries and keys clamped: a register tile may run past the last of either.
        score(jj, t, c, h, b) += q(rd, h, clamp(t, 0, T - 1), b) * widened(k_cache(clamp(key, 0, S - 1), rd, h, b));
        RDom r(0, chunk, "r");
        largest(t, c, h, b) = kNoScore;
        largest(t, c, h, b) = max(largest(t, c, h, b), select(visible(r, t, c, b), scale * score(r, t, c, h, b), kNoScore));
        // On CPUs exp is a scalar libm call per weight, which bounds a prefill; Halide's fast_exp
        // vectorises (relative error about 4e-6; its argument kept above -87, where it is defined).
        const Expr shifted = scale * score(jj, t, c, h, b) - largest(t, c, h, b);
        const Expr e_shifted = this->get_target().has_gpu_feature() ? exp(shifted) : fast_exp(max(shifted, -87.0f));
        weight(jj, t, c, h, b) = select(visible(jj, t, c, b), e_shifted, 0.0f);
        // Columns e < D: the values' weighted sum; e = D: the weights' sum (a value of 1); e = D + 1:
        // the largest score (a value of 0 adds nothing to it).
        const Expr value = select(e < D, widened(v_cache(clamp(e, 0, D - 1), clamp(c * chunk + r, 0, S - 1), h, b)),
                                  select(e == D, 1.0f, 0.0f));
        chunk_out(e, t, c, h, b) = select(e == D + 1, largest(t, c, h, b), 0.0f);
        chunk_out(e, t, c, h, b) += weight(r, t, c, h, b) * value;
        // The output is a copy, so that everything above is computed inside its loops, once.
        parts(e, t, c, h, b) = chunk_out(e, t, c, h, b);

        AttentionChunkFuncs f{parts, chunk_out, score, largest, weight, {e, jj, t, c, h, b}, rd};
        schedule_attention_chunks(*this, this->get_target(), f, chunk);
    }
};

class AttentionCombine : public Generator<AttentionCombine> {
public:
    RETNET_PARAMS_attention_cpu
        RETNET_PARAMS_attention_gpu

            Input<Buffer<float, 5>>
                parts{"parts"};       // (e, t, c, h, b)
    Output<Buffer<float, 4>> o{"o"};  // (d, h, t, b)

    void generate() {
        Var d("d"), t("t"), c("c"), h("h"), b("b");
        const Expr D = parts.dim(0).extent() - 2;
        RDom rc(0, parts.dim(2).extent(), "rc");
        Func overall("overall"), rescale("rescale"), unnormalised("unnormalised");
        overall(t, h, b) = kNoScore;
        overall(t, h, b) = max(overall(t, h, b), parts(D + 1, t, rc, h, b));
        rescale(t, c, h, b) = exp(parts(D + 1, t, c, h, b) - overall(t, h, b));
        // d < D: the rescaled sum of the chunks' outputs; d = D: of their weights' sums.
        unnormalised(d, t, h, b) = 0.0f;
        unnormalised(d, t, h, b) += parts(d, t, rc, h, b) * rescale(t, rc, h, b);
        o(d, h, t, b) = unnormalised(d, t, h, b) / unnormalised(D, t, h, b);

        AttentionCombineFuncs f{o, unnormalised, overall, rescale, d, t, h, b};
        schedule_attention_combine(*this, get_target(), f);
    }
};

// Appends keys and values to the caches: the outputs are the caches' rows [start, start + T) (the
// runtime passes crops of them, indexed as in the whole cache), the inputs the new rows, rounded
// to the caches' element type.
template<typename C>
class KvCacheAppendT : public Generator<KvCacheAppendT<C>> {
public:
    RETNET_PARAMS_rows_cpu
    RETNET_PARAMS_rows_gpu

    GeneratorInput<Buffer<float, 4>> k{"k"};         // (d, h, t, b)
    GeneratorInput<Buffer<float, 4>> v{"v"};         // (d, h, t, b)
    GeneratorInput<int32_t> start{"start"};          // the first row written
    GeneratorOutput<Buffer<C, 4>> k_rows{"k_rows"};  // (j, d, h, b): rows of the transposed key cache
    GeneratorOutput<Buffer<C, 4>> v_rows{"v_rows"};  // (d, j, h, b): rows of the value cache

    void generate() {
        Var d("d"), j("j"), h("h"), b("b");
        k_rows(j, d, h, b) = stored_as<C>(k(d, h, j - start, b));
        v_rows(d, j, h, b) = stored_as<C>(v(d, h, j - start, b));
        RowFuncs fk{k_rows, Func(), {d, h, b}}, fv{v_rows, Func(), {j, h, b}};
        schedule_rows(*this, this->get_target(), fk, j);
        schedule_rows(*this, this->get_target(), fv, d);
    }
};

}  // namespace retnet_gen

HALIDE_REGISTER_GENERATOR(retnet_gen::AttentionChunksT<float>, attention_chunks)
HALIDE_REGISTER_GENERATOR(retnet_gen::AttentionChunksT<uint16_t>, attention_chunks_bf16)
HALIDE_REGISTER_GENERATOR(retnet_gen::KvCacheAppendT<float>, kv_cache_append)
HALIDE_REGISTER_GENERATOR(retnet_gen::KvCacheAppendT<uint16_t>, kv_cache_append_bf16)
HALIDE_REGISTER_GENERATOR(retnet_gen::AttentionCombine, attention_combine)
