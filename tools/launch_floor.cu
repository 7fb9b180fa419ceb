// The floor under a synchronised decode step on a CUDA device: what a launch and a wait cost with
// no Halide and no RetNet code in the way. A measurement tool (a ceiling, like the copy
// bandwidth), not product code; built with nvcc for the GPU machine:
//
//   nvcc -O2 -o .device/bin/launch_floor tools/launch_floor.cu -lcuda
//
// Rows (median microseconds over many calls, after a warm-up):
//   empty_sync       an empty one-warp kernel, launched and waited for
//   empty_queued     the same, 1000 launches then one wait, per launch
//   args157_sync     a kernel taking 157 int arguments (as many as our K = 128 decode kernel)
//   driver_path_sync the empty kernel through the driver API as Halide 14's runtime issues it:
//                    context push, cuModuleGetFunction, launch, pop; then push, stream sync, pop
//   touch2mb_sync    a kernel reading and writing 2 MB (the B1 H16 K = V = 128 state) with
//                    enough threads to hide latency: launch, memory and wait together
#include <cuda.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <vector>

#define CHECK(call)                                                                                   \
    do {                                                                                              \
        cudaError_t e = (call);                                                                       \
        if (e != cudaSuccess) {                                                                       \
            std::fprintf(stderr, "%s failed: %s\n", #call, cudaGetErrorString(e));                    \
            std::exit(1);                                                                             \
        }                                                                                             \
    } while (0)
#define CHECK_DRIVER(call)                                                                            \
    do {                                                                                              \
        CUresult e = (call);                                                                          \
        if (e != CUDA_SUCCESS) {                                                                      \
            std::fprintf(stderr, "%s failed: %d\n", #call, static_cast<int>(e));                      \
            std::exit(1);                                                                             \
        }                                                                                             \
    } while (0)

__global__ void empty_kernel() {}

#define ARGS16(p) int p##0, int p##1, int p##2, int p##3, int p##4, int p##5, int p##6, int p##7, \
                  int p##8, int p##9, int p##a, int p##b, int p##c, int p##d, int p##e, int p##f
#define VALUES16 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15
__global__ void many_args_kernel(float *out, ARGS16(p), ARGS16(q), ARGS16(r), ARGS16(s), ARGS16(t),
                                 ARGS16(u), ARGS16(w), ARGS16(x), ARGS16(y), int j0, int j1, int j2, int j3,
                                 int j4, int j5, int j6, int j7, int j8, int j9, int ja, int jb) {
    if (threadIdx.x == 0 && out) out[0] = static_cast<float>(p0 + y0 + jb);
}

__global__ void touch_kernel(float4 *state, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) {
        float4 s = state[i];
        state[i] = make_float4(s.x * 0.5f + 1.0f, s.y * 0.5f + 1.0f, s.z * 0.5f + 1.0f, s.w * 0.5f + 1.0f);
    }
}

double median_us(const std::function<void()> &call, int repeats, int per_call = 1) {
    for (int i = 0; i < 20; i++) call();
    std::vector<double> samples;
    for (int i = 0; i < repeats; i++) {
        auto start = std::chrono::steady_clock::now();
        call();
        samples.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count() /
                          per_call);
    }
    std::nth_element(samples.begin(), samples.begin() + samples.size() / 2, samples.end());
    return samples[samples.size() / 2];
}

int main() {
    CHECK(cudaFree(nullptr));  // creates the primary context
    const int repeats = 2000;

    std::printf("row,us\n");
    std::printf("empty_sync,%.2f\n", median_us([] {
        empty_kernel<<<1, 32>>>();
        CHECK(cudaStreamSynchronize(nullptr));
    }, repeats));
    std::printf("empty_queued,%.2f\n", median_us([] {
        for (int i = 0; i < 1000; i++) empty_kernel<<<1, 32>>>();
        CHECK(cudaStreamSynchronize(nullptr));
    }, 20, 1000));
    std::printf("args157_sync,%.2f\n", median_us([] {
        many_args_kernel<<<64, 32>>>(nullptr, VALUES16, VALUES16, VALUES16, VALUES16, VALUES16, VALUES16, VALUES16,
                                     VALUES16, VALUES16, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11);
        CHECK(cudaStreamSynchronize(nullptr));
    }, repeats));

    CUcontext context;
    CHECK_DRIVER(cuCtxGetCurrent(&context));
    CUfunction function;
    CHECK(cudaGetFuncBySymbol(&function, reinterpret_cast<const void *>(empty_kernel)));
    CUmodule module;
    CHECK_DRIVER(cuFuncGetModule(&module, function));
    char name[256];
    const char *mangled = nullptr;
    CHECK_DRIVER(cuFuncGetName(&mangled, function));
    std::snprintf(name, sizeof name, "%s", mangled);
    std::printf("driver_path_sync,%.2f\n", median_us([&] {
        CUcontext old;
        CHECK_DRIVER(cuCtxPushCurrent(context));
        CUfunction f;
        CHECK_DRIVER(cuModuleGetFunction(&f, module, name));
        CHECK_DRIVER(cuLaunchKernel(f, 1, 1, 1, 32, 1, 1, 0, nullptr, nullptr, nullptr));
        CHECK_DRIVER(cuCtxPopCurrent(&old));
        CHECK_DRIVER(cuCtxPushCurrent(context));
        CHECK_DRIVER(cuStreamSynchronize(nullptr));
        CHECK_DRIVER(cuCtxPopCurrent(&old));
    }, repeats));

    const int n = (2 << 20) / 16;  // 2 MB as float4
    float4 *state;
    CHECK(cudaMalloc(&state, n * sizeof(float4)));
    CHECK(cudaMemset(state, 0x3f, n * sizeof(float4)));
    std::printf("touch2mb_sync,%.2f\n", median_us([&] {
        touch_kernel<<<(n + 255) / 256, 256>>>(state, n);
        CHECK(cudaStreamSynchronize(nullptr));
    }, repeats));
    CHECK(cudaGetLastError());
    CHECK(cudaFree(state));
    return 0;
}
