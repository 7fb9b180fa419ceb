// Matrix products of a RetNet layer (the projections, the FFN and the output head): y = x W^T for
// torch Linear weights W [out, in], with the epilogues that would otherwise cost a pass over y:
//
//   linear           y(n, m) = sum_k x(k, m) w(n, k)
//   linear_residual  y(n, m) = alpha * residual(n, m) + sum_k x(k, m) w(n, k)     (deepnorm: alpha)
//   linear_glu       y(n, m) = act(sum_k x(k, m) w1(n, k)) * sum_k x(k, m) w2(n, k)  (act: swish or gelu)
//   linear_pair      y1(n, m) = sum_k x(k, m) w1(n, k), y2(n, m) = sum_k x(k, m) w2(n, k)  (one kernel for two
//                    projections of one input: q and k, v and g)
//
// With input_norm (linear_glu and linear_pair, GPU decoding), x is first RMS-normalised as rms_norm
// does, x(k, m) g(k) / sqrt(mean_k x(k, m)^2 + eps), so that a decoding step's pre-norms need no
// kernels of their own: the norm's weight g multiplies x inside the sums, and each row's factor
// 1 / sqrt(...) multiplies the sums (two inputs more, after the weights: norm_weight, eps).
//
// Layouts (Halide order, innermost first): x (k, m) = row-major [M, K]; y (n, m) = [M, N].
// Weights are stored by the runtime transposed, padded and in panels of kWeightPanel columns:
// weight (c, k, p) = [N_padded / 16][K][16] holds w(n, k) at c = n % 16, p = n / 16, so that a tile
// of output columns reads contiguous weights down K; N_padded is N rounded up to
// kWeightColumnPadding, which lets a register tile run past the last column without a clamp. Tiles
// start at multiples of 16 columns, so n % 16 and n / 16 simplify away inside a tile's vectors.
#pragma once

#include "linear_common.h"
#include "storage_types.h"
#include "cpu/linear.h"
#include "gpu/linear.h"

namespace retnet_gen {

// The register-tile accumulator of one or two products, the RDom it reduces over, and the
// operands as the products read them: `input` (k, m) and each weight widened to float32 (n, k).
// The operands are inlined unless a schedule stages them (the GPU's register staging).
struct Products {
    Func acc;
    RDom over_k;
    Func input;
    std::vector<Func> weights;
    RDom k_tail;       // with steps over K: the K % step left, a second update
    Func sum_squares;  // with a norm: (m) sum_k x(k, m)^2
    RDom along_row;    // its RDom
    Expr row_factor;   // what multiplies each row's sums: 1, or the norm's 1 / sqrt(mean + eps)
};

// The pre-norm folded into the products (input_norm): its weight g (k) and eps; none if undefined.
struct InputNorm {
    Func weight;
    Expr eps;
};

// The inputs a generator adds for input_norm (after its weights, in configure()).
struct InputNormInputs {
    GeneratorInput<Buffer<float, 1>> *weight = nullptr;
    GeneratorInput<float> *eps = nullptr;

