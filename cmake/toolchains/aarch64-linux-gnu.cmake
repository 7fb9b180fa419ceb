# Cross build for 64-bit Arm Linux on a Debian x86-64 machine (scripts/build_arm.sh uses it;
# `bash scripts/setup.sh --arm` installs what it needs).
#
# Debian multiarch, no sysroot: the cross compiler and CMake's find_* look in the aarch64-linux-gnu
# multiarch directories (CMAKE_LIBRARY_ARCHITECTURE), where the arm64 -dev packages put their files.
#
# The Halide generators still run on the build machine, so the project also needs
# -Dretnet_halide-halide_generators_DIR=<a build for this machine>/cmake and HalideHelpers_DIR,
# the directory of the build machine's Halide CMake helpers (scripts/build_arm.sh passes both).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)

# Runs the test executables (gtest_discover_tests at build time, ctest) and `retnet` under
# qemu-user. The guest's loader and libraries are found at the paths the programs name, where
# multiarch installed them, so no -L prefix is given: a prefix holding the cross compiler's own
# copy of the C library would pair its loader with multiarch's libc, two builds of glibc.
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64)
