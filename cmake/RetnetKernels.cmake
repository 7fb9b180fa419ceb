# Ahead-of-time compilation of the retention kernels.
#
# Every kernel is one Halide library built for several CPU targets at once: the library's entry
# point picks the best one the machine supports at run time, so a binary built here runs on any
# x86-64 machine (the last target is the fallback). One Halide runtime, created by the first
# kernel, serves them all.
#
# The architecture is the toolchain's (CMAKE_SYSTEM_PROCESSOR): a cross build for 64-bit Arm
# (cmake/toolchains/aarch64-linux-gnu.cmake) gets arm-64-linux kernels. There, one target only:
# Halide 14's aarch64 runtime detects no CPU feature on Linux (it reports arm_dot_prod, arm_fp16,
# sve... as unknown, and its dispatcher takes an unknown feature as present), so a list such as
# "arm-64-linux-arm_dot_prod;arm-64-linux" would always run its first target, and stop with an
# illegal instruction on cores without the feature. Plain arm-64-linux is ARMv8-A with NEON, which
# every aarch64 core has. GPU kernels are off by default there (built and tested on x86-64 only).
# RETNET_CPU_ARCH selects the manifest's arch_params and whether the (x86-timed) CPU tuning
# database applies.
set(retnet_gpu_default "none")
set(RETNET_CPU_ARCH "")
if (CMAKE_SYSTEM_PROCESSOR MATCHES "^(aarch64|arm64|ARM64)$")
  set(retnet_arch_os "arm-64-linux")
  set(RETNET_CPU_ARCH "arm-64")
  set(retnet_cpu_targets "arm-64-linux")
elseif (CMAKE_SYSTEM_PROCESSOR MATCHES "^(x86_64|AMD64|amd64)$")
  set(retnet_arch_os "x86-64-linux")
  set(RETNET_CPU_ARCH "x86-64")
  set(retnet_cpu_targets
      "x86-64-linux-sse41-avx-f16c-fma-avx2-avx512-avx512_skylake"
      "x86-64-linux-sse41-avx-f16c-fma-avx2"
      "x86-64-linux")
  set(retnet_gpu_default "both")
elseif (NOT DEFINED RETNET_CPU_TARGETS)
  message(FATAL_ERROR "retnet: no default Halide targets for processor '${CMAKE_SYSTEM_PROCESSOR}' (x86_64, aarch64): "
          "set RETNET_CPU_TARGETS (and RETNET_GPU_TARGETS=none or the GPU targets)")
endif ()
set(RETNET_CPU_TARGETS ${retnet_cpu_targets}
    CACHE STRING "Halide targets of the CPU kernels, best first; the last is the fallback")

# GPU kernels: built from the same generators with GPU schedules, as separate libraries that share
# the one runtime; the C++ runtime dispatches between devices. Building them needs no GPU: the
# Halide runtime loads the CUDA driver / OpenCL library with dlopen when a kernel first runs.
set(RETNET_GPU_TARGETS "${retnet_gpu_default}" CACHE STRING "GPU kernels to build: cuda, opencl, both or none")
set_property(CACHE RETNET_GPU_TARGETS PROPERTY STRINGS cuda opencl both none)
if (NOT RETNET_GPU_TARGETS MATCHES "^(cuda|opencl|both|none)$")
  message(FATAL_ERROR "RETNET_GPU_TARGETS: expected cuda, opencl, both or none, got '${RETNET_GPU_TARGETS}'")
endif ()
# CUDA: PTX for compute capability 8.0 (the newest Halide 14 knows is 8.6); newer GPUs compile it at load.
set(RETNET_CUDA_TARGET "${retnet_arch_os}-cuda-cuda_capability_80" CACHE STRING "Halide target of the CUDA kernels")
set(RETNET_OPENCL_TARGET "${retnet_arch_os}-opencl" CACHE STRING "Halide target of the OpenCL kernels")
set(RETNET_DEVICES cpu)
if (RETNET_GPU_TARGETS MATCHES "^(cuda|both)$")
  list(APPEND RETNET_DEVICES cuda)
endif ()
if (RETNET_GPU_TARGETS MATCHES "^(opencl|both)$")
  list(APPEND RETNET_DEVICES opencl)
endif ()

set(RETNET_KERNEL_RUNTIME "" CACHE INTERNAL "the kernel library that owns the Halide runtime")
set(RETNET_KERNEL_LIBRARIES "" CACHE INTERNAL "every kernel library")

# retnet_add_kernel(<name> DEVICE cpu|cuda|opencl GENERATOR <generator> [PARAMS k=v ...])
# builds library <name>_<device>.
function(retnet_add_kernel NAME)
  cmake_parse_arguments(ARG "" "GENERATOR;DEVICE" "PARAMS" ${ARGN})
  if (ARG_DEVICE STREQUAL "cpu")
    set(targets ${RETNET_CPU_TARGETS})
  elseif (ARG_DEVICE STREQUAL "cuda")
    set(targets ${RETNET_CUDA_TARGET})
  elseif (ARG_DEVICE STREQUAL "opencl")
    set(targets ${RETNET_OPENCL_TARGET})
  else ()
    message(FATAL_ERROR "retnet_add_kernel: unknown DEVICE '${ARG_DEVICE}'")
  endif ()
  set(runtime_args "")
  if (RETNET_KERNEL_RUNTIME)
    set(runtime_args USE_RUNTIME ${RETNET_KERNEL_RUNTIME})
  endif ()
  set(lib ${NAME}_${ARG_DEVICE})
  add_halide_library(${lib} FROM retnet_generators
                     GENERATOR ${ARG_GENERATOR}
                     TARGETS ${targets}
                     PARAMS ${ARG_PARAMS}
                     ${runtime_args})
  if (NOT RETNET_KERNEL_RUNTIME)
    set(RETNET_KERNEL_RUNTIME ${lib}.runtime CACHE INTERNAL "")
  endif ()
  set(RETNET_KERNEL_LIBRARIES ${RETNET_KERNEL_LIBRARIES} ${lib} CACHE INTERNAL "")
endfunction()
