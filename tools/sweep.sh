#!/usr/bin/env bash
# sweep.sh — perplexity of one model and text for every RoPE scaling mode over a range of
# context lengths: runs ./run --ppl --json per (mode, context), collects OUTDIR/ppl.csv,
# OUTDIR/ppl_bands.csv and OUTDIR/ppl.md (mode x context), per-position NLL files, the
# theta' tables, and draws three PNG plots with gnuplot (tools/plot_*.gp).
#
#   tools/sweep.sh MODEL TEXT OUTDIR [contexts] [modes]
#     contexts  quoted list, default "256 512 1024 2048 4096 8192"
#     modes     quoted list, default "none linear ntk dynamic yarn llama3"; self-extend
#               (positions grouped, G and W chosen by ./run from L) may be added
#   environment:
#     RUN       the ./run binary (default ./run)
#     RUN_ARGS  extra ./run flags, e.g. "--tokenizer ../shared/models/tok512.model
#               --ppl-chunks 4 -t 2" (word-split; no quoting inside)
#     ORIG_CTX  the training context L (default: what ./run --print-rope reports for the
#               model; give it when the file is wrong, e.g. 512 for stories260K.gguf)
#     SCALE     fixed scale factor s (default: per context, max(1, context / L))
#
# Only bash, awk and gnuplot. The RoPE flags are llama.cpp's: --rope-scaling MODE
# --rope-scale S --yarn-orig-ctx L.
set -u

usage() {
    sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}
die() { echo "sweep.sh: $*" >&2; exit 2; }

[ $# -ge 3 ] && [ $# -le 5 ] || usage
MODEL=$1 TEXT=$2 OUT=$3
CONTEXTS=${4:-"256 512 1024 2048 4096 8192"}
MODES=${5:-"none linear ntk dynamic yarn llama3"}
RUN=${RUN:-./run}
read -r -a EXTRA <<< "${RUN_ARGS:-}"
HERE=$(cd "$(dirname "$0")" && pwd)

[ -x "$RUN" ] || die "$RUN is missing or not executable: build it first (make), or set RUN=path"
[ -r "$MODEL" ] || die "cannot read the model $MODEL"
[ -r "$TEXT" ] || die "cannot read the text $TEXT"
for c in $CONTEXTS; do
    [[ $c =~ ^[0-9]+$ ]] && [ "$c" -ge 2 ] || die "context '$c' is not a whole number >= 2"
done
for m in $MODES; do
    case $m in none|linear|ntk|dynamic|yarn|llama3|self-extend) ;;
        *) die "mode '$m' is not one of none linear ntk dynamic yarn llama3 self-extend" ;;
    esac
done
[ -n "$CONTEXTS" ] && [ -n "$MODES" ] || die "empty list of contexts or modes"
mkdir -p "$OUT" || die "cannot create $OUT"

# A number field of a one-line JSON object: json_field KEY < file
json_field() {
    awk -v key="\"$1\":" '{ i = index($0, key); if (!i) exit 1
        v = substr($0, i + length(key)); sub(/[,}].*/, "", v); gsub(/"/, "", v); print v; exit }'
}

if [ -z "${ORIG_CTX:-}" ]; then
    ORIG_CTX=$("$RUN" "$MODEL" --print-rope --json "${EXTRA[@]}" 2>/dev/null | json_field original_context)
    [[ ${ORIG_CTX:-} =~ ^[0-9]+$ ]] && [ "$ORIG_CTX" -gt 0 ] ||
        die "could not read the training context from '$RUN $MODEL --print-rope --json'; set ORIG_CTX"
fi
echo "sweep: model $MODEL, text $TEXT, training context L = $ORIG_CTX" >&2

scale_for() { # mode context -> s (1 for none and self-extend, which scales no frequency)
    if [ "$1" = none ] || [ "$1" = self-extend ]; then echo 1; return; fi
    if [ -n "${SCALE:-}" ]; then echo "$SCALE"; return; fi
    awk -v c="$2" -v l="$ORIG_CTX" 'BEGIN { s = c / l; if (s < 1) s = 1; printf "%.10g\n", s }'
}

rope_flags() { # mode context -> flags
    if [ "$1" = none ] || [ "$1" = self-extend ]; then
        echo "--rope-scaling $1 --yarn-orig-ctx $ORIG_CTX"
    else echo "--rope-scaling $1 --rope-scale $(scale_for "$1" "$2") --yarn-orig-ctx $ORIG_CTX"; fi
}

