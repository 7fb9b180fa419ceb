# RETNET_SANITIZE and RETNET_FUZZ (top-level CMakeLists.txt): compile and link options for every
# target defined after this file is included, i.e. the runtime, apps, tests and fuzz targets.

if (RETNET_FUZZ)
  if (NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "RETNET_FUZZ needs clang (libFuzzer): configure with -DCMAKE_CXX_COMPILER=clang++-14")
  endif ()
  if (NOT RETNET_SANITIZE)
    set(RETNET_SANITIZE "address,undefined")
  endif ()
  # Coverage feedback for the fuzzer from all the instrumented code, not only the fuzz targets; the
  # sanitizer runtime supplies the callbacks, so the test suites link and run as usual.
  add_compile_options(-fsanitize=fuzzer-no-link)
endif ()

if (RETNET_SANITIZE)
  message(STATUS "retnet: -fsanitize=${RETNET_SANITIZE} for the runtime, apps and tests")
  # Frame pointers for readable reports; no recovery, so that any report fails the test or fuzz run.
  add_compile_options(-fsanitize=${RETNET_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all
                      # libstdc++'s checked operator[], front(), back() etc.: ASan cannot see an index
                      # past size() but within a vector's capacity.
                      -D_GLIBCXX_ASSERTIONS)
  add_link_options(-fsanitize=${RETNET_SANITIZE})
endif ()
