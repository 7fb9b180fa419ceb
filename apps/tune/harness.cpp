// Compiled without RTTI, like Halide's generators (their classes derive from libHalide's).
#include "harness.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <thread>

#include <fmt/format.h>

#include "Halide.h"
#include "linear.h"
#include "reference.h"
#include "retention_chunkwise.h"
#include "retention_parallel.h"
#include "retention_recurrent.h"
#include "retnet/error.h"
#include "retnet/retention.h"
#include "tuning_problems.h"
#include "tuning_space.h"

namespace retnet::tune {

namespace {

using Halide::Buffer;

// Random values in [-1, 1) (never zeros) into a Halide buffer.
void fill_random(Buffer<float> &b, std::mt19937 &rng) {
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    b.for_each_value([&](float &x) { x = u(rng); });
}

double relative_error(const Buffer<float> &actual, const std::vector<double> &expected) {
    double num = 0, den = 0;
    const float *a = actual.data();
    for (size_t i = 0; i < expected.size(); i++) {
        if (std::isnan(a[i])) return NAN;
        num += (a[i] - expected[i]) * (a[i] - expected[i]);
        den += expected[i] * expected[i];
    }
    return std::sqrt(num / den);
}

// The last-level cache's size, to flush it between timed calls.
size_t last_level_cache_bytes() {
    std::ifstream in("/sys/devices/system/cpu/cpu0/cache/index3/size");
    std::string s;
    size_t kb = 32 * 1024;  // 32 MB when unknown
    if (in >> s && !s.empty()) kb = std::stoul(s);
    return kb * 1024;
}

void flush_caches() {
    static std::vector<char> scratch(std::min<size_t>(2 * last_level_cache_bytes(), size_t(512) << 20));
    static char value = 0;
    std::memset(scratch.data(), ++value, scratch.size());
}

// Inputs of one problem: the buffers the pipeline is bound to, and other contents to rotate in.
struct Inputs {
    std::vector<Buffer<float>> bound;
    std::vector<std::vector<std::vector<float>>> other_sets;  // [set][input] contents

