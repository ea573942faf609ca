#!/bin/sh
# make_tokenize_reference.sh — llama.cpp's token ids for the texts that
# tests/test_tokenize.c checks `./run MODEL --tokenize` against. Run by a developer,
# never by `make test`:
#
#   LLAMA_BIN=path/to/llama.cpp/build/bin tests/llamacpp/make_tokenize_reference.sh
#
# LLAMA_BIN holds llama-tokenize, built from the source that the npm package node-llama-cpp
# bundles (docs/bench/vs_llamacpp.md says how); python3 formats its output. It writes
# tokenize.json next to this script: for each model (models/kjv.gguf, ../shared's
# stories260K.gguf and llama-2-tiny-random.gguf, the Llama 3 vocabulary
# tests/llama3/llama3-vocab.gguf and the Llama-3-shaped model made from it,
# tests/llama3/llama3-tiny.gguf) and each text (models/kjv-heldout.txt,
# ../shared/data/*.txt), `llama-tokenize -m MODEL -f TEXT --ids --no-bos`'s id count and the
# 64-bit FNV-1a hash of the ids written as ./run --ids writes them ("1 2 3", no newline);
# and for each line of tokenize-cases.txt (hard cases, one per line) the ids themselves of
# `llama-tokenize -m MODEL -p LINE --ids --no-bos`, and again with --no-parse-special.
set -eu
die() { echo "make_tokenize_reference.sh: $*" >&2; exit 2; }
[ -n "${LLAMA_BIN:-}" ] || die "set LLAMA_BIN to llama.cpp's build/bin"
[ -x "$LLAMA_BIN/llama-tokenize" ] || die "no $LLAMA_BIN/llama-tokenize"
command -v python3 >/dev/null || die "python3 is needed to format the reference"
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
cd "$ROOT"
MODELS="models/kjv.gguf ../shared/models/stories260K.gguf ../shared/models/llama-2-tiny-random.gguf
        tests/llama3/llama3-vocab.gguf tests/llama3/llama3-tiny.gguf tests/qwen2/qwen2-tiny.gguf"
make tests/llama3/llama3-vocab.gguf tests/llama3/llama3-tiny.gguf tests/qwen2/qwen2-tiny.gguf >/dev/null
TEXTS="models/kjv-heldout.txt $(ls ../shared/data/*.txt)"
for m in $MODELS; do [ -f "$m" ] || die "no $m"; done

LLAMA_BIN=$LLAMA_BIN MODELS=$MODELS TEXTS=$TEXTS python3 - "$HERE/tokenize-cases.txt" \
    > "$HERE/tokenize.json" <<'PY'
import json, os, subprocess, sys

def ids_of(model, args):
    out = subprocess.run([os.environ["LLAMA_BIN"] + "/llama-tokenize", "-m", model, *args,
                          "--ids", "--no-bos", "--log-disable"], check=True,
                         capture_output=True).stdout.decode()
    return json.loads(out.strip().splitlines()[-1])

def fnv1a64(text):
    h = 0xcbf29ce484222325
    for b in text.encode():
        h = ((h ^ b) * 0x100000001b3) & 0xffffffffffffffff
    return "%016x" % h

files, cases = [], []
case_lines = open(sys.argv[1], encoding="utf-8").read().split("\n")
for model in os.environ["MODELS"].split():
    for text in os.environ["TEXTS"].split():
        ids = ids_of(model, ["-f", text])
        files.append({"model": model, "text": text, "count": len(ids),
                      "fnv1a64": fnv1a64(" ".join(map(str, ids)))})
    for line in case_lines:
        if line:
            cases.append({"model": model, "prompt": line, "ids": ids_of(model, ["-p", line])})
            cases.append({"model": model, "prompt": line, "parse_special": False,
                          "ids": ids_of(model, ["-p", line, "--no-parse-special"])})
json.dump({"tool": "llama-tokenize --ids --no-bos (cases also with --no-parse-special)",
           "files": files, "cases": cases}, sys.stdout,
          ensure_ascii=False, indent=1)
sys.stdout.write("\n")
PY
echo "wrote $HERE/tokenize.json"
