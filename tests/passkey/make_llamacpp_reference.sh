#!/bin/sh
# make_llamacpp_reference.sh — llama.cpp's llama-passkey on the default model, which
# tests/test_passkey.c checks `./run --passkey` against. Run by a developer, never by
# `make test`:
#
#   LLAMA_BIN=path/to/llama.cpp/build/bin tests/passkey/make_llamacpp_reference.sh
#
# LLAMA_BIN holds llama-passkey, built from the source that the npm package node-llama-cpp
# bundles (docs/bench/vs_llamacpp.md says how). Writes llamacpp.json next to this script:
# the FNV-1a-64 hash of models/kjv.gguf (the test checks it has the very file), and
#   "in_context": llama-passkey --junk N --pos P (2 threads, greedy) for settings whose prompt
#                 fits the training context of 256: the key it printed (its rand() with the
#                 default seed), its prompt token count and its answer text;
#   "grouped":    llama-passkey --grp-attn-n 4 -b 128 on prompts about 4x the training context,
#                 one trial per position: llama.cpp's group attention (it divides the positions
#                 of each finished batch by 4) beside ./run's Self-Extend (the paper's exact
#                 formula), whose accuracy the test reports but does not require to agree.
set -eu
die() { echo "make_llamacpp_reference.sh: $*" >&2; exit 2; }
[ -n "${LLAMA_BIN:-}" ] || die "set LLAMA_BIN to llama.cpp's build/bin"
[ -x "$LLAMA_BIN/llama-passkey" ] || die "no $LLAMA_BIN/llama-passkey"
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
cd "$ROOT"
MODEL=models/kjv.gguf
export LD_LIBRARY_PATH="$LLAMA_BIN${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
GROUPED_JUNK=${GROUPED_JUNK:-23}

passkey() { # junk pos [flags] -> one JSON object
    junk=$1 pos=$2
    shift 2
    "$LLAMA_BIN/llama-passkey" -m "$MODEL" --junk "$junk" --pos "$pos" -t 2 "$@" \
        >"$TMP/out" 2>"$TMP/err" || die "llama-passkey --junk $junk --pos $pos failed"
    python3 - "$junk" "$pos" "$TMP/out" "$TMP/err" <<'PY'
import json, re, sys
junk, pos, out, err = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
log = open(err, encoding="utf-8", errors="surrogateescape").read()
answer = open(out, "rb").read().decode("utf-8", "surrogateescape").rstrip("\n")
key = int(re.search(r"passkey = (\d+)", log).group(1))
tokens = int(re.search(r"prompt tokens: (\d+)", log).group(1))
digits = re.match(r"\s*(\d+)", answer)
print(json.dumps({"junk": junk, "pos": pos, "key": key, "prompt_tokens": tokens,
                  "answer": answer, "correct": bool(digits) and digits.group(1) == str(key)},
                 ensure_ascii=False))
PY
}

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
HASH=$(python3 "$ROOT/tests/fnv1a64.py" "$MODEL")
VERSION=$("$LLAMA_BIN/llama-passkey" --version 2>&1 | sed -n 's/^version: //p' | head -1)
{
    printf '{\n  "llama_cpp": "%s",\n  "file": "%s",\n  "fnv1a64": "%s",\n' "$VERSION" "$MODEL" "$HASH"
    printf '  "in_context": [\n'
    sep=""
    for setting in "1 0" "2 1" "3 0" "3 2"; do
        printf '%s    %s' "$sep" "$(passkey $setting)"
        sep=",
"
    done
    printf '\n  ],\n  "grouped_flags": "--grp-attn-n 4 -b 128",\n  "grouped": [\n'
    sep=""
    pos=0
    while [ "$pos" -lt "$GROUPED_JUNK" ]; do
        printf '%s    %s' "$sep" "$(passkey "$GROUPED_JUNK" "$pos" --grp-attn-n 4 -b 128)"
        sep=",
"
        pos=$((pos + 2))
    done
    printf '\n  ]\n}\n'
} > "$HERE/llamacpp.json"
echo "wrote $HERE/llamacpp.json"
