#!/usr/bin/env bash
# bench_vs_llamacpp.sh — ./run against llama.cpp on this machine, same GGUF files, same
# thread counts, runs alternated so that both see the same machine state; never pass/fail.
# llama.cpp is not a dependency of the project: point LLAMA_BENCH at a llama-bench binary
# you built (docs/bench/vs_llamacpp.md says how it was built here).
#   types: prefill (pp512) and decode (tg128) at depth 0, each model, VS_THREADS threads;
#   depth: decode (tg64) after D cached tokens (llama-bench -d D), 2 threads, for each KV
#          type, llama.cpp with and without flash attention (-fa 0 / 1; its quantised V
#          cache needs -fa 1, so q8_0 KV has no -fa 0 row).
# Every row carries the work of one token, from ./run --bench --json on the same file: bytes
# a decoded token reads, or flops of a prefilled one; with tools/membw's figures (read
# bandwidth, f32 FMA and int8 dot peaks, measured first) the report says how close each
# engine comes to the machine's limits. Files: $OUT/vs_types.csv, $OUT/vs_depth.csv
# (engine,model,threads,test,depth,kv,fa,tps,work), $OUT/membw.json, then the report
# (tools/bench_vs_llamacpp_report.sh) on stdout, with its medians and plots in $OUT.
#
#   LLAMA_BENCH=path/to/llama-bench tools/bench_vs_llamacpp.sh
# environment (lists are space-separated; an empty list skips that part):
#   VS_MODELS "1B-f16 1B-q8_0 1B-q4_0 1B-q4_k_m 1B-q6_k 110M-f32 110M-q8_0" (SHAPE-TYPE:
#     a --shape of make_random_model, any --type of build/tools/quantize)
#   VS_DEPTH_MODELS "1B-q4_k_m"   VS_DEPTHS "0 4096 16384 32768"   VS_KV_TYPES "f16 q8_0"
#   LLAMA_FA "0 1"   VS_ROUNDS 3   VS_REPEATS 1 (runs inside each engine per round)
#   VS_THREADS "1 2"   VS_APPEND 0 (1: add to the CSVs instead of starting them anew)
#   LLAMA_QUANTIZE  path to llama-quantize: K-quant files (q*_k*) are made by it from the
#     F16 file (else by build/tools/quantize, whose mixes are llama-quantize's)
#   RUN ./run   TOOLS build/tools   BENCH_DIR build/bench (models, CSVs, plots)
set -u
die() { echo "bench_vs_llamacpp.sh: $*" >&2; exit 2; }
cd "$(dirname "$0")/.." || die "cannot enter the project root"
LB=${LLAMA_BENCH:-}
[ -n "$LB" ] && [ -x "$LB" ] || die "set LLAMA_BENCH to an executable llama-bench"
LQ=${LLAMA_QUANTIZE:-}
[ -z "$LQ" ] || [ -x "$LQ" ] || die "LLAMA_QUANTIZE=$LQ is not executable"
RUN=${RUN:-./run}
TOOLS=${TOOLS:-build/tools}
OUT=${BENCH_DIR:-build/bench}
MODELS=${VS_MODELS-"1B-f16 1B-q8_0 1B-q4_0 1B-q4_k_m 1B-q6_k 110M-f32 110M-q8_0"}
DEPTH_MODELS=${VS_DEPTH_MODELS-"1B-q4_k_m"}
DEPTHS=${VS_DEPTHS:-"0 4096 16384 32768"}
KV_TYPES=${VS_KV_TYPES:-"f16 q8_0"}
FA_MODES=${LLAMA_FA:-"0 1"}
ROUNDS=${VS_ROUNDS:-3}
REPEATS=${VS_REPEATS:-1}
THREADS=${VS_THREADS:-"1 2"}
mkdir -p "$OUT" || die "cannot create $OUT"
[ -x "$RUN" ] || die "$RUN is missing: run make first"
[ -x "$TOOLS/membw" ] || die "$TOOLS/membw is missing: run make first"

# The source file of a shape: F16 for the 1B shape (its F32 would be 5 GB), F32 otherwise.
source_path() {
    local shape=$1 type=f32
    [ "$shape" = 1B ] && type=f16
    local path=$OUT/random-$shape-$type.gguf
    [ -f "$path" ] || "$TOOLS/make_random_model" "$path" --shape "$shape" --type "$type" --seed 1 \
        >/dev/null || return 1
    echo "$path"
}

