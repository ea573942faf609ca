#!/usr/bin/env bash
# guide.sh — what `make guide` runs: every table and picture of docs/GUIDE.md, regenerated
# with the project's own commands on the default model (models/kjv.gguf, trained at 256), then
# docs/GUIDE.md itself from docs/guide/GUIDE.template.md (each "{{name}}" line is replaced by
# docs/guide/name, a table this script wrote). About 10 minutes on 2 cores.
#
#   environment: THREADS (default 2), PASSKEY_TRIALS (default 4; make passkey runs 10),
#                GUIDE_OUT (default docs/guide)
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=models/kjv.gguf TEXT=models/kjv-heldout.txt L=256
OUT=${GUIDE_OUT:-docs/guide}
THREADS=${THREADS:-2}
RUN=./run
EXPLORE=build/tools/rope_explore
step() { printf '\n=== guide: %s\n' "$*" >&2; }
mkdir -p "$OUT"
start=$(date +%s)

step "1. the rotation: q.k depends on m - n only"
$EXPLORE relative --orig $L --context 4096 > "$OUT/relative.md"

step "2. long-range decay of q.k per mode"
$EXPLORE decay --orig $L --context 4096 > "$OUT/decay.csv"
gnuplot -e "csv='$OUT/decay.csv'; out='$OUT/decay.png'; orig_ctx=$L" tools/plot_decay.gp

step "3. past L: perplexity, per band and per position, and the frequency tables"
RUN=$RUN RUN_ARGS="-t $THREADS --ppl-no-progress" ORIG_CTX=$L \
    ./tools/sweep.sh "$MODEL" "$TEXT" "$OUT/sweep" "256 512 1024 2048 4096" \
    "none linear ntk dynamic yarn llama3 self-extend" > /dev/null
awk -F, 'NR > 1 && $2 == 4096 { band = int($3 / 256); v[$1, band] = $6
        if (!($1 in seen)) { seen[$1] = 1; order[++n] = $1 } if (band > max) max = band }
    END { printf "| mode |"; for (b = 0; b <= max; b++) printf " %d+ |", b * 256
        printf "\n|---|"; for (b = 0; b <= max; b++) printf "---:|"; printf "\n"
        for (i = 1; i <= n; i++) { printf "| %s |", order[i]
            for (b = 0; b <= max; b++) printf " %.1f |", v[order[i], b]; printf "\n" } }' \
    "$OUT/sweep/ppl_bands.csv" > "$OUT/bands_4096.md"
tail -n +3 "$OUT/sweep/ppl.md" > "$OUT/ppl.md"

ppl() { # flags... -> the perplexity
    $RUN "$MODEL" --ppl "$TEXT" --json --ppl-no-progress -t "$THREADS" "$@" 2>/dev/null |
        sed -n 's/^{"ppl":\([0-9.]*\),.*/\1/p'
}

step "4. dynamic NTK: exact cache against keys rotated when stored"
{
    echo "| context | keys rotated at attention (exact) | keys rotated when stored | stored / exact |"
    echo "|---:|---:|---:|---:|"
    for c in 512 1024 2048 4096; do
        s=$((c / L))
        exact=$(ppl -c $c --rope-scaling dynamic --rope-scale $s --rope-keys attention)
        stored=$(ppl -c $c --rope-scaling dynamic --rope-scale $s --rope-keys store)
        awk -v c=$c -v e="$exact" -v s="$stored" 'BEGIN { printf "| %d | %.3f | %.3f | %.3f |\n", c, e, s, s / e }'
    done
} > "$OUT/dynamic.md"

step "5. YaRN's attention factor"
{
    echo "| context | s | yarn (factor 0.1 ln s + 1) | yarn, factor 1 | without / with |"
    echo "|---:|---:|---:|---:|---:|"
    for c in 512 1024 2048 4096; do
        s=$((c / L))
        with=$(ppl -c $c --rope-scaling yarn --rope-scale $s)
        without=$(ppl -c $c --rope-scaling yarn --rope-scale $s --yarn-attn-factor 1)
        awk -v c=$c -v s=$s -v a="$with" -v b="$without" 'BEGIN {
            printf "| %d | %d | %.3f | %.3f | %.3f |\n", c, s, a, b, b / a }'
    done
} > "$OUT/yarn.md"

