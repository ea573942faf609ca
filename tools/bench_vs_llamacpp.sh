#!/usr/bin/env bash
# bench_vs_llamacpp.sh — ./run against llama.cpp on this machine, same GGUF files, same
# thread counts, runs alternated so that both see the same machine state; never pass/fail.
# llama.cpp is not a dependency of the project: point LLAMA_BENCH at a llama-bench binary
# you built (see the README's Speed section for how it was built here).
#   1. prefill (pp512) and decode (tg128) at depth 0, 1 and 2 threads;
#   2. decode (tg64) after D tokens in the cache (llama-bench -d D), 2 threads, f16 KV.
# Writes $OUT/vs_llamacpp.csv (engine,model,threads,test,depth,tps, one row per run) and
# prints a table of medians with the ratio ours / llama.cpp.
#
#   LLAMA_BENCH=path/to/llama-bench tools/bench_vs_llamacpp.sh
# environment: VS_MODELS "110M-f32 110M-f16 110M-q8_0 110M-q4_0 42M-f32 42M-f16 42M-q8_0" (any
#   TYPE build/tools/quantize takes: 110M-q4_k_m, 110M-bf16, ...)
#   VS_DEPTH_MODELS "110M-f32 110M-q8_0"   VS_DEPTHS "0 1024 4096 8192"   VS_ROUNDS 2
#   VS_THREADS "1 2"   RUN ./run   TOOLS build/tools   BENCH_DIR build/bench (models, CSV)
#   LLAMA_FA 0 (llama.cpp's flash attention for the depth runs: slower on CPU here)
set -u
die() { echo "bench_vs_llamacpp.sh: $*" >&2; exit 2; }
cd "$(dirname "$0")/.." || die "cannot enter the project root"
LB=${LLAMA_BENCH:-}
[ -n "$LB" ] && [ -x "$LB" ] || die "set LLAMA_BENCH to an executable llama-bench"
RUN=${RUN:-./run}
TOOLS=${TOOLS:-build/tools}
OUT=${BENCH_DIR:-build/bench}
MODELS=${VS_MODELS-"110M-f32 110M-f16 110M-q8_0 110M-q4_0 42M-f32 42M-f16 42M-q8_0"}
DEPTH_MODELS=${VS_DEPTH_MODELS-"110M-f32 110M-q8_0"}
DEPTHS=${VS_DEPTHS:-"0 1024 4096 8192"}
ROUNDS=${VS_ROUNDS:-2}
THREADS=${VS_THREADS:-"1 2"}
FA=${LLAMA_FA:-0}
CSV=$OUT/vs_llamacpp.csv
mkdir -p "$OUT" || die "cannot create $OUT"
[ -x "$RUN" ] || die "$RUN is missing: run make first"

# The random model NAME (shape-type) in $OUT, made like tools/bench.sh makes it.
model_path() {
    local name=$1 shape=${1%-*} type=${1#*-}
    local f32=$OUT/random-$shape-f32.gguf path=$OUT/random-$1.gguf
    [ -f "$f32" ] || "$TOOLS/make_random_model" "$f32" --shape "$shape" --type f32 --seed 1 \
        >/dev/null || return 1
    [ -f "$path" ] || "$TOOLS/quantize" "$f32" "$path" --type "$type" >/dev/null || return 1
    echo "$path"
}

# llama-bench's CSV: the second-to-last field of each result row is avg_ts.
llama_tps() { "$LB" "$@" -o csv 2>/dev/null | awk -F, 'NR > 1 { gsub(/"/, ""); print $(NF-1) }'; }
# ./run --bench --json: the values of prefill_tps and decode_tps, in that order.
ours_tps() {
    "$RUN" "$@" --json 2>/dev/null | tail -n 1 |
        grep -o '"\(prefill\|decode\)_tps": [0-9.]*' | cut -d' ' -f2 | tr '\n' ' '
}
row() { echo "$1,$2,$3,$4,$5,${6:-failed}" >> "$CSV"; }

echo "engine,model,threads,test,depth,tps" > "$CSV"
for round in $(seq "$ROUNDS"); do
    for m in $MODELS; do
        path=$(model_path "$m") || { echo "cannot make $m: skipped" >&2; continue; }
        for t in $THREADS; do
            read -r pp tg <<< "$(llama_tps -m "$path" -p 512 -n 128 -t "$t" -r 3 | tr '\n' ' ')"
            row llama.cpp "$m" "$t" pp512 0 "$pp"
            row llama.cpp "$m" "$t" tg128 0 "$tg"
            read -r pp tg <<< "$(ours_tps "$path" -c 1024 --bench -t "$t" --bench-prompt 512 \
                --bench-gen 128 --bench-repeats 3)"
            row ours "$m" "$t" pp512 0 "$pp"
            row ours "$m" "$t" tg128 0 "$tg"
        done
    done
    for m in $DEPTH_MODELS; do
        path=$(model_path "$m") || continue
        for d in $DEPTHS; do
            row llama.cpp "$m" 2 tg64 "$d" "$(llama_tps -m "$path" -p 0 -n 64 -d "$d" -fa "$FA" -t 2 -r 2)"
            read -r pp tg <<< "$(ours_tps "$path" -c $((d + 128)) --bench -t 2 --bench-prompt 0 \
                --bench-gen 64 --bench-depth "$d" --bench-repeats 2 --kv-type f16)"
            row ours "$m" 2 tg64 "$d" "$tg"
        done
    done
done

# medians per (model, threads, test, depth) and engine, then ours / llama.cpp, with the
# spread of the ratio: the lowest ours over the highest llama.cpp, and the other way round
echo "| model | threads | test | depth | ours tok/s | llama.cpp tok/s | ours / llama.cpp | spread | runs |"
echo "|---|---|---|---|---:|---:|---:|---|---:|"
awk -F, 'NR > 1 && $6 != "failed" { key = $2 " | " $3 " | " $4 " | " $5; v[$1, key] = v[$1, key] " " $6; keys[key] = 1 }
    function median(list,   n, a, i, j, x) {
        n = split(list, a, " ")
        for (i = 2; i <= n; i++) { x = a[i]; for (j = i - 1; j >= 1 && a[j] + 0 > x + 0; j--) a[j + 1] = a[j]; a[j + 1] = x }
        return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    function extreme(list, want_max,   n, a, i, m) {
        n = split(list, a, " "); m = a[1] + 0
        for (i = 2; i <= n; i++) if ((want_max && a[i] + 0 > m) || (!want_max && a[i] + 0 < m)) m = a[i] + 0
        return m
    }
    END {
        for (k in keys) {
            o = median(v["ours", k]); l = median(v["llama.cpp", k])
            if (l <= 0) continue
            lo = extreme(v["ours", k], 0) / extreme(v["llama.cpp", k], 1)
            hi = extreme(v["ours", k], 1) / extreme(v["llama.cpp", k], 0)
            printf "| %s | %.1f | %.1f | %.2f | %.2f-%.2f | %d |\n", k, o, l, o / l, lo, hi, split(v["ours", k], tmp, " ")
        }
    }' "$CSV" | sort -t'|' -k2,2 -k4,4 -k3,3n -k5,5n
echo "runs: $CSV"
