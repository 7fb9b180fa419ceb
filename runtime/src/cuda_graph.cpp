#include "cuda_graph.h"

#include <chrono>
#include <mutex>

#include <fmt/format.h>

#include "retnet/error.h"
#include "retnet/layers.h"

#ifdef RETNET_HAVE_CUDA
#include "HalideRuntimeCuda.h"

// The Halide runtime's own (weak, C) entry points: the driver library it loaded, and its context.
extern "C" void *halide_cuda_get_symbol(void *user_context, const char *name);
#endif

namespace retnet::detail {

#ifdef RETNET_HAVE_CUDA
namespace {

// The few driver calls this file makes, declared here (the build has no CUDA headers) and found in
// the driver library Halide loaded. Handles and results are opaque: pointers and ints.
using Result = int;
struct Driver {
    Result (*stream_create)(void **stream, unsigned flags);
    Result (*begin_capture)(void *stream, int mode);
    Result (*end_capture)(void *stream, void **graph);
    Result (*instantiate)(void **exec, void *graph, unsigned long long flags);
    Result (*graph_launch)(void *exec, void *stream);
    Result (*graph_nodes)(void *graph, void **nodes, size_t *count);
    Result (*graph_destroy)(void *graph);
    Result (*exec_destroy)(void *exec);
    Result (*stream_synchronize)(void *stream);
    Result (*context_push)(void *context);
    Result (*context_pop)(void **context);
    Result (*error_name)(Result error, const char **name);
};
constexpr int kCaptureModeGlobal = 0;  // CU_STREAM_CAPTURE_MODE_GLOBAL: refuse unsafe calls from any thread

template<typename Fn>
void find(Fn &fn, const char *name) {
    fn = reinterpret_cast<Fn>(halide_cuda_get_symbol(nullptr, name));
}

// Null until the first CUDA kernel has made Halide load the driver and create its context.
const Driver *driver() {
    static const Driver *found = [] {
        auto *d = new Driver{};  // never destroyed: see leaked() in kernel_dispatch.h
        find(d->stream_create, "cuStreamCreate");
        find(d->begin_capture, "cuStreamBeginCapture_v2");
        find(d->end_capture, "cuStreamEndCapture");
        find(d->instantiate, "cuGraphInstantiateWithFlags");
        find(d->graph_launch, "cuGraphLaunch");
        find(d->graph_nodes, "cuGraphGetNodes");
        find(d->graph_destroy, "cuGraphDestroy");
        find(d->exec_destroy, "cuGraphExecDestroy");
        find(d->stream_synchronize, "cuStreamSynchronize");
        find(d->context_push, "cuCtxPushCurrent_v2");
        find(d->context_pop, "cuCtxPopCurrent_v2");
        find(d->error_name, "cuGetErrorName");
        const bool complete = d->stream_create && d->begin_capture && d->end_capture && d->instantiate &&
                              d->graph_launch && d->graph_nodes && d->graph_destroy && d->exec_destroy &&
                              d->stream_synchronize && d->context_push && d->context_pop && d->error_name;
        return complete ? d : nullptr;
    }();
    return found;
}

std::string error_text(Result error) {
    const char *name = nullptr;
    if (driver() && driver()->error_name(error, &name) == 0 && name) return name;
    return fmt::format("CUDA error {}", error);
}

// The runtime's stream and the context it belongs to (Halide's), made at Halide's first request.
// A blocking stream (flags 0): the legacy default stream, where Halide's host <-> device copies
// go, still waits for its kernels and they for the copies, so the order of work is unchanged.
std::once_flag stream_once;
void *runtime_stream = nullptr;
void *runtime_context = nullptr;

int halide_stream(void * /*user_context*/, void *context, void **stream) {
    std::call_once(stream_once, [context] {
        const Driver *d = driver();
        if (d && d->stream_create(&runtime_stream, 0) == 0) runtime_context = context;
    });
    *stream = runtime_stream;  // null (the legacy stream) if it could not be made
    return 0;
}

// The Halide context made current on this thread for the driver calls of one scope.
class CurrentContext {
public:
    CurrentContext() {
        if (runtime_context == nullptr) throw Error("CUDA graphs: no CUDA kernel has run yet (no context or stream)");
        Result r = driver()->context_push(runtime_context);
        if (r != 0) throw Error(fmt::format("CUDA graphs: making the context current failed: {}", error_text(r)));
    }
    ~CurrentContext() {
        void *previous = nullptr;
        driver()->context_pop(&previous);
    }
};

}  // namespace

void use_runtime_cuda_stream() { halide_set_cuda_get_stream(halide_stream); }

CudaGraph::~CudaGraph() {
    if (!driver() || runtime_context == nullptr) return;
    try {
        CurrentContext current;
        if (exec_) driver()->exec_destroy(exec_);
        if (graph_) driver()->graph_destroy(graph_);
    } catch (const Error &) {
        // At exit the driver may be gone already; the memory goes with the process.
    }
}

bool CudaGraph::capture(const std::function<void()> &queue, std::string *why) {
    if (captured()) throw Error("CudaGraph::capture: this graph is captured already");
    if (!driver() || runtime_stream == nullptr) {
        *why = driver() ? "the runtime's CUDA stream could not be made" : "this CUDA driver has no graph API";
        return false;
    }
    CurrentContext current;
    Result r = driver()->begin_capture(runtime_stream, kCaptureModeGlobal);
    if (r != 0) {
        *why = fmt::format("beginning the capture failed: {}", error_text(r));
        return false;
    }
    std::string failure;
    try {
        queue();
    } catch (const std::exception &e) {
        failure = e.what();
    }
    void *graph = nullptr;
    r = driver()->end_capture(runtime_stream, &graph);
    if (failure.empty() && r != 0) failure = fmt::format("the driver ended the capture with {}", error_text(r));
    void *exec = nullptr;
    if (failure.empty()) {
        r = driver()->instantiate(&exec, graph, 0);
        if (r != 0) failure = fmt::format("instantiating the graph failed: {}", error_text(r));
    }
    size_t nodes = 0;
    if (failure.empty()) driver()->graph_nodes(graph, nullptr, &nodes);
    if (!failure.empty()) {
        if (graph) driver()->graph_destroy(graph);
        *why = failure;
        return false;
    }
    graph_ = graph;
    exec_ = exec;
    kernels_ = static_cast<int64_t>(nodes);
    return true;
}

void CudaGraph::launch() {
    if (!captured()) throw Error("CudaGraph::launch: nothing was captured");
    CurrentContext current;
    Result r = driver()->graph_launch(exec_, runtime_stream);
    if (r != 0) throw Error(fmt::format("CUDA graph launch failed: {}", error_text(r)));
}

#else

void use_runtime_cuda_stream() {}
CudaGraph::~CudaGraph() = default;
bool CudaGraph::capture(const std::function<void()> &, std::string *why) {
    *why = "this build has no CUDA kernels";
    return false;
}
void CudaGraph::launch() { throw Error("CudaGraph::launch: this build has no CUDA kernels"); }

#endif

}  // namespace retnet::detail