    template<typename G>
    void add_to(G &g) {
        if (!g.input_norm) return;
        weight = g.template add_input<Buffer<float, 1>>("norm_weight");
        eps = g.template add_input<float>("eps");
    }
    InputNorm norm() const { return weight ? InputNorm{Func(*weight), Expr(*eps)} : InputNorm{}; }
};

// Declares a packed weight's panel layout to the compiler: 16 contiguous columns, then K rows of
// them, so that every offset inside a panel is a constant; the panels follow each other densely
// from index 0 of storage aligned to 16 bytes (as weight_packing.cpp and tensor.cpp make them), so
// the compiler can prove a tile's columns aligned: the CUDA backend then loads four float32 columns
// as one 128-bit access and four bfloat16 columns as one 8-byte access (without the alignment and
// the zero minimums, it loaded bfloat16 columns one by one).
template<typename Input>
void declare_panels(Input &weight) {
    weight.set_host_alignment(16);
    weight.dim(0).set_bounds(0, kWeightPanel);
    weight.dim(1).set_min(0).set_stride(kWeightPanel);
    weight.dim(2).set_min(0).set_stride(weight.dim(1).extent() * kWeightPanel);
}

// The steps over K that the GPU schedule stages together: a tile in shared memory (gpu_k_shared),
// else steps in registers (gpu_k_unroll with gpu_k_slices 1); 0 where nothing is staged.
template<typename G>
int staged_k_step(G &g, const Target &target) {
    if (!uses_gpu_schedules(target)) return 0;
    const LinearGpuParams p = linear_gpu_params(g);
    if (uses_shared_tiles(p)) return p.k_shared;
    return p.k_slices == 1 && p.k_unroll > 1 ? p.k_unroll : 0;
}

// Rows past the last are clamped: a tile may run past M, and its extra rows are never stored.
// With k_step > 0 the sum runs over whole steps of k_step (over_k: x within a step, y the step),
// which a schedule stages in registers, then over the K % k_step left (a second update that
// reads the operands directly), so that no step reads past K.
template<typename X, typename... W>
Products products(int k_step, const InputNorm &norm, const X &x, Var n, Var m, const W &...weights) {
    const Expr K = x.dim(0).extent();
    Products p{Func("acc"), k_step > 0 ? RDom(0, k_step, 0, K / k_step, "over_k") : RDom(0, K, "over_k"), Func("input"), {}};
    Var k("k");
    const Expr row = clamp(m, x.dim(1).min(), x.dim(1).max());
    const bool normed = norm.weight.defined();
    p.input(k, m) = normed ? x(k, row) * norm.weight(k) : x(k, row);
    p.row_factor = 1.0f;
    if (normed) {
        p.along_row = RDom(0, K, "along_row");
        p.sum_squares = Func("sum_squares");
        p.sum_squares(m) = 0.0f;
        p.sum_squares(m) += x(p.along_row, row) * x(p.along_row, row);
        p.row_factor = 1.0f / sqrt(p.sum_squares(m) / cast<float>(K) + norm.eps);
    }
    const Expr c = n % kWeightPanel, panel = n / kWeightPanel;
    for (const auto *w : {&weights...}) {
        Func wide("weight_f32");
        wide(n, k) = widened((*w)(c, k, panel));
        p.weights.push_back(wide);
    }
    const Expr k_sum = k_step > 0 ? p.over_k.y * k_step + p.over_k.x : Expr(p.over_k.x);
    const Expr xv = p.input(k_sum, m);
    const bool gated = p.weights.size() == 2;
    if (!gated) {
        p.acc(n, m) = 0.0f;
        p.acc(n, m) += xv * p.weights[0](n, k_sum);
    } else {
        p.acc(n, m) = Tuple(0.0f, 0.0f);
        p.acc(n, m) = Tuple(p.acc(n, m)[0] + xv * p.weights[0](n, k_sum), p.acc(n, m)[1] + xv * p.weights[1](n, k_sum));
    }
    if (k_step > 0) {
        RDom tail(K / k_step * k_step, K % k_step, "k_tail");
        p.k_tail = tail;
        const Expr xt = normed ? x(tail, row) * norm.weight(tail) : x(tail, row);
        std::vector<Expr> wt;
        for (const auto *w : {&weights...}) wt.push_back(widened((*w)(c, tail, panel)));
        if (!gated) {
            p.acc(n, m) += xt * wt[0];
        } else {
            p.acc(n, m) = Tuple(p.acc(n, m)[0] + xt * wt[0], p.acc(n, m)[1] + xt * wt[1]);
        }
    }
    return p;
}

// A generator's products: its weights declared as panels, its input x, and the steps over K
// that its schedule stages.
template<typename G, typename... W>
Products generator_products(G &g, const Target &target, Var n, Var m, W &...weights) {
    return generator_products(g, target, InputNorm{}, n, m, weights...);
}

template<typename G, typename... W>
Products generator_products(G &g, const Target &target, const InputNorm &norm, Var n, Var m, W &...weights) {
    (declare_panels(weights), ...);
    return products(staged_k_step(g, target), norm, g.x, n, m, weights...);
}

template<typename G>
void schedule_linear(G &g, const Target &target, Func y, Products &p, Var n, Var m, int accumulators) {
    // Output column 0 at index 0: a tile's first column is then known to be a multiple of the tile
    // width, and so of the panel width (n % 16 and n / 16 fold into dense vector loads).
    const std::vector<OutputImageParam> outputs = Func(g.y).output_buffers();
    outputs[0].dim(0).set_min(0);  // (a Tuple's other buffers share the first's min and extent)
    LinearVars vars{n, m, p.over_k, p.input, p.weights, p.k_tail, p.sum_squares, p.along_row};
    // The folded pre-norm has a schedule only where its sum of squares can share the products'
    // slices of K: the GPU's split-K (decoding) schedule.
    check_schedule(!p.sum_squares.defined() || (uses_gpu_schedules(target) && linear_gpu_params(g).k_slices > 1),
                   "linear: input_norm takes a GPU target and gpu_k_slices > 1 (the decoding schedule)");
    if (uses_gpu_schedules(target)) {
        // Shared-memory tiles take rows from 0 too: a block's rows then start at a multiple of its
        // row count, and the compiler can prove a thread's rows in the tiles aligned for vector loads.
        if (uses_shared_tiles(linear_gpu_params(g))) outputs[0].dim(1).set_min(0);
        // Where the schedule stages steps of K, a second version of the kernel for rows of x that
        // start at multiples of kInputVector floats: knowing it, the compiler loads a step's inputs
        // as 128-bit vectors. The rows' length (K) decides which version runs: the public models'
        // K are multiples of 4. The alignment of x's first row is assumed: a GPU product's x is
        // always a whole tensor's allocation (Tensor has no device views), which CUDA aligns to
        // 256 bytes and OpenCL to at least 128.
        const Expr aligned_input = staged_k_step(g, target) > 0
                                       ? g.x.dim(0).min() == 0 && g.x.dim(1).stride() % kInputVector == 0
                                       : Expr();
        schedule_linear_gpu(y, p.acc, vars, linear_gpu_params(g), aligned_input, outputs[0].dim(0).extent() > kWideProduct);
    } else {
        schedule_linear_cpu(y, p.acc, vars, linear_cpu_params(g), accumulators, target);
    }
}

// Each product for weights of element type W: float (float32), uint16_t (bfloat16 bits) or
// float16_t; the activations and the accumulation are float32 whatever W is.
template<typename W>
class LinearT : public Generator<LinearT<W>> {
public:
    RETNET_PARAMS_linear_cpu
    RETNET_PARAMS_linear_gpu