# The random model NAME (shape-type) in $OUT; which tool quantised it goes to models.txt.
model_path() {
    local shape=${1%-*} type=${1#*-} path=$OUT/random-$1.gguf src
    src=$(source_path "$shape") || return 1
    [ "$src" = "$path" ] || [ -f "$path" ] && { echo "$path"; return 0; }
    if [ -n "$LQ" ] && [[ $type == q*_k* ]]; then
        "$LQ" "$src" "$path.tmp" "${type^^}" 2 >/dev/null 2>&1 && mv "$path.tmp" "$path" || return 1
        echo "$(basename "$path"): llama-quantize ${type^^} from $(basename "$src")" >> "$OUT/models.txt"
    else
        "$TOOLS/quantize" "$src" "$path" --type "$type" >/dev/null || return 1
        echo "$(basename "$path"): build/tools/quantize --type $type from $(basename "$src")" >> "$OUT/models.txt"
    fi
    echo "$path"
}

# llama-bench's CSV: the second-to-last field of each result row is avg_ts.
llama_tps() { "$LB" "$@" -o csv 2>/dev/null | awk -F, 'NR > 1 { gsub(/"/, ""); print $(NF-1) }'; }
# ./run --bench --json: the values of the named fields, in the order asked.
ours_fields() {
    local fields=$1 json
    shift
    json=$("$RUN" "$@" --json 2>/dev/null | tail -n 1)
    for f in $fields; do
        printf '%s ' "$(grep -o "\"$f\": [0-9.e+-]*" <<< "$json" | cut -d' ' -f2)"
    done
}
row() { echo "$1,$2,$3,$4,$5,$6,$7,${8:-failed},${9:-}" >> "$CSV"; }

types_round() {
    local m path t pp tg flops bytes
    for m in $MODELS; do
        path=$(model_path "$m") || { echo "cannot make $m: skipped" >&2; continue; }
        for t in $THREADS; do
            read -r pp tg <<< "$(llama_tps -m "$path" -p 512 -n 128 -t "$t" -r "$REPEATS" | tr '\n' ' ')"
            read -r opp otg flops bytes <<< "$(ours_fields "prefill_tps decode_tps prefill_flops \
                decode_bytes_per_token" "$path" -c 1024 --bench -t "$t" --bench-prompt 512 --bench-gen 128 \
                --bench-repeats "$REPEATS")"
            flops=$(awk -v f="$flops" 'BEGIN { if (f > 0) printf "%.6g", f / 512 }')
            row llama.cpp "$m" "$t" pp512 0 f16 default "$pp" "$flops"
            row llama.cpp "$m" "$t" tg128 0 f16 default "$tg" "$bytes"
            row ours "$m" "$t" pp512 0 f16 - "$opp" "$flops"
            row ours "$m" "$t" tg128 0 f16 - "$otg" "$bytes"
        done
    done
}

depth_round() {
    local m path d kv fa tg bytes
    for m in $DEPTH_MODELS; do
        path=$(model_path "$m") || continue
        for d in $DEPTHS; do
            for kv in $KV_TYPES; do
                read -r tg bytes <<< "$(ours_fields "decode_tps decode_bytes_per_token" "$path" \
                    -c $((d + 128)) --bench -t 2 --bench-prompt 0 --bench-gen 64 --bench-depth "$d" \
                    --bench-repeats "$REPEATS" --kv-type "$kv")"
                row ours "$m" 2 tg64 "$d" "$kv" - "$tg" "$bytes"
                for fa in $FA_MODES; do
                    [ "$kv" != f16 ] && [ "$fa" = 0 ] && continue
                    row llama.cpp "$m" 2 tg64 "$d" "$kv" "$fa" "$(llama_tps -m "$path" -p 0 -n 64 -d "$d" \
                        -ctk "$kv" -ctv "$kv" -fa "$fa" -t 2 -r "$REPEATS")" "$bytes"
                done
            done
        done
    done
}

"$TOOLS/membw" --json --mib 6144 > "$OUT/membw.json" || die "membw failed"
HEADER="engine,model,threads,test,depth,kv,fa,tps,work"
for part in types depth; do
    CSV=$OUT/vs_$part.csv
    [ "${VS_APPEND:-0}" = 1 ] && [ -f "$CSV" ] || echo "$HEADER" > "$CSV"
done
for round in $(seq "$ROUNDS"); do
    echo "round $round of $ROUNDS: $(date -u +%H:%M) UTC, load $(cut -d' ' -f1 /proc/loadavg)" >&2
    CSV=$OUT/vs_types.csv types_round
    CSV=$OUT/vs_depth.csv depth_round
done
tools/bench_vs_llamacpp_report.sh "$OUT"
