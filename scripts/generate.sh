#!/usr/bin/env bash
# The main job: set up, build `retnet`, and generate text with the shipped model (models/kjv-byte).
# Arguments go to `retnet generate` (e.g. --prompt "In the beginning" --max-tokens 500 --seed 7).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh retnet
exec ./build/apps/retnet generate "$@"
