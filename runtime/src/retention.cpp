#include "retnet/retention.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <map>
#include <mutex>
#include <optional>
#include <tuple>

#include <fmt/format.h>

#include "halide_bridge.h"
#include "kernel_dispatch.h"
#include "retnet/error.h"
#include "retnet/layers.h"

namespace retnet {

using detail::cached;
using detail::check_rank;
using detail::check_same_device;
using detail::check_tensor;
using detail::find_kernel;
using detail::kernel_table;
using detail::KernelBuffer;
using detail::Label;
using detail::leaked;
using detail::run_kernel;

constexpr int64_t kMaxKeyDim = 256;    // K
constexpr int64_t kMaxValueDim = 512;  // V: RetNet often uses V = 2K

namespace {
double default_head_decay(int64_t head) { return 1.0 - std::ldexp(1.0, static_cast<int>(-5 - head)); }
}  // namespace

std::vector<double> default_decay(int64_t heads) {
    std::vector<double> decay(static_cast<size_t>(heads));
    for (int64_t h = 0; h < heads; h++) decay[static_cast<size_t>(h)] = default_head_decay(h);
    return decay;
}

const char *form_name(Form form) {
    switch (form) {
    case Form::automatic:
        return "auto";
    case Form::parallel:
        return "parallel";
    case Form::chunkwise:
        return "chunkwise";
    case Form::recurrent:
        return "recurrent";
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

void check_extent(int64_t value, int64_t lo, int64_t hi, Label what) {
    if (value < lo || value > hi) {
        throw Error(fmt::format("{}: expected {} to {}, got {}", what.str(), lo, hi, value));
    }
}

Dims check_sequence_inputs(const char *fn, const Tensor &q, const Tensor &k, const Tensor &v) {
    check_rank(q, Label(fn, "q"), 4, "B, T, H, K");
    check_rank(v, Label(fn, "v"), 4, "B, T, H, V");
    Dims d{q.dim(0), q.dim(1), q.dim(2), q.dim(3), v.dim(3)};
    check_extent(d.B, 1, INT32_MAX, Label(fn, "batch size B (q dimension 0)"));
    check_extent(d.T, 1, INT32_MAX, Label(fn, "sequence length T (q dimension 1)"));
    check_extent(d.H, 1, INT32_MAX, Label(fn, "head count H (q dimension 2)"));
    check_extent(d.K, 1, kMaxKeyDim, Label(fn, "key dimension K (q dimension 3)"));
    check_tensor(k, Label(fn, "k"), {d.B, d.T, d.H, d.K}, "B, T, H, K as in q");
    if (v.dim(0) != d.B || v.dim(1) != d.T || v.dim(2) != d.H) {
        throw Error(fmt::format("{}: v: expected shape [{}, {}, {}, V] (B, T, H as in q), got {}", fn, d.B, d.T, d.H,
                                shape_string(v.shape())));
    }
    check_extent(d.V, 1, kMaxValueDim, Label(fn, "value dimension V (v dimension 3)"));
    check_tensor(v, Label(fn, "v"), {d.B, d.T, d.H, d.V}, "B, T, H, V");
    return d;
}

// Which per-head decay a kernel takes: gamma itself (the recurrent kernels) or its log (the
// parallel and chunkwise kernels, from log in double).
enum class DecayForm { gamma,
                       log_gamma };

// Per-head decay (validated) in the kernel's form, and the scale, resolved against their defaults.
struct Decay {
    std::vector<float> values;
    float scale;
};

Decay resolve_decay(const char *fn, const RetentionOptions &options, int64_t H, int64_t K, DecayForm form) {
    const bool given = !options.decay.empty();
    if (given && static_cast<int64_t>(options.decay.size()) != H) {
        throw Error(fmt::format("{}: decay: expected {} values (one per head, H = {}), got {}", fn, H, H,
                                options.decay.size()));
    }
    Decay d;
    d.values.resize(static_cast<size_t>(H));
    for (int64_t h = 0; h < H; h++) {
        double g = given ? options.decay[static_cast<size_t>(h)] : default_head_decay(h);
        if (!std::isfinite(g) || g <= 0.0 || g >= 1.0) {
            throw Error(fmt::format("{}: decay[{}]: expected a finite value in (0, 1), got {}", fn, h, g));
        }
        d.values[static_cast<size_t>(h)] = static_cast<float>(form == DecayForm::gamma ? g : std::log(g));
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

// A zero state per (device, shape), made once: the kernels take an initial-state buffer even when
// told to ignore it, and making (on a GPU: uploading) one per call would be a hidden copy per call.
Tensor cached_zero_state(const Shape &shape, Device device) {
    static std::mutex mutex;
    static auto &cache = leaked<std::map<std::pair<Device, Shape>, Tensor>>();
    std::lock_guard<std::mutex> lock(mutex);
    return cached(cache, std::make_pair(device, shape), 16, [&] { return Tensor::zeros(shape, device); });
}

// Somewhere to write a state nobody asked for, per thread (so that concurrent calls do not share
// it), device, shape and slot: slot 0 takes unwanted final states, slots 1 and 2 the states
// carried between the blocks of one call (run_in_token_blocks).
Tensor scratch_state(const Shape &shape, Device device, int slot = 0) {
    thread_local auto &cache = leaked<std::map<std::tuple<Device, Shape, int>, Tensor>>();
    return cached(cache, std::make_tuple(device, shape, slot), 16, [&] { return Tensor::empty(shape, device); });
}

States prepare_states(const char *fn, const Dims &d, Device device, const Tensor *initial_state, Tensor *final_state) {
    const Shape state_shape{d.B, d.H, d.K, d.V};
    States s;
    if (initial_state) {
        check_tensor(*initial_state, Label(fn, "initial_state"), state_shape, "B, H, K, V");
        s.initial = *initial_state;
        s.has_initial = true;
    } else {
        s.initial = cached_zero_state(state_shape, device);
    }
    if (final_state) {
        check_tensor(*final_state, Label(fn, "final_state"), state_shape, "B, H, K, V");
        s.final_out = *final_state;
    } else {
        s.final_out = scratch_state(state_shape, device);
    }
    return s;
}

// The per-head decay values as a kernel argument. On a GPU they are kept on the device, cached by
// value: otherwise every call (every decode step) would allocate, copy and free them.
class DecayArgument {
    static constexpr size_t kDecayCacheBound = 64;  // models of distinct decays in one process

public:
    DecayArgument(std::vector<float> &values, Device device) {
        if (device == Device::cpu) {
            buffer_.emplace(values);
            return;
        }
        // A model's layers share their decay values, so each thread first checks the values it
        // used last (no lock); then the process-wide cache.
        struct Last {
            Device device;
            std::vector<float> values;
            Tensor tensor;
        };
        thread_local Last *last = new Last{Device::cpu, {}, Tensor()};  // never destroyed: see leaked()
        if (last->device != device || last->values != values) {
            static std::mutex mutex;
            static auto &cache = leaked<std::map<std::pair<Device, std::vector<float>>, Tensor>>();
            std::lock_guard<std::mutex> lock(mutex);
            const auto key = std::make_pair(device, values);
            if (cache.size() >= kDecayCacheBound && cache.count(key) == 0) detail::decay_cache_generation()++;
            *last = {device, values, cached(cache, key, kDecayCacheBound, [&] {
                         return Tensor::view(values.data(), {static_cast<int64_t>(values.size())}).to(device);
                     })};
        }
        on_device_ = last->tensor;
        buffer_.emplace(on_device_, "decay");
    }
    operator halide_buffer_t *() { return *buffer_; }

private:
    Tensor on_device_;
    std::optional<KernelBuffer> buffer_;
};

// The token block of a CPU chunkwise call: chunks whose stored states (K V floats a head, a chunk)
// take about `blocks.state_bytes_per_head` a head, and at least `blocks.min_tokens` tokens, so that
// the states and the block's inputs stay in a core's L2 cache between the scan and the outputs and
// a block's work outweighs a kernel call (kernels.json, cpu_token_blocks). 0: not blocked.
int64_t cpu_chunkwise_token_block(const detail::TokenBlocks &blocks, int chunk, int64_t K, int64_t V) {
    if (blocks.state_bytes_per_head <= 0) return 0;
    const int64_t state_bytes = K * V * static_cast<int64_t>(sizeof(float));
    return chunk * std::max((blocks.min_tokens + chunk - 1) / chunk, blocks.state_bytes_per_head / state_bytes);
}

// Runs a sequence kernel over consecutive blocks of `block` tokens of CPU buffers, each block
// starting from the state the one before it ended with (the forms are exact across any split of
// the sequence); the last block writes `final_state`, the others one of two scratch states.
// `qkvo` are q, k, v and o, whose dimension 2 in Halide's reversed order is T.
void run_in_token_blocks(const char *fn, detail::SequenceKernel kernel, const Dims &d, int64_t block,
                         std::array<KernelBuffer *, 4> qkvo, halide_buffer_t *decay, float scale,
                         bool has_initial, halide_buffer_t *initial_state, halide_buffer_t *final_state) {
    constexpr int kTokens = 2;
    const Shape state_shape{d.B, d.H, d.K, d.V};
    KernelBuffer carried[2] = {{scratch_state(state_shape, Device::cpu, 1), Label(fn, "carried state")},
                               {scratch_state(state_shape, Device::cpu, 2), Label(fn, "carried state")}};
    halide_buffer_t *initial = initial_state;
    for (int64_t first = 0, n = 0; first < d.T; first += block, n++) {
        const int64_t count = std::min(block, d.T - first);
        halide_buffer_t *final = first + count == d.T ? final_state : carried[n % 2];
        auto slice = [&](KernelBuffer *whole) { return detail::host_slice(whole->buffer(), kTokens, first, count); };
        auto q = slice(qkvo[0]), k = slice(qkvo[1]), v = slice(qkvo[2]), o = slice(qkvo[3]);
        run_kernel(fn, [&] {
            return kernel(q.raw_buffer(), k.raw_buffer(), v.raw_buffer(), decay, scale, has_initial, initial,
                          o.raw_buffer(), final);
        });
        initial = final;
        has_initial = true;
    }
}

// Checks and runs one sequence form with a kernel of `kernels` (`chunk`: the chunkwise instance,
// 0 for the others). Kernels with token blocks (the chunkwise form) run on the CPU in blocks.
void run_sequence_form(const char *fn, const detail::KernelSet<detail::SequenceKernel> &kernels, const Tensor &q,
                       const Tensor &k, const Tensor &v, Tensor &o, const RetentionOptions &options,
                       const Tensor *initial_state, Tensor *final_state, bool recurrent_decay, int chunk = 0) {
    Dims d = check_sequence_inputs(fn, q, k, v);
    check_tensor(o, Label(fn, "o"), {d.B, d.T, d.H, d.V}, "B, T, H, V");
    check_same_device(fn, {{"q", &q}, {"k", &k}, {"v", &v}, {"o", &o}, {"initial_state", initial_state}, {"final_state", final_state}});
    Decay decay = resolve_decay(fn, options, d.H, d.K, recurrent_decay ? DecayForm::gamma : DecayForm::log_gamma);
    detail::SequenceKernel kernel = find_kernel(fn, kernels, q.device(), d.T, chunk);
    States states = prepare_states(fn, d, q.device(), initial_state, final_state);
    KernelBuffer hq(q, Label(fn, "q")), hk(k, Label(fn, "k")), hv(v, Label(fn, "v")), ho(o, Label(fn, "o"));
    KernelBuffer hs0(states.initial, Label(fn, "initial_state")), hsf(states.final_out, Label(fn, "final_state"));
    DecayArgument hdecay(decay.values, q.device());
    const int64_t block =
        q.device() == Device::cpu && chunk > 0 ? cpu_chunkwise_token_block(kernels.cpu_token_blocks, chunk, d.K, d.V) : 0;
    if (block <= 0 || d.T <= block) {
        run_kernel(fn, [&] { return kernel(hq, hk, hv, hdecay, decay.scale, states.has_initial, hs0, ho, hsf); });
    } else {
        run_in_token_blocks(fn, kernel, d, block, {&hq, &hk, &hv, &ho}, hdecay, decay.scale, states.has_initial, hs0, hsf);
    }
}

}  // namespace

std::vector<int> supported_chunk_lengths(Device device) {
    return kernel_table().retention_chunkwise.instances(device);
}

void retention_parallel(const Tensor &q, const Tensor &k, const Tensor &v, Tensor &o, const RetentionOptions &options,
                        const Tensor *initial_state, Tensor *final_state) {
    run_sequence_form("retention_parallel", kernel_table().retention_parallel, q, k, v, o, options, initial_state,
                      final_state, false);
}

void retention_chunkwise(const Tensor &q, const Tensor &k, const Tensor &v, Tensor &o, int chunk,
                         const RetentionOptions &options, const Tensor *initial_state, Tensor *final_state) {
    run_sequence_form("retention_chunkwise", kernel_table().retention_chunkwise, q, k, v, o, options, initial_state,
                      final_state, false, chunk);
}

void retention_recurrent(const Tensor &q, const Tensor &k, const Tensor &v, Tensor &o, const RetentionOptions &options,
                         const Tensor *initial_state, Tensor *final_state) {
    run_sequence_form("retention_recurrent", kernel_table().retention_recurrent, q, k, v, o, options, initial_state,
                      final_state, true);
}

namespace {

// What retention_decode_step checks of its tensors, and their B, H, K, V.
struct StepDims {
    int64_t B, H, K, V;
};

StepDims check_decode_step(const char *fn, const Tensor &q, const Tensor &k, const Tensor &v, const Tensor &state,
                           const Tensor &o) {
    // Called once per token and layer: no strings are built here unless a check fails.
    check_rank(q, Label(fn, "q"), 3, "B, H, K");
    check_rank(v, Label(fn, "v"), 3, "B, H, V");
    const int64_t B = q.dim(0), H = q.dim(1), K = q.dim(2), V = v.dim(2);
    check_extent(B, 1, INT32_MAX, Label(fn, "batch size B (q dimension 0)"));
    check_extent(H, 1, INT32_MAX, Label(fn, "head count H (q dimension 1)"));
    check_extent(K, 1, kMaxKeyDim, Label(fn, "key dimension K (q dimension 2)"));
    check_tensor(k, Label(fn, "k"), {B, H, K}, "B, H, K as in q");
    if (v.dim(0) != B || v.dim(1) != H) {
        throw Error(fmt::format("{}: v: expected shape [{}, {}, V] (B, H as in q), got {}", fn, B, H, shape_string(v.shape())));
    }
    check_extent(V, 1, kMaxValueDim, Label(fn, "value dimension V (v dimension 2)"));
    check_tensor(state, Label(fn, "state"), {B, H, K, V}, "B, H, K, V");
    check_tensor(o, Label(fn, "o"), {B, H, V}, "B, H, V");
    check_same_device(fn, {{"q", &q}, {"k", &k}, {"v", &v}, {"state", &state}, {"o", &o}});
    return {B, H, K, V};
}

// The step's kernel for its shape: K = V = 128 and K = 256 have kernels of their own on GPUs (a
// thread's state rows in registers; K = V = 128: every offset inside a head a constant).
template<typename Fn>
Fn decode_step_kernel(const char *fn, const detail::KernelSet<Fn> &any_shape, const detail::KernelSet<Fn> &k256,
                      const detail::KernelSet<Fn> &kv128, const StepDims &d, Device device) {
    if (d.K == 128 && d.V == 128 && kv128.built_for(device)) return find_kernel(fn, kv128, device, d.B * d.H);
    if (d.K == 256 && d.V % 32 == 0 && k256.built_for(device)) return find_kernel(fn, k256, device);
    return find_kernel(fn, any_shape, device, d.B);
}

}  // namespace

void retention_decode_step(const Tensor &q, const Tensor &k, const Tensor &v, Tensor &state, Tensor &o,
                           const RetentionOptions &options) {
    const char *fn = "retention_decode_step";
    const StepDims d = check_decode_step(fn, q, k, v, state, o);
    Decay decay = resolve_decay(fn, options, d.H, d.K, DecayForm::gamma);
    const detail::KernelTable &table = kernel_table();
    auto step = decode_step_kernel(fn, table.retention_decode_step, table.retention_decode_step_k256,
                                   table.retention_decode_step_kv128, d, q.device());
    KernelBuffer hq(q, Label(fn, "q")), hk(k, Label(fn, "k")), hv(v, Label(fn, "v")), hs(state, Label(fn, "state"));
    KernelBuffer ho(o, Label(fn, "o")), hs_out(state, Label(fn, "state"));
    DecayArgument gamma(decay.values, q.device());
    run_kernel(fn, [&] { return step(hq, hk, hv, gamma, decay.scale, hs, ho, hs_out); });
}

void retention_decode_step_rotated(const Tensor &q, const Tensor &k, const RotationTables &tables, float k_scale,
                                   const Tensor &v, Tensor &state, Tensor &o, const RetentionOptions &options) {
    const char *fn = "retention_decode_step_rotated";
    const StepDims d = check_decode_step(fn, q, k, v, state, o);
    if (d.K % 2 != 0) {
        throw Error(fmt::format("{}: key dimension K (q dimension 2): expected an even number, got {}", fn, d.K));
    }
    check_tensor(tables.cos, Label(fn, "cos"), {d.B, 1, d.K / 2}, "B of q, one position, K/2");
    check_tensor(tables.sin, Label(fn, "sin"), {d.B, 1, d.K / 2}, "as cos");
    check_same_device(fn, {{"q", &q}, {"cos", &tables.cos}, {"sin", &tables.sin}});
    if (q.device() == Device::cpu) {
        throw Error(fmt::format("{}: the step that rotates q and k is built for GPUs only: on the CPU use "
                                "rotate_query_key, then retention_decode_step",
                                fn));
    }
    Decay decay = resolve_decay(fn, options, d.H, d.K, DecayForm::gamma);
    const detail::KernelTable &table = kernel_table();
    auto step = decode_step_kernel(fn, table.retention_decode_step_rotated, table.retention_decode_step_k256_rotated,
                                   table.retention_decode_step_kv128_rotated, d, q.device());
    KernelBuffer hq(q, Label(fn, "q")), hk(k, Label(fn, "k")), hv(v, Label(fn, "v")), hs(state, Label(fn, "state"));
    KernelBuffer hc(tables.cos, Label(fn, "cos")), hsin(tables.sin, Label(fn, "sin"));
    KernelBuffer ho(o, Label(fn, "o")), hs_out(state, Label(fn, "state"));
    DecayArgument gamma(decay.values, q.device());
    run_kernel(fn, [&] { return step(hq, hk, hv, gamma, decay.scale, hs, hc, hsin, k_scale, ho, hs_out); });
}

bool rotated_decode_step_built_for(Device device) {
    return kernel_table().retention_decode_step_rotated.built_for(device);
}

RetentionResult retention(const Tensor &q, const Tensor &k, const Tensor &v, const RetentionOptions &options, Form form,
                          const Tensor *initial_state, bool want_final_state, int chunk) {
    Dims d = check_sequence_inputs("retention", q, k, v);
    RetentionResult result;
    result.form = form == Form::automatic ? choose_form(d.T) : form;
    result.o = Tensor::empty({d.B, d.T, d.H, d.V}, q.device());
    if (want_final_state) result.final_state = Tensor::empty({d.B, d.H, d.K, d.V}, q.device());
    Tensor *final_state = want_final_state ? &result.final_state : nullptr;
    switch (result.form) {
    case Form::parallel:
        retention_parallel(q, k, v, result.o, options, initial_state, final_state);
        break;
    case Form::recurrent:
        retention_recurrent(q, k, v, result.o, options, initial_state, final_state);
        break;
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
