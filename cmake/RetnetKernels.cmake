# Ahead-of-time compilation of the retention kernels.
#
# Every kernel is one Halide library built for several CPU targets at once: the library's entry
# point picks the best one the machine supports at run time, so a binary built here runs on any
# x86-64 machine (the last target is the fallback). One Halide runtime, created by the first
# kernel, serves them all.

set(RETNET_CPU_TARGETS
    "x86-64-linux-sse41-avx-f16c-fma-avx2-avx512-avx512_skylake"
    "x86-64-linux-sse41-avx-f16c-fma-avx2"
    "x86-64-linux"
    CACHE STRING "Halide targets of the CPU kernels, best first; the last is the fallback")

set(RETNET_KERNEL_RUNTIME "" CACHE INTERNAL "the kernel library that owns the Halide runtime")
set(RETNET_KERNEL_LIBRARIES "" CACHE INTERNAL "every kernel library")

# retnet_add_cpu_kernel(<name> GENERATOR <generator> [PARAMS k=v ...])
function(retnet_add_cpu_kernel NAME)
  cmake_parse_arguments(ARG "" "GENERATOR" "PARAMS" ${ARGN})
  set(runtime_args "")
  if (RETNET_KERNEL_RUNTIME)
    set(runtime_args USE_RUNTIME ${RETNET_KERNEL_RUNTIME})
  endif ()
  add_halide_library(${NAME} FROM retnet_generators
                     GENERATOR ${ARG_GENERATOR}
                     TARGETS ${RETNET_CPU_TARGETS}
                     PARAMS ${ARG_PARAMS}
                     ${runtime_args})
  if (NOT RETNET_KERNEL_RUNTIME)
    set(RETNET_KERNEL_RUNTIME ${NAME}.runtime CACHE INTERNAL "")
  endif ()
  set(RETNET_KERNEL_LIBRARIES ${RETNET_KERNEL_LIBRARIES} ${NAME} CACHE INTERNAL "")
endfunction()
