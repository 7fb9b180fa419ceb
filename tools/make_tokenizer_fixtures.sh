#!/usr/bin/env bash
# Regenerates tests/data/tokenizers/ (docs/TOKENIZERS.md): trains the SentencePiece models and the
# byte-level BPE on text of this machine, writes the tokenizer.json files, and takes the reference
# ids from python3-sentencepiece and transformers.js. Installs what it needs from Debian and npm
# (transformers.js into .npm-tools/, which git ignores); runs offline after that.
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
for p in python3-sentencepiece python3-regex bible-kjv; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
command -v node >/dev/null && command -v npm >/dev/null || need+=(nodejs npm)
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get install -y --no-install-recommends "${need[@]}" >/dev/null
fi
if [ ! -d .npm-tools/node_modules/@huggingface/transformers ]; then
  mkdir -p .npm-tools
  [ -f .npm-tools/package.json ] || echo '{"name": "retnet-npm-tools", "private": true}' > .npm-tools/package.json
  (cd .npm-tools && npm install --ignore-scripts --no-audit --no-fund @huggingface/transformers@3.8.1)
fi
/usr/bin/python3 tools/make_tokenizer_fixtures.py
node tools/tokenizer_fixture_ids.mjs
