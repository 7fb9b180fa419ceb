# Installation: `cmake --install build --prefix P` puts
#   P/include/retnet/*.h                            the public headers
#   P/lib/libretnet_runtime.a, P/lib/libretnet_text.a
#   P/lib/retnet/lib*.a                             every Halide kernel library and their one Halide
#                                                   runtime (kept apart: names like liblinear_cpu.a)
#   P/lib/cmake/RetNetHalide/                       the package: find_package(RetNetHalide CONFIG)
#                                                   gives RetNetHalide::retnet and RetNetHalide_MODEL_DIR
#   P/bin/retnet                                    the command
#   P/share/RetNetHalide/models/kjv-byte            the shipped model
# examples/generate_text uses the package; scripts/test_install.sh checks all of it.
#
# Included last from the top-level CMakeLists.txt: it exports the targets the other directories
# made, and changes nothing about how they build. Their include directories and link interfaces
# name build-tree paths and imported targets of build-time packages; for the installed package
# each such entry gets a $<BUILD_INTERFACE:...> / $<INSTALL_INTERFACE:...> pair (below).

include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(RETNET_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/RetNetHalide")
set(RETNET_INSTALL_KERNELDIR "${CMAKE_INSTALL_LIBDIR}/retnet")
set(RETNET_INSTALL_MODELDIR "${CMAKE_INSTALL_DATADIR}/RetNetHalide/models")

# The one target users link: the runtime, which brings the tokenizers, the kernels and their
# Halide runtime along (static libraries, so their link dependencies come too).
set_target_properties(retnet_runtime PROPERTIES EXPORT_NAME retnet)
add_library(RetNetHalide::retnet ALIAS retnet_runtime)

# Every target of the project that RetNetHalide::retnet links, found by following link interfaces
# from the runtime (and from the kernel lists, which name them all): install(EXPORT) needs each one
# in the export set, and new ones made elsewhere are picked up here without a change.
function(retnet_link_closure out)
  set(queue ${ARGN})
  set(found "")
  while (queue)
    list(POP_FRONT queue target)
    get_target_property(aliased ${target} ALIASED_TARGET)
    if (aliased)
      set(target ${aliased})
    endif ()
    if (target IN_LIST found)
      continue ()
    endif ()
    list(APPEND found ${target})
    get_target_property(deps ${target} INTERFACE_LINK_LIBRARIES)
    foreach (dep IN LISTS deps)
      string(REGEX REPLACE "^\\$<LINK_ONLY:(.*)>$" "\\1" dep "${dep}")
      if (TARGET "${dep}")
        get_target_property(imported ${dep} IMPORTED)
        if (NOT imported)
          list(APPEND queue ${dep})
        endif ()
      endif ()
    endforeach ()
  endwhile ()
  set(${out} "${found}" PARENT_SCOPE)
endfunction()
retnet_link_closure(retnet_exported retnet_runtime retnet_text retnet_kernels
                    ${RETNET_KERNEL_LIBRARIES} ${RETNET_KERNEL_RUNTIME})

# The installed link interface of one dependency (without $<LINK_ONLY:>):
#  - a target of the project: itself (it is exported too);
#  - Threads::Threads: itself (the package config finds Threads);
#  - any other imported INTERFACE target that only adds include directories or definitions
#    (fmt::fmt-header-only, nlohmann_json::nlohmann_json, Halide::Runtime): nothing, since no public
#    header includes them and the static libraries need nothing of them at link time;
#  - a library file in a directory the linker searches anyway (libsentencepiece.so, libpcre2-8.so,
#    libutf8proc.so): its plain name, so that the package does not name this machine's paths;
#  - anything else (dl, -pthread, another file): unchanged.
function(retnet_installed_dependency dep out)
  set(result "${dep}")
  if (TARGET "${dep}")
    get_target_property(imported ${dep} IMPORTED)
    get_target_property(type ${dep} TYPE)
    get_target_property(links ${dep} INTERFACE_LINK_LIBRARIES)
    get_target_property(options ${dep} INTERFACE_LINK_OPTIONS)
    if (imported AND NOT dep STREQUAL "Threads::Threads")
      if (type STREQUAL "INTERFACE_LIBRARY" AND NOT links AND NOT options)
        set(result "")
      else ()
        message(WARNING "cmake/Install.cmake: the installed package does not find ${dep} (a link "
                        "dependency of the runtime); add a find_dependency for it to "
                        "cmake/RetNetHalideConfig.cmake.in")
      endif ()
    endif ()
  elseif (IS_ABSOLUTE "${dep}" AND dep MATCHES "/lib([^/]+)\\.so(\\.[0-9.]+)?$")
    set(name "${CMAKE_MATCH_1}")
    get_filename_component(dir "${dep}" DIRECTORY)
    if (dir IN_LIST CMAKE_CXX_IMPLICIT_LINK_DIRECTORIES OR dir IN_LIST CMAKE_C_IMPLICIT_LINK_DIRECTORIES)
      set(result "${name}")
    endif ()
  endif ()
  set(${out} "${result}" PARENT_SCOPE)
endfunction()

function(retnet_split_interfaces target)
  # Include directories: the build tree's for the build only; the installed ones come from
  # install(TARGETS ... INCLUDES DESTINATION) below.
  get_target_property(dirs ${target} INTERFACE_INCLUDE_DIRECTORIES)
  if (dirs)
    set(wrapped "")
    foreach (dir IN LISTS dirs)
      if (NOT dir MATCHES "^\\$<")
        set(dir "$<BUILD_INTERFACE:${dir}>")
      endif ()
      list(APPEND wrapped "${dir}")
    endforeach ()
    set_property(TARGET ${target} PROPERTY INTERFACE_INCLUDE_DIRECTORIES "${wrapped}")
  endif ()

  get_target_property(deps ${target} INTERFACE_LINK_LIBRARIES)
  if (deps)
    set(wrapped "")
    foreach (entry IN LISTS deps)
      set(dep "${entry}")
      set(link_only FALSE)
      if (dep MATCHES "^\\$<LINK_ONLY:(.*)>$")
        set(dep "${CMAKE_MATCH_1}")
        set(link_only TRUE)
      endif ()
      if (dep MATCHES "\\$<")  # some other generator expression: left as it is
        list(APPEND wrapped "${entry}")
        continue ()
      endif ()
      retnet_installed_dependency("${dep}" installed)
      if (installed STREQUAL dep)
        list(APPEND wrapped "${entry}")
        continue ()
      endif ()
      list(APPEND wrapped "$<BUILD_INTERFACE:${entry}>")
      if (installed AND link_only)
        list(APPEND wrapped "$<INSTALL_INTERFACE:$<LINK_ONLY:${installed}>>")
      elseif (installed)
        list(APPEND wrapped "$<INSTALL_INTERFACE:${installed}>")
      endif ()
    endforeach ()
    set_property(TARGET ${target} PROPERTY INTERFACE_LINK_LIBRARIES "${wrapped}")
  endif ()
endfunction()
foreach (target IN LISTS retnet_exported)
  retnet_split_interfaces(${target})
endforeach ()

# The libraries. The runtime and the tokenizers go to lib/, the rest (kernels, their Halide runtime
# and whatever else the runtime links) to lib/retnet/.
set(retnet_kernel_targets ${retnet_exported})
list(REMOVE_ITEM retnet_kernel_targets retnet_runtime retnet_text)
install(TARGETS retnet_runtime retnet_text
        EXPORT RetNetHalideTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS ${retnet_kernel_targets}
        EXPORT RetNetHalideTargets
        ARCHIVE DESTINATION ${RETNET_INSTALL_KERNELDIR}
        LIBRARY DESTINATION ${RETNET_INSTALL_KERNELDIR}
        OBJECTS DESTINATION ${RETNET_INSTALL_KERNELDIR}/objects)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/runtime/include/retnet
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
        FILES_MATCHING PATTERN "*.h")

# The package.
install(EXPORT RetNetHalideTargets
        NAMESPACE RetNetHalide::
        DESTINATION ${RETNET_INSTALL_CMAKEDIR})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/RetNetHalideConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/cmake/RetNetHalideConfig.cmake
                              INSTALL_DESTINATION ${RETNET_INSTALL_CMAKEDIR}
                              PATH_VARS RETNET_INSTALL_MODELDIR)
# 0.x: a new minor version may change the API.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/cmake/RetNetHalideConfigVersion.cmake
                                 VERSION ${PROJECT_VERSION}
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/cmake/RetNetHalideConfig.cmake
              ${PROJECT_BINARY_DIR}/cmake/RetNetHalideConfigVersion.cmake
        DESTINATION ${RETNET_INSTALL_CMAKEDIR})

# The command and the model it (and examples/generate_text) generates text with by default.
if (TARGET retnet)
  install(TARGETS retnet RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif ()
install(DIRECTORY ${PROJECT_SOURCE_DIR}/models/kjv-byte DESTINATION ${RETNET_INSTALL_MODELDIR})
