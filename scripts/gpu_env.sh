# Sourced by the scripts that run on the CUDA machine (scripts/gpu_*.sh): they work from the
# repository root, write their logs to $OUT (the lent machine's folder that comes back) or else
# ./gpu-logs, unpack the bundle (scripts/gpu_bundle.sh) if it came packed and find its shared
# libraries on the path, and know the GPU by name (gpu_name, gpu_info).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
out=${OUT:-gpu-logs}
export LD_LIBRARY_PATH="$PWD/.device/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
mkdir -p "$out"
# The bundle, if it came packed (`tar cf - .device/bin .device/lib | xz > .device/bundle.txz`).
if [ ! -x .device/bin/retnet ] && [ -f .device/bundle.txz ]; then tar xJf .device/bundle.txz; fi
# The GPU's name, as the tuning records name their device.
gpu_name=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1)
# gpu_info FILE: the GPU's name, driver, memory and clocks, shown and written to FILE.
gpu_info() {
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.mem --format=csv | tee "$1"
}