echo "mode,ctx,scale,orig_ctx,ppl,mean_nll,chunks,scored,seconds" > "$OUT/ppl.csv"
echo "mode,ctx,from_pos,to_pos,scored,ppl" > "$OUT/ppl_bands.csv"
failures=0
for m in $MODES; do
    for c in $CONTEXTS; do
        json="$OUT/ppl_${m}_${c}.json" log="$OUT/ppl_${m}_${c}.log"
        echo "sweep: $m at context $c" >&2
        # shellcheck disable=SC2046 # rope_flags is meant to split into words
        if ! "$RUN" "$MODEL" --ppl "$TEXT" --json -c "$c" $(rope_flags "$m" "$c") \
                --ppl-positions "$OUT/nll_${m}_${c}.csv" "${EXTRA[@]}" > "$json" 2> "$log"; then
            echo "sweep: $m at $c failed: $(tail -n 1 "$log")" >&2
            echo "$m,$c,$(scale_for "$m" "$c"),$ORIG_CTX,,,,," >> "$OUT/ppl.csv"
            failures=$((failures + 1))
            continue
        fi
        printf '%s,%s,%s,%s,%s,%s,%s,%s,%s\n' "$m" "$c" "$(scale_for "$m" "$c")" "$ORIG_CTX" \
            "$(json_field ppl < "$json")" "$(json_field mean_nll < "$json")" \
            "$(json_field chunks < "$json")" "$(json_field scored < "$json")" \
            "$(json_field seconds < "$json")" >> "$OUT/ppl.csv"
        awk -v m="$m" -v c="$c" '{ n = split($0, parts, /\{"from_pos":/)
            for (i = 2; i <= n; i++) { b = parts[i]; gsub(/"[a-z_]+":/, "", b); gsub(/[]}]/, "", b)
                split(b, f, ","); print m "," c "," f[1] "," f[2] "," f[3] "," f[4] } }' \
            "$json" >> "$OUT/ppl_bands.csv"
    done
done

# ppl.md: one row per mode, one column per context
awk -F, -v contexts="$CONTEXTS" -v L="$ORIG_CTX" '
    NR == 1 { next }
    { if (!($1 in seen)) { seen[$1] = 1; order[++n] = $1 }
      v[$1, $2] = ($5 == "" || $5 == "null") ? "failed" : sprintf("%.3f", $5) }
    END { nc = split(contexts, c, " ")
        printf "Perplexity by RoPE scaling mode and context (training context L = %d)\n\n", L
        printf "| mode |"; for (j = 1; j <= nc; j++) printf " %s |", c[j]; printf "\n"
        printf "|---|"; for (j = 1; j <= nc; j++) printf "---:|"; printf "\n"
        for (i = 1; i <= n; i++) { printf "| %s |", order[i]
            for (j = 1; j <= nc; j++) printf " %s |", v[order[i], c[j]]; printf "\n" } }
' "$OUT/ppl.csv" > "$OUT/ppl.md"

# Plot data: NLL vs position (largest context that ran, binned) and theta' per mode
largest=$(for c in $CONTEXTS; do echo "$c"; done | sort -n | tail -n 1)
bin=$(( largest / 64 > 1 ? largest / 64 : 1 ))
for m in $MODES; do
    for c in $(for c in $CONTEXTS; do echo "$c"; done | sort -rn); do
        f="$OUT/nll_${m}_${c}.csv"
        [ -s "$f" ] || continue
        awk -F, -v bin="$bin" 'NR > 1 { b = int($1 / bin); s[b] += $2 * $3; n[b] += $3
                if (b > max) max = b }
            END { for (b = 0; b <= max; b++) if (n[b] > 0)
                printf "%g %.6f\n", (b + 0.5) * bin, s[b] / n[b] }' "$f" > "$OUT/nll_pos_${m}.dat"
        break
    done
    # shellcheck disable=SC2046
    "$RUN" "$MODEL" --print-rope --json -c "$largest" $(rope_flags "$m" "$largest") \
        "${EXTRA[@]}" 2> "$OUT/theta_${m}.log" |
        awk '{ i = index($0, "\"inv_freq\":["); if (!i) exit
               s = substr($0, i + 12); sub(/\].*/, "", s); n = split(s, v, ",")
               for (k = 1; k <= n; k++) print k - 1, v[k] }' > "$OUT/theta_${m}.dat"
    [ -s "$OUT/theta_${m}.dat" ] || echo "sweep: no theta table for $m (see $OUT/theta_${m}.log)" >&2
done

if command -v gnuplot > /dev/null; then
    term=png
    gnuplot -e 'set terminal' 2>&1 | grep -q pngcairo && term=pngcairo
    vars="dir='$OUT'; modes='$MODES'; orig_ctx=$ORIG_CTX; term='$term'; ctx=$largest"
    for plot in ppl_ctx nll_pos theta; do
        gnuplot -e "$vars" "$HERE/plot_${plot}.gp" 2> "$OUT/plot_${plot}.log" ||
            echo "sweep: gnuplot failed for $plot (see $OUT/plot_${plot}.log)" >&2
    done
else
    echo "sweep: gnuplot not found: tables written, plots skipped" >&2
fi

echo "sweep: wrote $OUT/ppl.csv, $OUT/ppl.md, $OUT/ppl_bands.csv and plots in $OUT" >&2
cat "$OUT/ppl.md"
[ "$failures" -eq 0 ] || { echo "sweep: $failures run(s) failed" >&2; exit 1; }
