#!/usr/bin/env bash
# Checks the installation (cmake/Install.cmake) of a built tree: installs it into a temporary
# prefix, moved once installed (nothing may name where it was installed), builds
# examples/generate_text against it as a project outside this one would, runs the example with the
# model installed beside the library, and runs the installed `retnet`. Cleans up after itself.
#   bash scripts/test_install.sh [BUILD_DIR]    (default: ./build, built by scripts/build.sh)
set -euo pipefail
build=$(realpath "${1:-$(dirname "$0")/../build}")
cd "$(dirname "$0")/.."
[ -f "$build/CMakeCache.txt" ] || { echo "test_install: $build is not a configured build directory" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/staging" >/dev/null
mv "$tmp/staging" "$tmp/prefix"
prefix=$tmp/prefix
# The package names neither the build tree nor the source tree, nor Halide (users need none).
if grep -rlF -e "$build" -e "$PWD" "$prefix/lib/cmake" || grep -rlE "(^|[^[:alnum:]])Halide::" "$prefix/lib/cmake"; then
  echo "test_install: the installed package names the build or source tree or Halide (files above)" >&2
  exit 1
fi

# The example, against the installed package only.
cmake -S examples/generate_text -B "$tmp/example" -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$tmp/example" >/dev/null
prompt="And it came to pass"
text=$("$tmp/example/generate_text" -n 64 "$prompt") || { echo "test_install: generate_text failed" >&2; exit 1; }
echo "$text"
if [[ "$text" != "$prompt"* ]] || [ "${#text}" -le $((${#prompt} + 16)) ]; then
  echo "test_install: generate_text did not continue the prompt" >&2
  exit 1
fi

# The installed command, with the installed model.
for args in "--help" "generate --model $prefix/share/RetNetHalide/models/kjv-byte -n 16"; do
  "$prefix/bin/retnet" $args >"$tmp/retnet.log" 2>&1 || {
    cat "$tmp/retnet.log" >&2
    echo "test_install: the installed 'retnet $args' failed" >&2
    exit 1
  }
done
echo "test_install: passed (installed from $build, example built and run, retnet --help and generate ran)"