    GeneratorInput<Buffer<float, 2>> x{"x"};        // (k, m)
    GeneratorInput<Buffer<W, 3>> weight{"weight"};  // (c, k, panel), padded
    GeneratorOutput<Buffer<float, 2>> y{"y"};       // (n, m)

    void generate() {
        Var n("n"), m("m");
        Products p = generator_products(*this, this->get_target(), n, m, weight);
        y(n, m) = p.acc(n, m);
        if (this->auto_schedule) {  // Adams2019, for comparison: typical prefill sizes
            x.set_estimates({{0, 768}, {0, 512}});
            weight.set_estimates({{0, kWeightPanel}, {0, 768}, {0, 768 / kWeightPanel}});
            y.set_estimates({{0, 768}, {0, 512}});
            return;
        }
        schedule_linear(*this, this->get_target(), y, p, n, m, 1);
    }
};

template<typename W>
class LinearResidualT : public Generator<LinearResidualT<W>> {
public:
    RETNET_PARAMS_linear_cpu
    RETNET_PARAMS_linear_gpu

    GeneratorInput<Buffer<float, 2>> x{"x"};                // (k, m)
    GeneratorInput<Buffer<W, 3>> weight{"weight"};          // (c, k, panel), padded
    GeneratorInput<Buffer<float, 2>> residual{"residual"};  // (n, m)
    GeneratorInput<float> alpha{"alpha"};                   // 1, or deepnorm's (2 L)^(1/4)
    GeneratorOutput<Buffer<float, 2>> y{"y"};               // (n, m)

