#!/usr/bin/env bash
# The main job: set up, build `retnet`, and run `retnet bench` (arguments are passed on).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh retnet
exec ./build/apps/retnet bench "$@"
