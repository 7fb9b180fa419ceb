# Sourced by the scripts that run on the CUDA machine (scripts/gpu_*.sh): they work from the
# repository root, write their logs to $OUT (the lent machine's folder that comes back) or else
# ./gpu-logs, and find the bundle's shared libraries (scripts/gpu_bundle.sh) on the path.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
out=${OUT:-gpu-logs}
export LD_LIBRARY_PATH="$PWD/.device/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
mkdir -p "$out"