    void generate() {
        Var n("n"), m("m");
        Products p = generator_products(*this, this->get_target(), n, m, weight);
        y(n, m) = alpha * residual(n, m) + p.acc(n, m);
        schedule_linear(*this, this->get_target(), y, p, n, m, 1);
    }
};

template<typename W>
class LinearGluT : public Generator<LinearGluT<W>> {
public:
    RETNET_PARAMS_linear_cpu
    RETNET_PARAMS_linear_gpu
    GeneratorParam<Activation> activation{"activation", Activation::swish, {{"swish", Activation::swish}, {"gelu", Activation::gelu}}};
    GeneratorParam<bool> input_norm{"input_norm", false};  // the pre-norm folded in (above)

    GeneratorInput<Buffer<float, 2>> x{"x"};                  // (k, m)
    GeneratorInput<Buffer<W, 3>> weight{"weight"};            // fc1 (c, k, panel), padded
    GeneratorInput<Buffer<W, 3>> gate_weight{"gate_weight"};  // gate (c, k, panel), padded
    GeneratorOutput<Buffer<float, 2>> y{"y"};                 // (n, m)
    InputNormInputs norm;

    void configure() { norm.add_to(*this); }

    void generate() {
        Var n("n"), m("m");
        Products p = generator_products(*this, this->get_target(), norm.norm(), n, m, weight, gate_weight);
        y(n, m) = activate(activation, p.row_factor * p.acc(n, m)[0]) * (p.row_factor * p.acc(n, m)[1]);
        schedule_linear(*this, this->get_target(), y, p, n, m, 2);
    }
};

// Two products of one input, as one kernel with a Tuple output (y_0, y_1): a decoding step's
// projections are each a few microseconds of launch and latency, and q and k (or v and g) share
// x, its shape and the schedule's bucket.
template<typename W>
class LinearPairT : public Generator<LinearPairT<W>> {
public:
    RETNET_PARAMS_linear_cpu
    RETNET_PARAMS_linear_gpu
    GeneratorParam<bool> input_norm{"input_norm", false};  // the pre-norm folded in (above)

    GeneratorInput<Buffer<float, 2>> x{"x"};                      // (k, m)
    GeneratorInput<Buffer<W, 3>> weight{"weight"};                // first (c, k, panel), padded
    GeneratorInput<Buffer<W, 3>> second_weight{"second_weight"};  // second (c, k, panel), padded
    GeneratorOutput<Func> y{"y", {Float(32), Float(32)}, 2};      // (n, m) each
    InputNormInputs norm;

    void configure() { norm.add_to(*this); }

    void generate() {
        Var n("n"), m("m");
        Products p = generator_products(*this, this->get_target(), norm.norm(), n, m, weight, second_weight);
        y(n, m) = Tuple(p.row_factor * p.acc(n, m)[0], p.row_factor * p.acc(n, m)[1]);
        schedule_linear(*this, this->get_target(), y, p, n, m, 2);
    }
};

// Weight-only int8: w(n, k) = scale(n) * q(n, k) with q in [-127, 127]. The scale of an output
// column is constant over the sum, so it multiplies the float32 sum of x * q once per output.
class LinearInt8 : public Generator<LinearInt8> {
public:
    RETNET_PARAMS_linear_cpu
    RETNET_PARAMS_linear_gpu

    GeneratorInput<Buffer<float, 2>> x{"x"};             // (k, m)
    GeneratorInput<Buffer<int8_t, 3>> weight{"weight"};  // q (c, k, panel), padded
    GeneratorInput<Buffer<float, 1>> scale{"scale"};     // (n), padded
    GeneratorOutput<Buffer<float, 2>> y{"y"};            // (n, m)

    void generate() {
        Var n("n"), m("m");
        Products p = generator_products(*this, this->get_target(), n, m, weight);
        y(n, m) = scale(n) * p.acc(n, m);
        schedule_linear(*this, get_target(), y, p, n, m, 1);
    }
};

class LinearResidualInt8 : public Generator<LinearResidualInt8> {
public:
    RETNET_PARAMS_linear_cpu
    RETNET_PARAMS_linear_gpu