namespace retnet {

double cuda_graph_launch_floor_ms(int64_t kernels) {
    require_device(Device::cuda);
    if (kernels < 1 || kernels > 100000) {
        throw Error(fmt::format("cuda_graph_launch_floor_ms: kernels: expected 1 to 100000, got {}", kernels));
    }
    // The smallest kernel there is: one float gathered from a one-row table.
    Tensor index = Tensor::empty({1}, Device::cpu, DType::i32);
    index.data_i32()[0] = 0;
    index = index.to(Device::cuda);
    Tensor table = Tensor::zeros({1, 1}).to(Device::cuda), out = Tensor::empty({1, 1}, Device::cuda);
    gather_rows(index, table, out);  // loads the module and makes the stream, outside the capture
    detail::CudaGraph graph;
    std::string why;
    if (!graph.capture([&] { for (int64_t i = 0; i < kernels; i++) gather_rows(index, table, out); }, &why)) {
        throw Error(fmt::format("cuda_graph_launch_floor_ms: {}", why));
    }
    auto run = [&](int times) {
        for (int i = 0; i < times; i++) graph.launch();
        out.synchronize();
    };
    run(3);
    const int repeats = 20;
    const auto begin = std::chrono::steady_clock::now();
    run(repeats);
    const std::chrono::duration<double, std::milli> elapsed = std::chrono::steady_clock::now() - begin;
    return elapsed.count() / repeats;
}

}  // namespace retnet