step "6. memory and latency vs depth"
{
    echo "| KV type | bytes per token (all layers, K and V) | at 4096 tokens | at 32768 tokens |"
    echo "|---|---:|---:|---:|"
    for kv in f32 f16 q8_0; do
        # at 65536 positions the plan's MiB, printed to 0.1, is exact to the byte per token
        bytes=$($RUN "$MODEL" -c 65536 --kv-type $kv -n 0 -t 1 2>&1 >/dev/null |
                sed -n 's/.*KV cache \([0-9.]*\) MiB.*/\1/p')
        awk -v kv=$kv -v mib="$bytes" 'BEGIN { per = mib * 1048576 / 65536
            printf "| %s | %d | %.2f MiB | %.1f MiB |\n", kv, per, per * 4096 / 1048576, per * 32768 / 1048576 }'
    done
} > "$OUT/kv_bytes.md"
echo "depth,f32,f16,q8_0" > "$OUT/decode_depth.csv"
for depth in 0 1024 2048 4096 8192 16384; do
    row=$depth
    for kv in f32 f16 q8_0; do
        tps=$($RUN "$MODEL" --bench --json --bench-depth $depth --bench-prompt 16 --bench-gen 64 \
              --bench-repeats 3 -c $((depth + 128)) --kv-type $kv -t "$THREADS" 2>/dev/null |
              sed -n 's/.*"decode_tps": \([0-9.]*\).*/\1/p')
        row="$row,$(awk -v t="$tps" 'BEGIN { printf "%.4f", 1000 / t }')"
    done
    echo "$row" >> "$OUT/decode_depth.csv"
done
gnuplot -e "csv='$OUT/decode_depth.csv'; out='$OUT/decode_depth.png'" tools/plot_decode_depth.gp

step "7. attention sinks: streaming 10x past a window of 256"
for sinks in 0 4; do
    $RUN "$MODEL" --ppl "$TEXT" --ppl-stream 2560 --stream-window 256 --sinks $sinks --json \
        --ppl-no-progress -t "$THREADS" --ppl-positions "$OUT/stream_sinks$sinks.csv" \
        > "$OUT/stream_sinks$sinks.json" 2>/dev/null
done
{
    echo "| policy | ppl over 12 streams of 2560 tokens |"
    echo "|---|---:|"
    for sinks in 0 4; do
        printf '| window 256, %d sinks | %.3f |\n' $sinks \
            "$(sed -n 's/^{"ppl":\([0-9.]*\),.*/\1/p' "$OUT/stream_sinks$sinks.json")"
    done
    printf '| whole context, -c 2560, none (for scale) | %.3f |\n' "$(ppl -c 2560 --rope-scaling none)"
} > "$OUT/sinks.md"
gnuplot -e "dir='$OUT'; out='$OUT/stream_sinks.png'; window=256" tools/plot_stream_sinks.gp

step "8. passkey retrieval (tools/passkey_sweep.sh, ${PASSKEY_TRIALS:-4} trials a cell)"
TRIALS=${PASSKEY_TRIALS:-4} THREADS=$THREADS RUN=$RUN ./tools/passkey_sweep.sh "$MODEL" "$OUT/passkey" >/dev/null

step "GUIDE.md from the template"
awk -v dir="$OUT" '/^\{\{[a-z0-9_.\/]+\}\}$/ { f = dir "/" substr($0, 3, length($0) - 4)
        while ((getline line < f) > 0) print line; close(f); next } { print }' \
    "$OUT/GUIDE.template.md" > docs/GUIDE.md
echo "guide: docs/GUIDE.md and $OUT regenerated in $(( $(date +%s) - start )) s" >&2