    void make_sets(int sets, std::mt19937 &rng) {
        other_sets.clear();
        for (int s = 1; s < sets; s++) {
            std::vector<std::vector<float>> set;
            for (Buffer<float> &b : bound) {
                Buffer<float> copy = b.copy();
                fill_random(copy, rng);
                set.emplace_back(copy.data(), copy.data() + copy.number_of_elements());
            }
            other_sets.push_back(std::move(set));
        }
    }
    // Own copies of the bound buffers (the other sets are only read): timing overwrites them.
    Inputs copy() const {
        Inputs c = *this;
        for (Buffer<float> &b : c.bound) b = b.copy();
        return c;
    }
    void load(size_t set) {  // set 0 is the original (checked) contents
        if (set == 0 || other_sets.empty()) return;
        const auto &contents = other_sets[(set - 1) % other_sets.size()];
        for (size_t i = 0; i < bound.size(); i++) std::memcpy(bound[i].data(), contents[i].data(), contents[i].size() * 4);
    }
};

// A problem's inputs, per-head values and float64 reference: made once, in the tuner's process
// before any candidate's child is forked (the children share them), not once per candidate.
struct Fixture {
    Inputs in;
    Buffer<float> per_head;  // log gamma or gamma, by kernel
    float scale = 1.0f;
    std::vector<std::vector<double>> expected;
};

std::function<const Fixture &()> made_once(std::function<Fixture()> make) {
    auto cell = std::make_shared<std::optional<Fixture>>();
    return [cell, make]() -> const Fixture & {
        if (!*cell) cell->emplace(make());
        return **cell;
    };
}

Halide::Internal::GeneratorParamsMap generator_params(const std::map<std::string, int> &fixed, const Candidate &c, bool autoschedule) {
    Halide::Internal::GeneratorParamsMap gp;
    for (const auto &[k, v] : fixed) gp[k] = std::to_string(v);
    if (autoschedule) {
        gp["auto_schedule"] = "true";
    } else {
        for (const auto &[k, v] : c) gp[k] = std::to_string(v);
    }
    return gp;
}

// JIT-compiles the generator's pipeline, checks every output, times it with rotated inputs.
Evaluation compile_check_time(Halide::Pipeline pipeline, const Halide::Target &target, bool autoschedule,
                              Inputs &inputs, std::vector<Buffer<float>> outputs,
                              const std::vector<std::vector<double>> &expected, const TimingOptions &timing) {
    const bool gpu = target.has_gpu_feature();
    if (autoschedule && gpu) return {std::nullopt, "Adams2019 schedules CPUs only"};
    if (autoschedule) {
        static bool loaded = false;
        if (!loaded) {
            Halide::load_plugin(RETNET_ADAMS2019_PLUGIN);
            loaded = true;
        }
        const int cores = static_cast<int>(std::thread::hardware_concurrency());
        pipeline.auto_schedule("Adams2019", target,
                               Halide::MachineParams(cores, static_cast<uint64_t>(last_level_cache_bytes()), 40));
    }
    pipeline.compile_jit(target);
    for (Buffer<float> &o : outputs) o.fill(NAN);  // poisoned: unwritten elements show
    std::vector<Buffer<>> realization(outputs.begin(), outputs.end());
    // On a GPU the inputs live on the device between calls (uploaded outside the timed region)
    // and each timed call waits for its kernels.
    auto upload = [&] {
        if (!gpu) return;
        for (Buffer<float> &b : inputs.bound) {
            b.set_host_dirty();
            b.copy_to_device(target);
        }
    };
    auto wait = [&] {
        if (gpu)
            for (Buffer<float> &o : outputs) o.device_sync();
    };
    upload();
    pipeline.realize(Halide::Realization(realization), target);
    for (Buffer<float> &o : outputs) o.copy_to_host();
    for (size_t i = 0; i < outputs.size(); i++) {
        const double err = relative_error(outputs[i], expected[i]);
        if (!(err <= 1e-5)) return {std::nullopt, fmt::format("wrong result: output {} relative error {:.3g}", i, err)};
    }
    std::vector<double> samples;
    for (int i = 0; i < timing.warmup + timing.repeats; i++) {
        inputs.load(static_cast<size_t>(i % std::max(1, timing.input_sets)));
        upload();
        flush_caches();
        const auto t0 = std::chrono::steady_clock::now();
        pipeline.realize(Halide::Realization(realization), target);
        wait();
        const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
        if (i >= timing.warmup) samples.push_back(ms);
    }
    std::sort(samples.begin(), samples.end());
    return {samples[samples.size() / 2], ""};
}

// The search space of a problem: the manifest's tunable parameters of its kernel's space on its
// family, starting from the defaults of its shape bucket (kernels.json's bucket_params) and from
// its fixed values where a fixed parameter is also tunable.
SearchSpace space_of(const TuningProblemSpec &spec) {
    SearchSpace s;
    for (const retnet_gen::ManifestParam &p : retnet_gen::search_space(spec.space, spec.family)) {
        s.params.emplace_back(p.name, p.values);
        s.defaults[p.name] = p.default_value;
    }
    for (const auto *overrides : {&spec.bucket_defaults, &spec.fixed}) {
        for (const auto &[name, value] : *overrides) {
            if (s.defaults.count(name)) s.defaults[name] = value;
        }
    }
    return s;
}

// What every problem takes from its manifest entry.
Problem problem_of(const TuningProblemSpec &spec, const std::string &shape) {
    Problem p;
    p.kernel = spec.kernel;
    p.generator = spec.generator;
    p.bucket = spec.bucket;
    p.fixed = spec.fixed;
    p.shape = shape;
    p.space = space_of(spec);
    return p;
}

int64_t extent(const TuningProblemSpec &spec, const char *name) {
    auto found = spec.shape.find(name);
    if (found == spec.shape.end()) throw Error(fmt::format("kernels.json: {}: a tune shape lacks {}", spec.kernel, name));
    return found->second;
}

// linear: y [M, N] = x [M, K] W^T, weights packed in panels (c, k, panel) = [N padded / 16][K][16]
// (runtime/include/retnet/layers.h).
Problem linear_problem(const Halide::Target &t, const TuningProblemSpec &spec) {
    const int64_t M = extent(spec, "M"), K = extent(spec, "K"), N = extent(spec, "N");
    Problem p = problem_of(spec, fmt::format("M{} K{} N{}", M, K, N));
    const std::map<std::string, int> fixed = spec.fixed;
    auto fixture = made_once([=] {
        std::mt19937 rng(11);
        const int64_t pad = retnet_gen::kWeightColumnPadding, panel = retnet_gen::kWeightPanel;
        const int64_t padded = (N + pad - 1) / pad * pad;
        Fixture f;
        f.in.bound = {Buffer<float>(int(K), int(M)), Buffer<float>(int(panel), int(K), int(padded / panel))};
        for (Buffer<float> &b : f.in.bound) fill_random(b, rng);
        std::vector<double> ref(static_cast<size_t>(M * N));
        for (int64_t m = 0; m < M; m++) {
            for (int64_t n = 0; n < N; n++) {
                double s = 0;
                for (int64_t k = 0; k < K; k++) {
                    s += double(f.in.bound[0](int(k), int(m))) * f.in.bound[1](int(n % panel), int(k), int(n / panel));
                }
                ref[static_cast<size_t>(m * N + n)] = s;
            }
        }
        f.expected = {ref};
        f.in.make_sets(TimingOptions{}.input_sets, rng);
        return f;
    });
    p.prepare = [fixture] { fixture(); };
    p.run = [=](const Candidate &c, bool autoschedule, const TimingOptions &timing) {
        const Fixture &f = fixture();
        Inputs in = f.in.copy();
        auto g = retnet_gen::Linear::create(Halide::GeneratorContext(t));
        g->set_generator_param_values(generator_params(fixed, c, autoschedule));
        g->apply(in.bound[0], in.bound[1]);
        return compile_check_time(g->get_pipeline(), t, autoschedule, in, {Buffer<float>(int(N), int(M))}, f.expected,
                                  timing);
    };
    return p;
}

// How a retention kernel takes the per-head decay: gamma (the decode step) or log(gamma).
enum class DecayInput { gamma,
                        log_gamma };

// The default per-head decay in the kernel's form, the scale, and the float64 reference outputs
// (o, then the final state) for a fixture whose bound inputs are q, k, v and the initial state of
// T tokens (T = 1: the decode step, whose buffers have no T dimension but the same memory layout).
void set_retention_reference(Fixture &f, int64_t B, int64_t T, int64_t H, int64_t K, int64_t V, DecayInput form) {
    const std::vector<double> gamma = default_decay(H);
    f.per_head = Buffer<float>(static_cast<int>(H));
    for (int h = 0; h < H; h++) {
        const double g = gamma[static_cast<size_t>(h)];
        f.per_head(h) = static_cast<float>(form == DecayInput::gamma ? g : std::log(g));
    }
    f.scale = static_cast<float>(1.0 / std::sqrt(double(K)));
    auto view = [](Buffer<float> &b, Shape s) { return Tensor::view(b.data(), s); };
    const Tensor s0 = view(f.in.bound[3], {B, H, K, V});
    test::ReferenceResult ref = test::reference_retention(view(f.in.bound[0], {B, T, H, K}),
                                                          view(f.in.bound[1], {B, T, H, K}),
                                                          view(f.in.bound[2], {B, T, H, V}), gamma, f.scale, &s0);
    f.expected = {ref.o, ref.final_state};
}

// The sequence forms (retention_chunkwise, retention_parallel) on B T H K V with a random initial state.
template<typename Gen>
Problem sequence_problem(const Halide::Target &t, const TuningProblemSpec &spec) {
    const int64_t B = extent(spec, "B"), T = extent(spec, "T"), H = extent(spec, "H"), K = extent(spec, "K"),
                  V = extent(spec, "V");
    Problem p = problem_of(spec, fmt::format("B{} T{} H{} K{} V{}", B, T, H, K, V));
    const std::map<std::string, int> fixed = spec.fixed;
    auto fixture = made_once([=] {
        std::mt19937 rng(12);
        Fixture f;
        f.in.bound = {Buffer<float>(int(K), int(H), int(T), int(B)), Buffer<float>(int(K), int(H), int(T), int(B)),
                      Buffer<float>(int(V), int(H), int(T), int(B)), Buffer<float>(int(V), int(K), int(H), int(B))};
        for (Buffer<float> &b : f.in.bound) fill_random(b, rng);
        set_retention_reference(f, B, T, H, K, V, DecayInput::log_gamma);
        f.in.make_sets(TimingOptions{}.input_sets, rng);
        return f;
    });
    p.prepare = [fixture] { fixture(); };
    p.run = [=](const Candidate &c, bool autoschedule, const TimingOptions &timing) {
        const Fixture &f = fixture();
        Inputs in = f.in.copy();
        auto g = Gen::create(Halide::GeneratorContext(t));
        g->set_generator_param_values(generator_params(fixed, c, autoschedule));
        g->apply(in.bound[0], in.bound[1], in.bound[2], f.per_head, f.scale, Halide::Internal::const_true(), in.bound[3]);
        return compile_check_time(g->get_pipeline(), t, autoschedule, in,
                                  {Buffer<float>(int(V), int(H), int(T), int(B)), Buffer<float>(int(V), int(K), int(H), int(B))},
                                  f.expected, timing);
    };
    return p;
}

// The decode step: B sequences, one token each.
Problem decode_problem(const Halide::Target &t, const TuningProblemSpec &spec) {
    const int64_t B = extent(spec, "B"), H = extent(spec, "H"), K = extent(spec, "K"), V = extent(spec, "V");
    Problem p = problem_of(spec, fmt::format("B{} H{} K{} V{}", B, H, K, V));
    const std::map<std::string, int> fixed = spec.fixed;
    auto fixture = made_once([=] {
        std::mt19937 rng(13);
        Fixture f;
        f.in.bound = {Buffer<float>(int(K), int(H), int(B)), Buffer<float>(int(K), int(H), int(B)),
                      Buffer<float>(int(V), int(H), int(B)), Buffer<float>(int(V), int(K), int(H), int(B))};
        for (Buffer<float> &b : f.in.bound) fill_random(b, rng);
        set_retention_reference(f, B, 1, H, K, V, DecayInput::gamma);
        f.in.make_sets(TimingOptions{}.input_sets, rng);
        return f;
    });
    p.prepare = [fixture] { fixture(); };
    p.run = [=](const Candidate &c, bool autoschedule, const TimingOptions &timing) {
        const Fixture &f = fixture();
        Inputs in = f.in.copy();
        auto g = retnet_gen::RetentionDecodeStep::create(Halide::GeneratorContext(t));
        g->set_generator_param_values(generator_params(fixed, c, autoschedule));
        g->apply(in.bound[0], in.bound[1], in.bound[2], f.per_head, f.scale, in.bound[3]);
        return compile_check_time(g->get_pipeline(), t, autoschedule, in,
                                  {Buffer<float>(int(V), int(H), int(B)), Buffer<float>(int(V), int(K), int(H), int(B))},
                                  f.expected, timing);
    };
    return p;
}

}  // namespace

std::vector<std::string> tunable_kernels() {
    std::vector<std::string> names;
    for (const TuningProblemSpec &spec : tuning_problem_specs()) {
        if (std::find(names.begin(), names.end(), spec.kernel) == names.end()) names.push_back(spec.kernel);
    }
    return names;
}

Halide::Target tuning_target(const std::string &device) {
    // Halide 14 takes an AMD Zen 4 for a Sapphire Rapids, and that feature lets LLVM emit
    // AVX512-FP16 instructions Zen 4 lacks; none of our kernels needs it.
    Halide::Target t = Halide::get_host_target().without_feature(Halide::Target::AVX512_SapphireRapids);
    if (device == "cpu") return t;
    if (device == "cuda") return t.with_feature(Halide::Target::CUDA).with_feature(Halide::Target::CUDACapability80);
    if (device == "opencl") return t.with_feature(Halide::Target::OpenCL);
    throw Error(fmt::format("--target: expected cpu, cuda or opencl, got '{}'", device));
}

// The manifest's tune shapes (kernels.json) of the target's family, each made into a problem by
// its generator's harness above.
std::vector<Problem> problems(const std::string &kernel, const std::string &device) {
    const Halide::Target t = tuning_target(device);
    const std::string family = retnet_gen::schedule_family(t);
    std::vector<Problem> chosen;
    for (const TuningProblemSpec &spec : tuning_problem_specs()) {
        if (spec.family != family || (kernel != "all" && spec.kernel != kernel)) continue;
        if (spec.generator == "linear") {
            chosen.push_back(linear_problem(t, spec));
        } else if (spec.generator == "retention_chunkwise") {
            chosen.push_back(sequence_problem<retnet_gen::RetentionChunkwise>(t, spec));
        } else if (spec.generator == "retention_parallel") {
            chosen.push_back(sequence_problem<retnet_gen::RetentionParallel>(t, spec));
        } else if (spec.generator == "retention_decode_step") {
            chosen.push_back(decode_problem(t, spec));
        } else {
            throw Error(fmt::format("kernels.json: {} has tune shapes, but retnet tune has no harness for generator {}",
                                    spec.kernel, spec.generator));
        }
    }
    if (chosen.empty()) {
        throw Error(fmt::format("--kernel: expected all or one of {} on {}, got '{}'", fmt::join(tunable_kernels(), ", "),
                                device, kernel));
    }
    return chosen;
}

std::string target_string(const std::string &device) { return tuning_target(device).to_string(); }

}  // namespace retnet::tune
