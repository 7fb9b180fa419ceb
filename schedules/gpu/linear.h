// GPU schedule of the linear kernels: every thread accumulates a (cols x rows) register tile of
// outputs over K; a block is (col_threads x row_threads) threads. Weight loads are coalesced
// (threads of a warp differ in the column, which is contiguous); the input rows are shared by
// the block's threads through L1.
//
// With k_slices > 1 (the few-row buckets: decoding), the sum over K is split instead: a block
// covers (cols x col_threads) columns with (col_threads x k_slices) threads, slice u summing
// k = u, u + S, u + 2S, ... for its `cols` adjacent columns (8 bfloat16 or int8 columns: a warp
// reads 256-512 contiguous bytes of a weight panel), with k_unroll such steps in flight. The
// slices' partial sums meet in shared memory, and a thread per column adds them, after k_tree
// threads per column have added groups of them. A matrix-vector product has too few outputs to
// fill the GPU otherwise, and what keeps the memory busy is the bytes in flight: a thread that
// walks all of K alone waits on one load at a time, and a slice of one byte a step (the earlier
// schedule's int8) kept an SM at a tenth of what HBM needs in flight (docs/PERF.md).
//
// With k_slices 1 and k_unroll > 1, the tiled schedule stages k_unroll steps of both operands in
// registers before their multiply-adds (stage_k_steps_in_registers). With k_shared > 0 (the
// prefill bucket) the block stages tiles of K in shared memory instead
// (schedule_linear_gpu_shared): every operand is read from global memory once per block.
#pragma once

#include "gpu_common.h"
#include "linear_common.h"
#include "tuning_space.h"