    GeneratorInput<Buffer<float, 2>> x{"x"};                // (k, m)
    GeneratorInput<Buffer<int8_t, 3>> weight{"weight"};     // q (c, k, panel), padded
    GeneratorInput<Buffer<float, 1>> scale{"scale"};        // (n), padded
    GeneratorInput<Buffer<float, 2>> residual{"residual"};  // (n, m)
    GeneratorInput<float> alpha{"alpha"};
    GeneratorOutput<Buffer<float, 2>> y{"y"};  // (n, m)

    void generate() {
        Var n("n"), m("m");
        Products p = generator_products(*this, this->get_target(), n, m, weight);
        y(n, m) = alpha * residual(n, m) + scale(n) * p.acc(n, m);
        schedule_linear(*this, get_target(), y, p, n, m, 1);
    }
};

class LinearGluInt8 : public Generator<LinearGluInt8> {
public:
    RETNET_PARAMS_linear_cpu
    RETNET_PARAMS_linear_gpu
    GeneratorParam<Activation> activation{"activation", Activation::swish, {{"swish", Activation::swish}, {"gelu", Activation::gelu}}};
    GeneratorParam<bool> input_norm{"input_norm", false};  // the pre-norm folded in (above)

    GeneratorInput<Buffer<float, 2>> x{"x"};                       // (k, m)
    GeneratorInput<Buffer<int8_t, 3>> weight{"weight"};            // fc1 q (c, k, panel), padded
    GeneratorInput<Buffer<float, 1>> scale{"scale"};               // (n), padded
    GeneratorInput<Buffer<int8_t, 3>> gate_weight{"gate_weight"};  // gate q (c, k, panel), padded
    GeneratorInput<Buffer<float, 1>> gate_scale{"gate_scale"};     // (n), padded
    GeneratorOutput<Buffer<float, 2>> y{"y"};                      // (n, m)
    InputNormInputs norm;

    void configure() { norm.add_to(*this); }

    void generate() {
        Var n("n"), m("m");
        Products p = generator_products(*this, this->get_target(), norm.norm(), n, m, weight, gate_weight);
        y(n, m) = activate(activation, scale(n) * p.row_factor * p.acc(n, m)[0]) * (gate_scale(n) * p.row_factor * p.acc(n, m)[1]);
        schedule_linear(*this, get_target(), y, p, n, m, 2);
    }
};

class LinearPairInt8 : public Generator<LinearPairInt8> {
public:
    RETNET_PARAMS_linear_cpu
    RETNET_PARAMS_linear_gpu
    GeneratorParam<bool> input_norm{"input_norm", false};  // the pre-norm folded in (above)

    GeneratorInput<Buffer<float, 2>> x{"x"};                           // (k, m)
    GeneratorInput<Buffer<int8_t, 3>> weight{"weight"};                // first q (c, k, panel), padded
    GeneratorInput<Buffer<float, 1>> scale{"scale"};                   // (n), padded
    GeneratorInput<Buffer<int8_t, 3>> second_weight{"second_weight"};  // second q (c, k, panel), padded
    GeneratorInput<Buffer<float, 1>> second_scale{"second_scale"};     // (n), padded
    GeneratorOutput<Func> y{"y", {Float(32), Float(32)}, 2};           // (n, m) each
    InputNormInputs norm;

    void configure() { norm.add_to(*this); }

    void generate() {
        Var n("n"), m("m");
        Products p = generator_products(*this, get_target(), norm.norm(), n, m, weight, second_weight);
        y(n, m) = Tuple(scale(n) * p.row_factor * p.acc(n, m)[0], second_scale(n) * p.row_factor * p.acc(n, m)[1]);
        schedule_linear(*this, get_target(), y, p, n, m, 2);
    }
};

using Linear = LinearT<float>;
using LinearResidual = LinearResidualT<float>;
using LinearGlu = LinearGluT<float>;

}  // namespace retnet_gen
