#!/usr/bin/env bash
# Compares the generated code of kernels between two builds (e.g. before and after a refactor of
# the generators or the manifest): CPU kernels by their disassembly, GPU kernels by their embedded
# PTX / OpenCL source, with addresses and kernel names normalised away.
#   tools/compare_kernel_code.sh OLD_BUILD NEW_BUILD [old_name:new_name ...]
# Without pairs, every kernel library present in both builds under the same name is compared.
# Prints "same" or "DIFF" per kernel; exits 1 if any differs.
set -euo pipefail
old=$1/generators new=$2/generators
shift 2
cpu_target=x86-64-linux-sse41-avx-f16c-fma-avx2-avx512-avx512_skylake-no_runtime.o

cpu_code() { objdump -d --no-show-raw-insn "$1" | sed -E 's/^ *[0-9a-f]+:\s*//; s/<[^>]*>//g; s/0x[0-9a-f]+//g' |
               grep -v '^$\|file format\|Disassembly of'; }
gpu_code() { strings -n 4 "$1" | sed -E "s/$2/KERNEL/g" | grep -v '^\.file\|// Generated\|// Compiler'; }

pairs=("$@")
if [ ${#pairs[@]} -eq 0 ]; then
  for f in "$new"/*.h; do
    name=$(basename "$f" .h)
    [ -f "$old/$name.h" ] && pairs+=("$name:$name")
  done
fi
status=0
for pair in "${pairs[@]}"; do
  a=${pair%%:*} b=${pair##*:}
  if [ -f "$old/$a-$cpu_target" ]; then
    x=$(cpu_code "$old/$a-$cpu_target" | md5sum) y=$(cpu_code "$new/$b-$cpu_target" | md5sum)
  else
    x=$(gpu_code "$old/$a.o" "$a" | md5sum) y=$(gpu_code "$new/$b.o" "$b" | md5sum)
  fi
  if [ "$x" == "$y" ]; then echo "same  $b"; else echo "DIFF  $a -> $b"; status=1; fi
done
exit $status