namespace retnet_gen {

// Whether the parameters choose shared-memory tiles: split-K (k_slices > 1) takes precedence.
inline bool uses_shared_tiles(const LinearGpuParams &p) { return p.k_slices == 1 && p.k_shared > 0; }

// The folded pre-norm's sum of squares of each row (input_norm), split over K as the products
// are: slice u's threads sum their rows' squares into shared memory (x is what those threads read
// for the products anyway), then every output thread adds the slices' sums itself, 16 at a time
// (broadcast loads): code at block level would run on one thread (docs/HALIDE14.md).
inline void schedule_sum_squares_split_k(Func y, Var nb, Var nt, LinearVars &v, const LinearGpuParams &p) {
    const TailStrategy guard = TailStrategy::GuardWithIf;
    Func sum = v.sum_squares;
    RVar ko("sq_ko"), ki("sq_ki"), io("sq_io"), ii("sq_ii");
    Var u("sq_u");
    Func slices = sum.update(0).split(v.along_row.x, ko, ki, p.k_slices, guard).rfactor(ki, u);  // (m, u)
    const std::vector<Var> sv = slices.args();
    slices.compute_at(y, nb)
        .bound_extent(sv[0], p.rows)
        .bound_extent(sv[1], p.k_slices)
        .reorder(sv[0], sv[1])
        .unroll(sv[0])
        .gpu_threads(sv[1]);
    slices.update(0).reorder(sv[0], ko, sv[1]).unroll(sv[0]).gpu_threads(sv[1]);
    const Var m = sum.args()[0];
    sum.compute_at(y, nt).bound_extent(m, p.rows).unroll(m);
    sum.update(0).split(ki, io, ii, std::min(16, p.k_slices)).reorder(m, ii, io).unroll(m).unroll(ii);
}

inline void schedule_linear_gpu_split_k(Func y, Func acc, LinearVars &v, const LinearGpuParams &p) {
    check_schedule(p.row_threads == 1, "linear: a split-K schedule (gpu_k_slices > 1) takes gpu_row_threads 1");
    const TailStrategy guard = TailStrategy::GuardWithIf;
    const int block_cols = p.cols * p.col_threads;
    Var nb("nb"), nt("nt"), mb("mb"), mc("mc"), u("u");
    RVar ko("ko"), ki("ki");
    y.split(v.n, nb, nt, block_cols, guard)
        .split(v.m, mb, mc, p.rows, guard)
        .reorder(mc, nt, nb, mb)
        .unroll(mc)
        .gpu_blocks(nb, mb)
        .gpu_threads(nt);
    // partial(n, m, u): slice u's sum, in a thread's registers; staged: the block's partial sums
    // in shared memory; acc: the sum over the slices, in a register of the column's thread.
    Func partial = acc.update(0).split(v.over_k, ko, ki, p.k_slices, guard).rfactor(ki, u);
    // With k_tree > 1 the slices' sums meet in two levels: sums(n, m, w) of k_tree slices each, by
    // k_slices / k_tree threads per column at once, then acc adds those. One thread adding all
    // k_slices sums waits on k_slices shared-memory loads one after another: at 128 slices longer
    // than the product's own loads.
    Func sums;
    RVar wo("wo"), wi("wi");
    if (p.k_tree > 1) {
        check_schedule(p.k_slices % p.k_tree == 0 && p.k_slices > p.k_tree,
                       "linear: gpu_k_tree must divide gpu_k_slices and be smaller");
        Var w("w");
        sums = acc.update(0).split(ki, wo, wi, p.k_tree).rfactor(wo, w);
    }
    Func staged = partial.in(sums.defined() ? sums : acc);
    // Every stage's threads are one fused dimension, so that the block has as many threads as its
    // widest stage: as two dimensions (columns, slices) the block took the most columns of any stage
    // (the output's, one a thread) times the slices, most of them idle where a slice thread holds
    // several columns.
    const std::vector<Var> s = staged.args();  // n, m, u
    Var sx("sx"), sc("sc"), st("st");
    // Constant extents for every fused dimension: from a fused thread index with a symbolic
    // extent the compiler can only bound the slice loosely, and then asks for weights before K's start.
    staged.compute_at(y, nb)
        .bound_extent(s[0], block_cols)
        .bound_extent(s[1], p.rows)
        .bound_extent(s[2], p.k_slices)
        .split(s[0], sx, sc, p.cols, guard)
        .reorder(sc, s[1], sx, s[2])
        .vectorize(sc)
        .unroll(s[1])
        .fuse(sx, s[2], st)
        .gpu_threads(st);
    const std::vector<Var> pv = partial.args();
    // The slice's columns start at a multiple of `cols`, said to the compiler so that the vector of
    // their weights keeps the panels' alignment (declare_panels).
    partial.compute_at(staged, st)
        .align_bounds(pv[0], p.cols)
        .bound_extent(pv[0], p.cols)
        .bound_extent(pv[1], p.rows)
        .vectorize(pv[0])
        .unroll(pv[1]);
    Stage steps = partial.update(0);
    steps.reorder(pv[0], pv[1], ko).vectorize(pv[0]).unroll(pv[1]);
    if (p.k_unroll > 1) {
        RVar kr("kr");
        steps.split(ko, ko, kr, p.k_unroll, guard).reorder(pv[0], pv[1], kr, ko).unroll(kr);
    }
    if (sums.defined()) {
        // sums(n, m, w) in shared memory, a thread per (column, w); each adds its k_tree slices.
        const std::vector<Var> sv = sums.args();  // n, m, w
        Var t("t"), tu("tu");
        sums.compute_at(y, nb)
            .bound_extent(sv[0], block_cols)
            .bound_extent(sv[1], p.rows)
            .bound_extent(sv[2], p.k_slices / p.k_tree)
            .reorder(sv[1], sv[0], sv[2])
            .unroll(sv[1])
            .fuse(sv[0], sv[2], t)
            .gpu_threads(t);
        sums.update(0).reorder(sv[1], wi, sv[0], sv[2]).unroll(sv[1]).fuse(sv[0], sv[2], tu).gpu_threads(tu);
    }
    acc.compute_at(y, nt).bound_extent(v.n, 1).bound_extent(v.m, p.rows).unroll(v.m);
    acc.update(0).reorder(v.n, v.m, sums.defined() ? wo : ki).unroll(v.m);
    if (v.sum_squares.defined()) schedule_sum_squares_split_k(y, nb, nt, v, p);
}

// Register staging (gpu_k_unroll > 1 in the tiled schedule): per step of k_unroll over K, a thread
// first loads its rows' inputs and its columns' weights (widened to float32) for the whole step
// into registers, then does the cols x rows x k_unroll multiply-adds from registers, as Halide's
// cuda_mat_mul app does: a step's loads are all in flight together instead of each waiting before
// its multiply-add. The algorithm sums whole steps (over_k.x within, over_k.y the step), then the
// K % k_unroll left in a second update that reads the operands directly (linear.h's products).
inline void stage_k_steps_in_registers(Func acc, LinearVars &v, const LinearGpuParams &p) {
    const RVar within = v.over_k.x, step = v.over_k.y;
    acc.update(0).reorder(v.n, v.m, within, step).unroll(v.n).unroll(v.m).unroll(within);
    acc.update(1).reorder(v.n, v.m, v.k_tail.x).unroll(v.n).unroll(v.m);
    // The inputs of a step, k_unroll along a row, load as vectors of 4 floats where the rows are
    // known to start at multiples of 4 (the specialization in linear.h's schedule_linear), otherwise
    // one by one: at 16 rows x 4 steps, 64 of a step's 68 loads would be single floats.
    const std::vector<Var> in = v.input.args();  // k, m
    Var kv("kv");
    v.input.compute_at(acc, step).bound_extent(in[0], p.k_unroll).unroll(in[1]);
    if (p.k_unroll % kInputVector == 0) {
        v.input.split(in[0], in[0], kv, kInputVector).vectorize(kv).unroll(in[0]);
    } else {
        v.input.unroll(in[0]);
    }
    for (Func w : v.weights) {
        const std::vector<Var> wa = w.args();  // n, k
        w.compute_at(acc, step).vectorize(wa[0]).unroll(wa[1]);
    }
}

// The tiled schedule's loops, innermost first: a thread's columns and rows (nc, mc), the block's
// threads (nx, my), the blocks (nb, mb).
struct TiledLoops {
    Var nc{"nc"}, mc{"mc"}, nx{"nx"}, my{"my"}, nb{"nb"}, mb{"mb"};
};

// The order in which the tiled schedule's blocks start (the GPU starts them in the order of their
// index, x fastest). By default all column blocks of a row block, then the next row block: the
// blocks running at once share their rows of x and read every weight panel. A product wider than
// kWideProduct columns (an output head: 32000 for fla-1.3b) instead starts row_group row blocks of
// one column block, then of the next: the blocks running at once share a few weight panels, read
// from memory once per group of rows, where otherwise each row block streamed all the weights
// (262 MB in float32 for the head) through the L2 cache again. Measured on the H100 at M 2048, K
// 2048: the head's product 12.2 -> 9.7 ms (float32) with groups of 32, while at N 2048 (weights
// that fit in L2) the same order was 1-4% slower, hence the specialization (docs/PERF.md).
inline void launch_blocks(Stage s, const TiledLoops &l, const Expr &wide, const LinearGpuParams &p) {
    if (p.row_group > 1) {
        Var mg("mg"), mr("mr");
        s.specialize(wide)
            .split(l.mb, mg, mr, p.row_group, TailStrategy::GuardWithIf)
            .reorder(l.nc, l.mc, l.nx, l.my, mr, l.nb, mg)
            .gpu_blocks(mr, l.nb, mg);
    }
    s.gpu_blocks(l.nb, l.mb);
}

// What a Halide 14 kernel can launch with: its CUDA runtime does not opt in to more.
constexpr int kMaxSharedBytes = 48 * 1024;

// Shared-memory tiles (gpu_k_shared = KT > 0, gpu_k_slices 1): the block's sums (block_cols x
// block_rows) live in shared memory; for each tile of KT steps over K the block's threads first
// copy both operands' tiles into shared memory together (each element read from global memory
// once per block, where the register-staged schedule has every thread read its own operands
// through L1), then each thread sums its (cols x rows) outputs over the tile in registers (an
// rfactor over the tiles) and adds them to the block's sums. The inputs' tile is stored rows
// innermost, so that a thread's rows of one step are adjacent (vector loads from shared memory).
// Every stage's threads are one fused dimension of col_threads x row_threads, so that the copies,
// whose shapes differ from the outputs', use all the block's threads (docs/HALIDE14.md).
inline void schedule_linear_gpu_shared(Func y, Func acc, LinearVars &v, const LinearGpuParams &p,
                                       const Expr &aligned_input) {
    check_schedule(p.row_group == 1, "linear: gpu_k_shared takes gpu_row_group 1");
    check_schedule(p.k_unroll >= 1 && p.k_shared % p.k_unroll == 0, "linear: gpu_k_unroll must divide gpu_k_shared");
    check_schedule(p.k_shared % kInputVector == 0 && p.cols % kInputVector == 0,
                   "linear: gpu_k_shared and gpu_cols must be multiples of 4");
    check_schedule((p.cols * p.col_threads) % kWeightPanel == 0,
                   "linear: with gpu_k_shared, a block's columns (gpu_cols * gpu_col_threads) are whole weight panels");
    const TailStrategy guard = TailStrategy::GuardWithIf;
    const int block_cols = p.cols * p.col_threads, block_rows = p.rows * p.row_threads;
    const int threads = p.col_threads * p.row_threads;
    // The block's sums (one set per product), the inputs' tile and the weights' tiles, in floats.
    const int products = static_cast<int>(v.weights.size());
    check_schedule(p.k_pad % kInputVector == 0, "linear: gpu_k_pad must be a multiple of 4 (the tile's 128-bit loads)");
    const int input_rows = block_rows + p.k_pad;  // the inputs' tile: a step's rows, then the padding
    const int shared_floats = products * block_cols * block_rows + p.k_shared * input_rows + products * block_cols * p.k_shared;
    check_schedule(shared_floats * 4 <= kMaxSharedBytes,
                   "linear: gpu_k_shared needs " + std::to_string(shared_floats * 4) +
                       " bytes of shared memory a block, more than the 48 KB a kernel can launch with; fewer rows or columns a block");
    // A stage's threads: a thread's cols x rows of (n, m), unrolled, in 4-float vectors if
    // `vectors`; the threads fused into one dimension. Each stage's loops are named apart (prefix):
    // Halide 14 matches a compute_at loop by name in any stage of the Func, so the tile sums'
    // thread loop must be named only in the tiles' stage.
    auto thread_tiles = [&](Stage s, const VarOrRVar &n, const VarOrRVar &m, const std::string &prefix,
                            const std::vector<VarOrRVar> &outer, bool vectors) {
        Var nx(prefix + "nx"), ny(prefix + "ny"), nc(prefix + "nc"), mc(prefix + "mc"), t(prefix + "t");
        s.split(n, nx, nc, p.cols, guard).split(m, ny, mc, p.rows, guard);
        std::vector<VarOrRVar> order{nc, mc, nx, ny};
        if (vectors) {
            Var no(prefix + "no"), nv(prefix + "nv");
            s.split(nc, no, nv, kInputVector).vectorize(nv).unroll(no);
            order = {nv, no, mc, nx, ny};
        } else {
            s.unroll(nc);
        }
        order.insert(order.end(), outer.begin(), outer.end());
        s.reorder(order).unroll(mc).fuse(nx, ny, t).gpu_threads(t);
    };
    Var nb("nb"), mb("mb"), nt("nt"), mt("mt");
    y.split(v.n, nb, nt, block_cols, guard).split(v.m, mb, mt, block_rows, guard).reorder(nt, mt, nb, mb);
    y.gpu_blocks(nb, mb);
    thread_tiles(y, nt, mt, "out_", {nb, mb}, false);
    // A second version (a copy of the schedule so far) where x's rows start at multiples of 4
    // floats: its tile copies load 4-float vectors (linear.h's schedule_linear).
    if (aligned_input.defined()) y.specialize(aligned_input);

    const RVar tile = v.over_k.y;
    Var u("u");
    Func tile_sums = acc.update(0).rfactor(tile, u);  // (n, m, u): a thread's sums over tile u
    acc.compute_at(y, nb)
        .align_bounds(v.n, block_cols)
        .align_bounds(v.m, block_rows)
        .bound_extent(v.n, block_cols)
        .bound_extent(v.m, block_rows);
    thread_tiles(acc, v.n, v.m, "zero_", {}, true);
    thread_tiles(acc.update(0), v.n, v.m, "tile_", {tile}, true);
    thread_tiles(acc.update(1), v.n, v.m, "tail_", {v.k_tail.x}, true);
    const LoopLevel tile_loop(acc, tile);

    const std::vector<Var> tv = tile_sums.args();  // n, m, u
    tile_sums.compute_at(acc, Var("tile_t")).bound_extent(tv[0], p.cols).bound_extent(tv[1], p.rows);
    tile_sums.vectorize(tv[0]).unroll(tv[1]);
    // Vectors of 4 floats, as 128-bit shared-memory loads: Halide 14's PTX backend proves at most
    // 8-byte alignment for a wider vector and loads it 8 bytes at a time.
    RVar within = v.over_k.x, step("step"), kr("kr");
    Var no("no"), nv("nv");
    tile_sums.update(0)
        .split(within, step, kr, p.k_unroll, guard)
        .split(tv[0], no, nv, kInputVector)
        .reorder(nv, no, tv[1], kr, step)
        .vectorize(nv)
        .unroll(no)
        .unroll(tv[1])
        .unroll(kr);

    // The inputs' tile: rows of KT contiguous steps read as 4-float vectors, 4 threads to a row;
    // stored rows innermost, each step's rows followed by k_pad floats (align_storage rounds the
    // rows' extent up to block_rows + k_pad); read by each thread as vectors of its rows.
    const std::vector<Var> in = v.input.args();  // k, m
    Func input_regs = v.input.in(tile_sums);
    {
        Var kq("kq"), kv("kv"), t("t"), to("to"), ti("ti");
        v.input.compute_at(tile_loop)
            .align_bounds(in[1], block_rows)
            .bound_extent(in[0], p.k_shared)
            .bound_extent(in[1], block_rows)
            .reorder_storage(in[1], in[0])
            .split(in[0], kq, kv, kInputVector)
            .reorder(kv, kq, in[1])
            .fuse(kq, in[1], t)
            .split(t, to, ti, threads, guard)
            .vectorize(kv)
            .gpu_threads(ti);
    }
    if (p.k_pad > 0) v.input.align_storage(in[1], input_rows);
    {
        Var mo("mo"), mv("mv");
        input_regs.compute_at(tile_sums, kr).bound_extent(in[1], p.rows).split(in[1], mo, mv, kInputVector);
        input_regs.vectorize(mv).unroll(mo);
    }
    // The weights' tile: each panel's KT x 16 contiguous weights, 4 columns (a vector) a thread.
    for (Func w : v.weights) {
        const std::vector<Var> wa = w.args();  // n, k
        Var np("np"), nc("nc"), nq("nq"), nv("nv"), t("t"), t2("t2"), to("to"), ti("ti");
        w.compute_at(tile_loop)
            .align_bounds(wa[0], block_cols)
            .bound_extent(wa[0], block_cols)
            .bound_extent(wa[1], p.k_shared)
            .split(wa[0], np, nc, kWeightPanel)
            .split(nc, nq, nv, kInputVector)
            .reorder(nv, nq, wa[1], np)
            .fuse(nq, wa[1], t)
            .fuse(t, np, t2)
            .split(t2, to, ti, threads, guard)
            .vectorize(nv)
            .gpu_threads(ti);
    }
}

// `aligned_input`, if defined, is the condition for a second version of the tiled kernel that
// loads a step's inputs as vectors (linear.h's schedule_linear says when it holds); `wide` is
// whether the product has more than kWideProduct columns (launch_blocks).
inline void schedule_linear_gpu(Func y, Func acc, LinearVars &v, const LinearGpuParams &p, const Expr &aligned_input,
                                const Expr &wide) {
    if (p.k_slices > 1) {
        schedule_linear_gpu_split_k(y, acc, v, p);
        return;
    }
    // A block's columns may run past the last one only into the weights' padding.
    check_schedule(kWeightColumnPadding % (p.cols * p.col_threads) == 0,
                   "linear: gpu_cols * gpu_col_threads must divide the weights' padding");
    if (uses_shared_tiles(p)) {
        schedule_linear_gpu_shared(y, acc, v, p, aligned_input);
        return;
    }
    const TailStrategy guard = TailStrategy::GuardWithIf;
    const TiledLoops l;
    Var nt("nt"), mt("mt");
    y.split(v.n, nt, l.nc, p.cols, guard)
        .split(v.m, mt, l.mc, p.rows, guard)
        .split(nt, l.nb, l.nx, p.col_threads, guard)
        .split(mt, l.mb, l.my, p.row_threads, guard)
        .reorder(l.nc, l.mc, l.nx, l.my, l.nb, l.mb)
        .unroll(l.nc)
        .unroll(l.mc)
        .gpu_threads(l.nx, l.my);
    // Each version (a specialization copies the schedule made so far) chooses its block order.
    if (aligned_input.defined()) launch_blocks(y.specialize(aligned_input), l, wide, p);
    launch_blocks(y, l, wide, p);
    // Per-thread accumulators at the innermost thread loop, constant-size so they are registers.
    acc.compute_at(y, l.nx).bound_extent(v.n, p.cols).bound_extent(v.m, p.rows).unroll(v.n).unroll(v.m);
    if (p.k_unroll > 1) {
        stage_k_steps_in_registers(acc, v, p);
        return;
    }
    for (int u = 0; u < acc.num_update_definitions(); u++) {
        acc.update(u).reorder(v.n, v.m, v.over_k).unroll(v.n).unroll(v.m);
    }
}

}  // namespace retnet_gen
