#include "retnet/retention.h"

#include <cmath>
#include <map>

#include <fmt/format.h>

#include "halide_bridge.h"
#include "retnet/error.h"
#include "retention_chunkwise_variants.h"
#include "retention_decode_step_cpu.h"
#include "retention_parallel_cpu.h"
#include "retention_recurrent_cpu.h"

namespace retnet {

using detail::halide_view;
using detail::run_kernel;

constexpr int64_t kMaxKeyDim = 256;    // K
constexpr int64_t kMaxValueDim = 512;  // V: RetNet often uses V = 2K

std::vector<double> default_decay(int64_t heads) {
    std::vector<double> decay(static_cast<size_t>(heads));
    for (int64_t h = 0; h < heads; h++) decay[static_cast<size_t>(h)] = 1.0 - std::ldexp(1.0, static_cast<int>(-5 - h));
    return decay;
}

const char *form_name(Form form) {
    switch (form) {
    case Form::automatic: return "auto";
    case Form::parallel: return "parallel";
    case Form::chunkwise: return "chunkwise";
    case Form::recurrent: return "recurrent";
    }
    return "unknown";
}

Form parse_form(const std::string &name) {
    for (Form f : {Form::automatic, Form::parallel, Form::chunkwise, Form::recurrent}) {
        if (name == form_name(f)) return f;
    }
    throw Error(fmt::format("form: expected one of auto, parallel, chunkwise, recurrent; got '{}'", name));
}

Form choose_form(int64_t seq_len) {
    if (seq_len == 1) return Form::recurrent;
    if (seq_len <= kParallelMaxT) return Form::parallel;
    return Form::chunkwise;
}

namespace {

// Sizes shared by every form, read from q and checked against k, v and the states.
struct Dims {
    int64_t B, T, H, K, V;
};

void check_rank(const Tensor &t, const std::string &role, int rank, const char *dims) {
    if (!t.defined()) throw Error(fmt::format("{}: expected a tensor [{}], got an undefined tensor", role, dims));
    if (t.rank() != rank) {
        throw Error(fmt::format("{}: expected {} dimensions [{}], got shape {}", role, rank, dims, shape_string(t.shape())));
    }
}

void check_extent(int64_t value, int64_t lo, int64_t hi, const std::string &what) {
    if (value < lo || value > hi) {
        throw Error(fmt::format("{}: expected {} to {}, got {}", what, lo, hi, value));
    }
}

Dims check_sequence_inputs(const char *fn, const Tensor &q, const Tensor &k, const Tensor &v) {
    const std::string f = fn;
    check_rank(q, f + ": q", 4, "B, T, H, K");
    check_rank(v, f + ": v", 4, "B, T, H, V");
    Dims d{q.dim(0), q.dim(1), q.dim(2), q.dim(3), v.dim(3)};
    check_extent(d.B, 1, INT32_MAX, f + ": batch size B (q dimension 0)");
    check_extent(d.T, 1, INT32_MAX, f + ": sequence length T (q dimension 1)");
    check_extent(d.H, 1, INT32_MAX, f + ": head count H (q dimension 2)");
    check_extent(d.K, 1, kMaxKeyDim, f + ": key dimension K (q dimension 3)");
    check_tensor(k, f + ": k", {d.B, d.T, d.H, d.K}, "B, T, H, K as in q");
    if (v.dim(0) != d.B || v.dim(1) != d.T || v.dim(2) != d.H) {
        throw Error(fmt::format("{}: v: expected shape [{}, {}, {}, V] (B, T, H as in q), got {}", f, d.B, d.T, d.H,
                                shape_string(v.shape())));
    }
    check_extent(d.V, 1, kMaxValueDim, f + ": value dimension V (v dimension 3)");
    check_tensor(v, f + ": v", {d.B, d.T, d.H, d.V}, "B, T, H, V");
    return d;
}

// Per-head gamma (validated) and the scale, resolved against their defaults.
struct Decay {
    std::vector<float> gamma;      // for the recurrent kernels
    std::vector<float> log_gamma;  // for the parallel and chunkwise kernels, from log in double
    float scale;
};

Decay resolve_decay(const char *fn, const RetentionOptions &options, int64_t H, int64_t K) {
    std::vector<double> gamma = options.decay.empty() ? default_decay(H) : options.decay;
    if (static_cast<int64_t>(gamma.size()) != H) {
        throw Error(fmt::format("{}: decay: expected {} values (one per head, H = {}), got {}", fn, H, H, gamma.size()));
    }
    Decay d;
    for (size_t h = 0; h < gamma.size(); h++) {
        double g = gamma[h];
        if (!std::isfinite(g) || g <= 0.0 || g >= 1.0) {
            throw Error(fmt::format("{}: decay[{}]: expected a finite value in (0, 1), got {}", fn, h, g));
        }
        d.gamma.push_back(static_cast<float>(g));
        d.log_gamma.push_back(static_cast<float>(std::log(g)));
    }
    double scale = options.scale.value_or(1.0 / std::sqrt(static_cast<double>(K)));
    if (!std::isfinite(scale)) throw Error(fmt::format("{}: scale: expected a finite value, got {}", fn, scale));
    d.scale = static_cast<float>(scale);
    return d;
}

// The state tensors of the sequence forms: the initial state is read (zeros when absent) and the
// final state written (into scratch when not wanted).
struct States {
    Tensor initial, final_out;
    bool has_initial = false;
};

States prepare_states(const char *fn, const Dims &d, const Tensor *initial_state, Tensor *final_state) {
    const Shape state_shape{d.B, d.H, d.K, d.V};
    States s;
    if (initial_state) {
        check_tensor(*initial_state, std::string(fn) + ": initial_state", state_shape, "B, H, K, V");
        s.initial = *initial_state;
        s.has_initial = true;
    } else {
        s.initial = Tensor::zeros(state_shape);
    }
    if (final_state) {
        check_tensor(*final_state, std::string(fn) + ": final_state", state_shape, "B, H, K, V");
        s.final_out = *final_state;
    } else {
        s.final_out = Tensor::empty(state_shape);
    }
    return s;
}

Halide::Runtime::Buffer<float> vector_buffer(std::vector<float> &values) {
    return Halide::Runtime::Buffer<float>(values.data(), static_cast<int>(values.size()));
}

// Checks and runs one sequence form; `kernel(q, k, v, decay, states, o)` calls the generated code.
template<typename Kernel>
void run_sequence_form(const char *fn, const Tensor &q, const Tensor &k, const Tensor &v, Tensor &o,
                       const RetentionOptions &options, const Tensor *initial_state, Tensor *final_state,
                       Kernel &&kernel) {
    Dims d = check_sequence_inputs(fn, q, k, v);
    check_tensor(o, std::string(fn) + ": o", {d.B, d.T, d.H, d.V}, "B, T, H, V");
    Decay decay = resolve_decay(fn, options, d.H, d.K);
    States states = prepare_states(fn, d, initial_state, final_state);
    const std::string f = fn;
    auto hq = halide_view(q, f + ": q"), hk = halide_view(k, f + ": k"), hv = halide_view(v, f + ": v");
    auto ho = halide_view(o, f + ": o");
    auto hs0 = halide_view(states.initial, f + ": initial_state");
    auto hsf = halide_view(states.final_out, f + ": final_state");
    run_kernel(fn, [&] { return kernel(hq, hk, hv, decay, states.has_initial, hs0, ho, hsf); });
}

}  // namespace

const std::vector<int> &supported_chunk_lengths() {
    static const std::vector<int> lengths = [] {
        std::vector<int> out;
        for (const auto &variant : detail::chunkwise_variants()) out.push_back(variant.chunk);
        return out;
    }();
    return lengths;
}

void retention_parallel(const Tensor &q, const Tensor &k, const Tensor &v, Tensor &o, const RetentionOptions &options,
                        const Tensor *initial_state, Tensor *final_state) {
    run_sequence_form("retention_parallel", q, k, v, o, options, initial_state, final_state,
                      [](auto &hq, auto &hk, auto &hv, Decay &decay, bool has_s0, auto &hs0, auto &ho, auto &hsf) {
                          auto log_gamma = vector_buffer(decay.log_gamma);
                          return retention_parallel_cpu(hq, hk, hv, log_gamma, decay.scale, has_s0, hs0, ho, hsf);
                      });
}

void retention_chunkwise(const Tensor &q, const Tensor &k, const Tensor &v, Tensor &o, int chunk,
                         const RetentionOptions &options, const Tensor *initial_state, Tensor *final_state) {
    const detail::ChunkwiseVariant *variant = nullptr;
    for (const auto &candidate : detail::chunkwise_variants()) {
        if (candidate.chunk == chunk) variant = &candidate;
    }
    if (!variant) {
        throw Error(fmt::format("retention_chunkwise: chunk: expected one of {}, got {}",
                                fmt::join(supported_chunk_lengths(), ", "), chunk));
    }
    run_sequence_form("retention_chunkwise", q, k, v, o, options, initial_state, final_state,
                      [variant](auto &hq, auto &hk, auto &hv, Decay &decay, bool has_s0, auto &hs0, auto &ho, auto &hsf) {
                          auto log_gamma = vector_buffer(decay.log_gamma);
                          return variant->kernel(hq, hk, hv, log_gamma, decay.scale, has_s0, hs0, ho, hsf);
                      });
}

void retention_recurrent(const Tensor &q, const Tensor &k, const Tensor &v, Tensor &o, const RetentionOptions &options,
                         const Tensor *initial_state, Tensor *final_state) {
    run_sequence_form("retention_recurrent", q, k, v, o, options, initial_state, final_state,
                      [](auto &hq, auto &hk, auto &hv, Decay &decay, bool has_s0, auto &hs0, auto &ho, auto &hsf) {
                          auto gamma = vector_buffer(decay.gamma);
                          return retention_recurrent_cpu(hq, hk, hv, gamma, decay.scale, has_s0, hs0, ho, hsf);
                      });
}

void retention_decode_step(const Tensor &q, const Tensor &k, const Tensor &v, Tensor &state, Tensor &o,
                           const RetentionOptions &options) {
    const char *fn = "retention_decode_step";
    const std::string f = fn;
    check_rank(q, f + ": q", 3, "B, H, K");
    check_rank(v, f + ": v", 3, "B, H, V");
    const int64_t B = q.dim(0), H = q.dim(1), K = q.dim(2), V = v.dim(2);
    check_extent(B, 1, INT32_MAX, f + ": batch size B (q dimension 0)");
    check_extent(H, 1, INT32_MAX, f + ": head count H (q dimension 1)");
    check_extent(K, 1, kMaxKeyDim, f + ": key dimension K (q dimension 2)");
    check_tensor(k, f + ": k", {B, H, K}, "B, H, K as in q");
    if (v.dim(0) != B || v.dim(1) != H) {
        throw Error(fmt::format("{}: v: expected shape [{}, {}, V] (B, H as in q), got {}", f, B, H, shape_string(v.shape())));
    }
    check_extent(V, 1, kMaxValueDim, f + ": value dimension V (v dimension 2)");
    check_tensor(state, f + ": state", {B, H, K, V}, "B, H, K, V");
    check_tensor(o, f + ": o", {B, H, V}, "B, H, V");
    Decay decay = resolve_decay(fn, options, H, K);
    auto hq = halide_view(q, f + ": q"), hk = halide_view(k, f + ": k"), hv = halide_view(v, f + ": v");
    auto hs = halide_view(state, f + ": state"), ho = halide_view(o, f + ": o");
    auto gamma = vector_buffer(decay.gamma);
    run_kernel(fn, [&] { return retention_decode_step_cpu(hq, hk, hv, gamma, decay.scale, hs, ho, hs); });
}

RetentionResult retention(const Tensor &q, const Tensor &k, const Tensor &v, const RetentionOptions &options, Form form,
                          const Tensor *initial_state, bool want_final_state, int chunk) {
    Dims d = check_sequence_inputs("retention", q, k, v);
    RetentionResult result;
    result.form = form == Form::automatic ? choose_form(d.T) : form;
    result.o = Tensor::empty({d.B, d.T, d.H, d.V});
    if (want_final_state) result.final_state = Tensor::empty({d.B, d.H, d.K, d.V});
    Tensor *final_state = want_final_state ? &result.final_state : nullptr;
    switch (result.form) {
    case Form::parallel: retention_parallel(q, k, v, result.o, options, initial_state, final_state); break;
    case Form::recurrent: retention_recurrent(q, k, v, result.o, options, initial_state, final_state); break;
    case Form::chunkwise:
    case Form::automatic:
        result.form = Form::chunkwise;
        result.chunk = chunk == 0 ? kDefaultChunk : chunk;
        retention_chunkwise(q, k, v, result.o, result.chunk, options, initial_state, final_state);
        break;
    }
    return result;
}

}  // namespace retnet
