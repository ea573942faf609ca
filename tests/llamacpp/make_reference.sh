#!/bin/sh
# make_reference.sh — the llama.cpp figures that tests/test_llamacpp_types.c checks ./run
# against, and the quantised files they are measured on. Run by a developer, never by
# `make test`: llama.cpp is a reference, not a dependency.
#
#   LLAMA_BIN=path/to/llama.cpp/build/bin tests/llamacpp/make_reference.sh
#
# LLAMA_BIN holds llama-quantize, llama-perplexity and llama-completion, built from the source
# that the npm package node-llama-cpp bundles (docs/bench/vs_llamacpp.md says how).
# It writes, next to this script:
#   kjv-q4_k_m.gguf  llama-quantize Q4_K_M of models/kjv.gguf (Q4_K, Q6_K; F16 ffn_down,
#                    whose rows of 688 are no multiple of 256)
#   kjv-q6_k.gguf    llama-quantize Q6_K
#   kjv-mix.gguf     one tensor family per type: attn_q Q2_K, attn_k Q3_K, attn_v Q4_1,
#                    attn_output Q5_0, ffn_gate Q5_1, blk.0.ffn_up BF16, the other ffn_up
#                    and token_embd Q5_K, output Q4_0
#   reference.json   llama-perplexity of those three, of a BF16 file (not kept: the tests
#                    make it themselves) and of kjv.gguf, on the whole text and on its
#                    first 16 chunks (the sanitizer builds' shorter run); llama-completion's
#                    greedy text
#                    (32 tokens, three prompts, each file)
# ppl protocol: models/kjv-heldout.txt, -c 256 -b 256, the second half of each chunk scored
# (llama-perplexity's own), f16 KV, 2 threads. Flash attention off (-fa off) in both tools:
# ./run's attention is the plain softmax(q k) v in float, and llama.cpp's flash-attention
# kernel rounds q to f16 first; on these under-trained models that alone changes two of the
# nine greedy continuations (near-ties: see tests/llamacpp/README.md).
set -eu
die() { echo "make_reference.sh: $*" >&2; exit 2; }
[ -n "${LLAMA_BIN:-}" ] || die "set LLAMA_BIN to llama.cpp's build/bin"
for tool in llama-quantize llama-perplexity llama-completion; do
    [ -x "$LLAMA_BIN/$tool" ] || die "no $LLAMA_BIN/$tool"
done
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
MODEL=$ROOT/models/kjv.gguf
TEXT=$ROOT/models/kjv-heldout.txt
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

quantize() { # out type [overrides...]
    out=$1 type=$2
    shift 2
    "$LLAMA_BIN/llama-quantize" "$@" "$MODEL" "$out" "$type" > "$TMP/quantize.log" 2>&1 ||
        { cat "$TMP/quantize.log" >&2; die "llama-quantize $type failed"; }
}
quantize "$HERE/kjv-q4_k_m.gguf" Q4_K_M
quantize "$HERE/kjv-q6_k.gguf" Q6_K
quantize "$HERE/kjv-mix.gguf" Q5_K_S --tensor-type attn_q=q2_k --tensor-type attn_k=q3_k \
    --tensor-type attn_v=q4_1 --tensor-type attn_output=q5_0 --tensor-type ffn_gate=q5_1 \
    --tensor-type 'blk\.0\.ffn_up=bf16' --token-embedding-type q5_k --output-tensor-type q4_0
quantize "$TMP/kjv-bf16.gguf" BF16

ppl() { # file [more flags] -> the final estimate
    file=$1
    shift
    "$LLAMA_BIN/llama-perplexity" -m "$file" -f "$TEXT" -c 256 -b 256 -t 2 -fa off "$@" 2>&1 |
        sed -n 's/.*Final estimate: PPL = \([0-9.]*\).*/\1/p'
}
greedy() { # file prompt -> 32 greedy tokens as text, prompt included (without the space
    # that llama-completion prints before it: SentencePiece's dummy prefix)
    "$LLAMA_BIN/llama-completion" -m "$1" -p "$2" -n 32 --temp 0 -fa off -t 2 -no-cnv \
        2>/dev/null | sed '1s/^ //'
}

VERSION=$("$LLAMA_BIN/llama-perplexity" --version 2>&1 | sed -n 's/^version: //p' | head -1)
{
    printf '{\n  "llama_cpp": "%s",\n  "ppl": [\n' "$VERSION"
    sep=""
    for f in kjv.gguf kjv-q4_k_m.gguf kjv-q6_k.gguf kjv-mix.gguf kjv-bf16.gguf; do
        case $f in kjv.gguf) path=$MODEL ;; kjv-bf16.gguf) path=$TMP/$f ;; *) path=$HERE/$f ;; esac
        printf '%s    {"file": "%s", "ppl": %s, "ppl_16_chunks": %s}' "$sep" "$f" \
            "$(ppl "$path")" "$(ppl "$path" --chunks 16)"
        sep=",
"
    done
    printf '\n  ],\n  "greedy": [\n'
    sep=""
    for f in kjv-q4_k_m.gguf kjv-q6_k.gguf kjv-mix.gguf; do
        for prompt in "In the beginning" "And the LORD said unto Moses" "Blessed are"; do
            text=$(greedy "$HERE/$f" "$prompt" | sed 's/\\/\\\\/g; s/"/\\"/g' | awk '{printf "%s%s", (NR > 1 ? "\\n" : ""), $0}')
            printf '%s    {"file": "%s", "prompt": "%s", "text": "%s"}' "$sep" "$f" "$prompt" "$text"
            sep=",
"
        done
    done
    printf '\n  ]\n}\n'
} > "$HERE/reference.json"
python3 -c 'import json, sys; json.load(open(sys.argv[1]))' "$HERE/reference.json" ||
    die "reference.json is not valid JSON: a llama.cpp run gave no figure (run again)"
echo "wrote $HERE/reference.json"
