#!/usr/bin/env bash
# demo.sh — what `make demo` runs: the whole point of the project in a few minutes on 2
# cores, offline, with the project's own model (models/kjv.gguf, trained at context 256):
#   1. installs missing Debian packages (tools/install_deps.sh; sudo only when not root)
#   2. builds ./run
#   3. streams the greedy continuation of "In the beginning" (64 tokens; the model card says
#      how far it gets before it repeats itself)
#   4. perplexity of every RoPE scaling mode at contexts 256, 1024, 2048 on held-out books
#      (tools/sweep.sh), as a table, per-band CSV, and PNG plots in out/demo/
#
#   environment:
#     DEMO_CONTEXTS  contexts to sweep (default "256 1024 2048"; add 4096 for more)
#     DEMO_BYTES     how much of models/kjv-heldout.txt to score, cut at a line end
#                    (default 24000: about 8k tokens, the same text for every context)
#     DEMO_OUT       output directory (default out/demo)
#     THREADS        threads for ./run (default 2)
set -euo pipefail
cd "$(dirname "$0")/.."

MODEL=models/kjv.gguf
HELDOUT=models/kjv-heldout.txt
CONTEXTS=${DEMO_CONTEXTS:-"256 1024 2048"}
BYTES=${DEMO_BYTES:-24000}
OUT=${DEMO_OUT:-out/demo}
THREADS=${THREADS:-2}

step() { printf '\n=== %s\n' "$*" >&2; }

step "1/4 Debian packages"
./tools/install_deps.sh

step "2/4 build"
${MAKE:-make} --no-print-directory -s run

mkdir -p "$OUT"
step "3/4 generation: the greedy continuation of \"In the beginning\" (model trained on the KJV)"
./run "$MODEL" -p "In the beginning" -n 64 --temp 0 -t "$THREADS" \
    2> "$OUT/generate.log" || {
    cat "$OUT/generate.log" >&2; exit 1; }
echo

step "4/4 perplexity by RoPE scaling mode; the model was trained at context 256"
text="$OUT/heldout-part.txt"
head -c "$BYTES" "$HELDOUT" | sed '$d' > "$text" # drop the last, cut line
echo "text: the first $(wc -l < "$text") lines of $HELDOUT ($(wc -c < "$text") bytes:" \
     "books held out of training)" >&2
RUN=./run RUN_ARGS="-t $THREADS --ppl-no-progress" ORIG_CTX=256 \
    ./tools/sweep.sh "$MODEL" "$text" "$OUT" "$CONTEXTS"

step "per-band perplexity (band = position of the predicted token / 256)"
awk -F, 'NR == 1 { next }
    { key = $1 " @" $2
      if (!(key in seen)) { seen[key] = 1; order[++n] = key }
      band = int($3 / 256); if (band > max) max = band
      v[key "|" band] = sprintf("%.2f", $6) }
    END {
      printf "%-16s", "mode @ctx"
      for (b = 0; b <= max; b++) printf " %8d+", b * 256
      printf "\n"
      for (i = 1; i <= n; i++) {
        printf "%-16s", order[i]
        for (b = 0; b <= max; b++) {
          cell = v[order[i] "|" b]; if (cell == "") cell = "-"
          printf " %9s", cell
        }
        printf "\n"
      } }' "$OUT/ppl_bands.csv"

echo >&2
echo "plots: $(ls "$OUT"/*.png 2>/dev/null | tr '\n' ' ')" >&2
echo "tables: $OUT/ppl.md $OUT/ppl.csv $OUT/ppl_bands.csv" >&2
