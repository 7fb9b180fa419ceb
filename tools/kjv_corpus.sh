#!/usr/bin/env bash
# Writes the King James Bible text (Debian's bible-kjv-text, public domain) as plain ASCII, one
# verse per line under chapter headings, and splits it into the training text (first 95%) and the
# validation text (last 5%), at byte boundaries:
#     bash tools/kjv_corpus.sh [OUT_DIR]      (default: .data, which git ignores)
# Installs bible-kjv (the `bible` reader of that data) with apt-get if it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-.data}
if ! command -v bible >/dev/null; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get install -y --no-install-recommends bible-kjv >/dev/null
fi
mkdir -p "$out"
# -l: no line wrapping; the whole canon, Genesis 1:1 to Revelation 22:21.
bible -l100000 "gen1:1-rev22:21" > "$out/kjv.txt"
total=$(stat -c %s "$out/kjv.txt")
train=$((total * 95 / 100))
head -c "$train" "$out/kjv.txt" > "$out/kjv_train.txt"
tail -c +"$((train + 1))" "$out/kjv.txt" > "$out/kjv_val.txt"
echo "$out/kjv.txt: $total bytes; train $(stat -c %s "$out/kjv_train.txt"), validation $(stat -c %s "$out/kjv_val.txt")"
