#!/usr/bin/env bash
# passkey_sweep.sh — passkey retrieval (./run --passkey, llama-passkey's test) of one model
# for every RoPE scaling mode x context x depth of the key: writes OUTDIR/passkey.csv (one
# row per cell), OUTDIR/passkey.md (accuracy per mode and context, and per depth at each
# context) and one heat map per mode, OUTDIR/passkey_MODE.png (gnuplot, tools/plot_passkey.gp:
# depth up, context across, accuracy as colour).
#
#   tools/passkey_sweep.sh MODEL OUTDIR [contexts] [modes] [depths]
#     contexts  default "256 512 1024 2048 4096"
#     modes     default "none linear ntk dynamic yarn llama3 self-extend"
#     depths    where the key sits in the junk, 0 = first repetition, 1 = last;
#               default "0 0.25 0.5 0.75 1"
#   environment:
#     RUN       the ./run binary (default ./run)
#     TRIALS    trials per cell (default 10); THREADS (default 2); SEED (default 1)
#     ORIG_CTX  the training context L (default: what ./run --print-rope reports)
#
# Every cell's junk count is the most that fits its context with 16 tokens left for the
# answer; keys are random (the same SEED for every cell). Scaled modes get s = context / L
# (1 at L and below); self-extend chooses its group from L (./run's default W = L/2).
set -u
usage() { sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
die() { echo "passkey_sweep.sh: $*" >&2; exit 2; }

[ $# -ge 2 ] && [ $# -le 5 ] || usage
MODEL=$1 OUT=$2
CONTEXTS=${3:-"256 512 1024 2048 4096"}
MODES=${4:-"none linear ntk dynamic yarn llama3 self-extend"}
DEPTHS=${5:-"0 0.25 0.5 0.75 1"}
RUN=${RUN:-./run}
TRIALS=${TRIALS:-10} THREADS=${THREADS:-2} SEED=${SEED:-1}
HERE=$(cd "$(dirname "$0")" && pwd)
[ -x "$RUN" ] || die "$RUN is missing: build it first (make), or set RUN=path"
[ -r "$MODEL" ] || die "cannot read the model $MODEL"
for m in $MODES; do
    case $m in none|linear|ntk|dynamic|yarn|llama3|self-extend) ;;
        *) die "mode '$m' is not one of none linear ntk dynamic yarn llama3 self-extend" ;;
    esac
done
mkdir -p "$OUT" || die "cannot create $OUT"
if [ -z "${ORIG_CTX:-}" ]; then
    ORIG_CTX=$("$RUN" "$MODEL" --print-rope --json 2>/dev/null |
               sed -n 's/.*"original_context":\([0-9]*\).*/\1/p')
    [ -n "$ORIG_CTX" ] || die "cannot read the training context from $MODEL: set ORIG_CTX"
fi

rope_flags() { # mode context -> flags
    case $1 in
        none) echo "--rope-scaling none" ;;
        self-extend) echo "--rope-scaling self-extend --yarn-orig-ctx $ORIG_CTX" ;;
        *) echo "--rope-scaling $1 --yarn-orig-ctx $ORIG_CTX --rope-scale $(awk -v c="$2" \
               -v l="$ORIG_CTX" 'BEGIN { s = c / l; if (s < 1) s = 1; printf "%.10g", s }')" ;;
    esac
}

start=$(date +%s)
CSV=$OUT/passkey.csv
echo "mode,context,depth,trials,correct,accuracy,junk,prompt_tokens,seconds" > "$CSV"
for mode in $MODES; do
    for ctx in $CONTEXTS; do
        for depth in $DEPTHS; do
            t0=$(date +%s.%N)
            # shellcheck disable=SC2046
            json=$("$RUN" "$MODEL" --passkey --json --passkey-trials "$TRIALS" \
                   --passkey-depth "$depth" -c "$ctx" -t "$THREADS" -s "$SEED" \
                   $(rope_flags "$mode" "$ctx") 2>"$OUT/last_error.txt") ||
                die "$mode at $ctx, depth $depth: $(tail -1 "$OUT/last_error.txt")"
            t1=$(date +%s.%N)
            echo "$json" | awk -v mode="$mode" -v ctx="$ctx" -v depth="$depth" \
                -v trials="$TRIALS" -v secs="$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" '
                /"junk": [0-9]+, "pos"/ && !junk { match($0, /"junk": [0-9]+/);
                    junk = substr($0, RSTART + 8, RLENGTH - 8) + 0 }
                /"prompt_tokens"/ { match($0, /"prompt_tokens": [0-9]+/);
                    tokens = substr($0, RSTART + 17, RLENGTH - 17) + 0 }
                /"correct": [0-9]+, "accuracy"/ { match($0, /"correct": [0-9]+/);
                    correct = substr($0, RSTART + 11, RLENGTH - 11) + 0 }
                END { printf "%s,%s,%s,%s,%d,%.4f,%d,%d,%.2f\n", mode, ctx, depth, trials,
                      correct, correct / trials, junk, tokens, secs }' >> "$CSV"
            tail -1 "$CSV" >&2
        done
    done
done
rm -f "$OUT/last_error.txt"
elapsed=$(( $(date +%s) - start ))

awk -F, -v contexts="$CONTEXTS" -v depths="$DEPTHS" -v trials="$TRIALS" -v secs="$elapsed" '
    NR > 1 { key = $1 SUBSEP $2; sum[key] += $5; n[key] += $4; cell[$1, $2, $3] = $6
             if (!($1 in seen)) { seen[$1] = 1; modes[++m] = $1 } }
    END {
        nc = split(contexts, c, " "); nd = split(depths, d, " ")
        printf "Passkey accuracy (%d trials per depth, %d depths: mean over depths), %d s\n\n", trials, nd, secs
        printf "| mode |"; for (i = 1; i <= nc; i++) printf " %s |", c[i]; printf "\n|---|"
        for (i = 1; i <= nc; i++) printf "---:|"; printf "\n"
        for (k = 1; k <= m; k++) { printf "| %s |", modes[k]
            for (i = 1; i <= nc; i++) printf " %.2f |", sum[modes[k], c[i]] / n[modes[k], c[i]]
            printf "\n" }
        for (i = 1; i <= nc; i++) {
            printf "\nAt %s tokens, per depth of the key:\n\n| mode |", c[i]
            for (j = 1; j <= nd; j++) printf " %s |", d[j]; printf "\n|---|"
            for (j = 1; j <= nd; j++) printf "---:|"; printf "\n"
            for (k = 1; k <= m; k++) { printf "| %s |", modes[k]
                for (j = 1; j <= nd; j++) printf " %.1f |", cell[modes[k], c[i], d[j]]
                printf "\n" } }
    }' "$CSV" > "$OUT/passkey.md"

if command -v gnuplot >/dev/null; then
    for mode in $MODES; do
        gnuplot -e "csv='$CSV'; mode='$mode'; out='$OUT/passkey_$mode.png'; orig_ctx=$ORIG_CTX" \
            "$HERE/plot_passkey.gp" || die "gnuplot failed for $mode"
    done
else
    echo "passkey_sweep.sh: gnuplot not found: no heat maps" >&2
fi
echo "passkey sweep: $(( $(wc -l < "$CSV") - 1 )) cells of $TRIALS trials in $elapsed s; $OUT/passkey.md" >&2
