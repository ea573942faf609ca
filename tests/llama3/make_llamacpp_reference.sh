#!/bin/sh
# make_llamacpp_reference.sh — llama.cpp's figures on the Llama-3-shaped test model, which
# tests/test_llama3_model.c checks ./run against. Run by a developer, never by `make test`:
#
#   LLAMA_BIN=path/to/llama.cpp/build/bin tests/llama3/make_llamacpp_reference.sh
#   LLAMA_BIN=... tests/llama3/make_llamacpp_reference.sh tests/qwen2/qwen2-tiny.gguf \
#       tests/qwen2/llamacpp.json         # the same figures for the Qwen2-shaped model
#
# LLAMA_BIN holds llama-perplexity and llama-completion, built from the source that the npm
# package node-llama-cpp bundles (docs/bench/vs_llamacpp.md says how). The model is
# tests/llama3/llama3-tiny.gguf, which `make` builds with tools/make_random_model from the
# Llama 3 vocabulary (the Makefile's LLAMA3_TINY_FLAGS: GQA 8/2 heads, freq_base 500000,
# rope_freqs.weight of Llama 3.2's scaling, tied embeddings, Q8_0, random weights). The
# script writes llamacpp.json next to itself: the file's FNV-1a-64 hash (the test checks that
# it has the very file), llama-perplexity on models/kjv-heldout.txt (-c 256 -b 256, f16 KV,
# flash attention off, 2 threads: the whole text and its first 16 chunks) and
# llama-completion's greedy text (32 tokens) for three prompts, and the ids of llama.cpp's
# end-of-generation set (the "EOG token" lines of its load log, at -lv 4).
set -eu
die() { echo "make_llamacpp_reference.sh: $*" >&2; exit 2; }
[ -n "${LLAMA_BIN:-}" ] || die "set LLAMA_BIN to llama.cpp's build/bin"
for tool in llama-perplexity llama-completion; do
    [ -x "$LLAMA_BIN/$tool" ] || die "no $LLAMA_BIN/$tool"
done
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
cd "$ROOT"
MODEL=${1:-tests/llama3/llama3-tiny.gguf}
OUT=${2:-$HERE/llamacpp.json}
make "$MODEL" >/dev/null
TEXT=models/kjv-heldout.txt

ppl() { # [more flags] -> the final estimate
    "$LLAMA_BIN/llama-perplexity" -m "$MODEL" -f "$TEXT" -c 256 -b 256 -t 2 -fa off "$@" 2>&1 |
        sed -n 's/.*Final estimate: PPL = \([0-9.]*\).*/\1/p'
}
greedy() { # prompt -> 32 greedy tokens as text, the prompt first, as JSON
    "$LLAMA_BIN/llama-completion" -m "$MODEL" -p "$1" -n 32 --temp 0 -fa off -t 2 -no-cnv \
        2>/dev/null | python3 -c 'import json, sys; print(json.dumps(sys.stdin.buffer.read().decode("utf-8", "surrogateescape"), ensure_ascii=False))'
}
eog() { # the EOG ids of llama.cpp's vocabulary (its print_info lines), comma-separated
    "$LLAMA_BIN/llama-completion" -m "$MODEL" -p Hi -n 1 --temp 0 -t 2 -no-cnv -lv 4 2>&1 >/dev/null |
        sed -n "s/.*print_info: EOG token *= *\([0-9][0-9]*\) .*/\1/p" | paste -sd, - | sed 's/,/, /g'
}
HASH=$(python3 "$ROOT/tests/fnv1a64.py" "$MODEL")
VERSION=$("$LLAMA_BIN/llama-perplexity" --version 2>&1 | sed -n 's/^version: //p' | head -1)
{
    printf '{\n  "llama_cpp": "%s",\n  "file": "%s",\n  "fnv1a64": "%s",\n' "$VERSION" "$MODEL" "$HASH"
    printf '  "ppl": %s,\n  "ppl_16_chunks": %s,\n  "greedy": [\n' "$(ppl)" "$(ppl --chunks 16)"
    sep=""
    for prompt in "Once upon a time" "The capital of France is" "In the beginning God created"; do
        printf '%s    {"prompt": "%s", "text": %s}' "$sep" "$prompt" "$(greedy "$prompt")"
        sep=",
"
    done
    printf '\n  ],\n  "eog": [%s]\n}\n' "$(eog)"
} > "$OUT"
echo "wrote $OUT"
