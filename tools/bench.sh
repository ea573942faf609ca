#!/usr/bin/env bash
# bench.sh — the speed figures of issues 5 and 6 (what `make bench` runs); never pass/fail
# on time.  Generates once (cached in $BENCH_DIR) random-weight GGUFs of the 110M and 42M
# shapes in F32, F16, Q8_0, Q4_K_M and Q6_K (tools/make_random_model, tools/quantize), then:
#   1. ./run --bench --json: prefill (512 tokens) and decode (128) at depths 0 and 4096,
#      threads 1 and 2, f16 KV, on those models and ../shared/models/stories260K.gguf
#      -> results.csv, results.md (ratios against llama.cpp and llama2.c, constants below);
#   2. decode latency per token vs depth (0 .. 16k) for each KV type (f32, f16, q8_0) on
#      stories260K and the 110M F32 / Q8_0 models, KV bytes at each depth, peak RSS
#      -> latency.csv, latency.md, latency_vs_depth.png, memory_vs_depth.png (gnuplot).
# Figures are medians of --bench-repeats runs inside ./run.  Peak RSS comes from
# /usr/bin/time (apt-get install time).  The machine's load (1-minute average) is recorded
# next to every figure: on a shared machine the numbers are only as quiet as it is.
#
#   tools/bench.sh                 the full set (long: tens of minutes)
#   BENCH_QUICK=1 tools/bench.sh   a few configurations, 1 repeat (checks the script)
# environment (lists are space-separated):
#   RUN ./run   TOOLS build/tools   BENCH_DIR build/bench   BENCH_REPEATS 3 (quick 1)
#   BENCH_MODELS    "110M-f32 110M-f16 110M-q8_0 110M-q4_k_m 110M-q6_k 42M-f32 42M-f16
#                    42M-q8_0 stories260K" (SHAPE-TYPE: any --type of build/tools/quantize)
#   BENCH_THREADS   "1 2"           BENCH_DEPTHS "0 4096"   BENCH_PROMPT 512  BENCH_GEN 128
#   BENCH_LAT_MODELS "stories260K 110M-f32 110M-q8_0"   BENCH_KV_TYPES "f32 f16 q8_0"
#   BENCH_LAT_DEPTHS "0 512 1024 2048 4096 8192 16384"   BENCH_LAT_GEN 64
#   BENCH_LAT_THREADS 2   BENCH_LAT_REPEATS (default BENCH_REPEATS)
#   BENCH_MODEL_DIR  where the random models are cached (default BENCH_DIR)
#   (an empty BENCH_MODELS or BENCH_LAT_MODELS skips that part)
#   BENCH_RUN_LIMIT  seconds (default 600, quick 120): once a latency run takes longer,
#                    the deeper depths of that series are skipped (noted in the CSV)
# Delete $BENCH_MODEL_DIR/*.gguf to regenerate the models.  Exit status: 0, or 1 when a run
# failed (crash, error; never for speed), 2 on bad settings.
set -u

usage() { sed -n '2,30p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
die() { echo "bench.sh: $*" >&2; exit 2; }
note() { echo "bench.sh: $*" >&2; }
[ $# -eq 0 ] || usage

cd "$(dirname "$0")/.." || die "cannot enter the project root"
HERE=tools
QUICK=${BENCH_QUICK:-0}
RUN=${RUN:-./run}
TOOLS=${TOOLS:-build/tools}
OUT=${BENCH_DIR:-build/bench}
MODEL_DIR=${BENCH_MODEL_DIR:-$OUT}
STORIES=../shared/models/stories260K.gguf
if [ "$QUICK" = 1 ]; then
    REPEATS=${BENCH_REPEATS:-1}
    MODELS=${BENCH_MODELS-"42M-f32 42M-q8_0 stories260K"}
    THREADS=${BENCH_THREADS:-"2"}
    DEPTHS=${BENCH_DEPTHS:-"0 512"}
    LAT_MODELS=${BENCH_LAT_MODELS-"stories260K 42M-q8_0"}
    LAT_DEPTHS=${BENCH_LAT_DEPTHS:-"0 512 1024"}
    LAT_GEN=${BENCH_LAT_GEN:-16}
    RUN_LIMIT=${BENCH_RUN_LIMIT:-120}
else
    REPEATS=${BENCH_REPEATS:-3}
    MODELS=${BENCH_MODELS-"110M-f32 110M-f16 110M-q8_0 110M-q4_k_m 110M-q6_k 42M-f32 42M-f16 42M-q8_0 stories260K"}
    THREADS=${BENCH_THREADS:-"1 2"}
    DEPTHS=${BENCH_DEPTHS:-"0 4096"}
    LAT_MODELS=${BENCH_LAT_MODELS-"stories260K 110M-f32 110M-q8_0"}
    LAT_DEPTHS=${BENCH_LAT_DEPTHS:-"0 512 1024 2048 4096 8192 16384"}
    LAT_GEN=${BENCH_LAT_GEN:-64}
    RUN_LIMIT=${BENCH_RUN_LIMIT:-600}
fi
PROMPT=${BENCH_PROMPT:-512}
GEN=${BENCH_GEN:-128}
KV_TYPES=${BENCH_KV_TYPES:-"f32 f16 q8_0"}
LAT_THREADS=${BENCH_LAT_THREADS:-2}
LAT_REPEATS=${BENCH_LAT_REPEATS:-$REPEATS}

# Reference figures, copied from ../shared/BENCHMARKS.md (not read at run time), measured on
# this project's machine kind (2 cores, AVX-512) with random-weight models of the same shapes:
#  - llama.cpp c392e509 (CPU, no BLAS): `llama-bench -m M -p 512 -n 128 -t T -r 3` at depth 0
#    (pp512, tg128); at depth D: `llama-batched-bench -c 8256 -npp D -ntg 64 -npl 1 -t 2`,
#    f16 KV cache, decode only (the table's "73-74" and "115-118" are entered as midpoints);
#  - llama2.c run.c @ 350e04f, f32, decode of 256 tokens: `gcc -Ofast -march=native` on 1
#    thread, OpenMP on 2 (its 1-thread OpenMP figure is the same 26.8).
# shape,weights,threads,depth,engine,prefill_tps,decode_tps (empty: not measured)
REFERENCES="
110M,f32,2,0,llama.cpp,807,60.9
110M,f32,1,0,llama.cpp,445,32.8
110M,f16,2,0,llama.cpp,623,76.4
110M,f16,1,0,llama.cpp,324,41.0
110M,q8_0,2,0,llama.cpp,621,119.7
110M,q8_0,1,0,llama.cpp,326,64.0
42M,f32,2,0,llama.cpp,2225,197.1
42M,f16,2,0,llama.cpp,1770,330.0
42M,q8_0,2,0,llama.cpp,1769,552.2
110M,f32,2,1024,llama.cpp,,51.0
110M,f32,2,4096,llama.cpp,,34.0
110M,f32,2,8192,llama.cpp,,23.9
110M,f16,2,1024,llama.cpp,,58.7
110M,f16,2,4096,llama.cpp,,36.5
110M,f16,2,8192,llama.cpp,,25.1
110M,q8_0,2,1024,llama.cpp,,81.9
110M,q8_0,2,4096,llama.cpp,,45.2
110M,q8_0,2,8192,llama.cpp,,28.9
110M,f32,1,0,llama2.c,,26.8
110M,f32,2,0,llama2.c,,46.3
42M,f32,1,0,llama2.c,,59.4
42M,f32,2,0,llama2.c,,96.5
"

# ---------------------------------------------------------------- checks

[ -x "$RUN" ] || die "$RUN is missing: build it first (make), or set RUN=path"
for tool in make_random_model quantize; do
    [ -x "$TOOLS/$tool" ] || die "$TOOLS/$tool is missing: build it first (make)"
done
for n in $REPEATS $LAT_REPEATS $PROMPT $GEN $LAT_GEN $LAT_THREADS $RUN_LIMIT $THREADS $DEPTHS $LAT_DEPTHS; do
    [[ $n =~ ^[0-9]+$ ]] || die "'$n' is not a whole number (check the BENCH_* settings)"
done
if [ "$REPEATS" -lt 1 ] || [ "$LAT_REPEATS" -lt 1 ]; then
    die "BENCH_REPEATS and BENCH_LAT_REPEATS must be at least 1"
fi
mkdir -p "$OUT" "$MODEL_DIR" || die "cannot create $OUT or $MODEL_DIR"
TIME_BIN=/usr/bin/time
if ! "$TIME_BIN" -f %M true > /dev/null 2>&1; then
    note "GNU time not found ($TIME_BIN): peak RSS left empty (apt-get install time)"
    TIME_BIN=""
fi

# ---------------------------------------------------------------- models

model_file() { # name -> path of its GGUF
    case $1 in
        stories260K) echo "$STORIES" ;;
        *) echo "$MODEL_DIR/random-$1.gguf" ;;
    esac
}

model_shape() { case $1 in stories260K) echo stories260K ;; *) echo "${1%%-*}" ;; esac; }
model_weights() { case $1 in stories260K) echo file ;; *) echo "${1#*-}" ;; esac; }

# Generates a random model once: F32 with make_random_model, the others with quantize.
make_model() {
    local name=$1 path shape type
    path=$(model_file "$name") shape=$(model_shape "$name") type=$(model_weights "$name")
    [ -s "$path" ] && return 0
    case $shape in 110M|42M) ;; *) note "unknown model '$name'"; return 1 ;; esac
    case $type in f32|f16|q8_0|q4_0) ;; *) note "unknown weight type in '$name'"; return 1 ;; esac
    local f32="$MODEL_DIR/random-$shape-f32.gguf"
    if [ ! -s "$f32" ]; then
        note "generating $f32 (random weights, speed only)"
        if ! "$TOOLS/make_random_model" "$f32.tmp" --shape "$shape" --type f32 --seed 1; then
            rm -f "$f32.tmp"; return 1
        fi
        mv "$f32.tmp" "$f32" || return 1
    fi
    [ "$type" = f32 ] && return 0
    note "quantizing $f32 -> $path"
    if ! "$TOOLS/quantize" "$f32" "$path.tmp" --type "$type"; then
        rm -f "$path.tmp"; return 1
    fi
    mv "$path.tmp" "$path"
}

# Available models, in order; missing ones are reported once and left out.
available_models() {
    local name
    for name in "$@"; do
        if [ "$name" = stories260K ] && [ ! -r "$STORIES" ]; then
            note "$STORIES is absent: stories260K skipped"; continue
        fi
        make_model "$name" || { note "could not make $name: skipped"; continue; }
        echo "$name"
    done
}

# ---------------------------------------------------------------- one run

# A number field of a one-line JSON object: json_field KEY < file
json_field() {
    awk -v key="\"$1\":" '{ i = index($0, key); if (!i) exit 1
        v = substr($0, i + length(key)); sub(/[,}].*/, "", v); gsub(/[" ]/, "", v); print v; exit }'
}

load1() { cut -d' ' -f1 /proc/loadavg 2>/dev/null; }

# bench_run LOGBASE MODEL_PATH ARGS...: runs ./run --bench --json; sets RESULT_JSON,
# RESULT_RSS (KiB), RESULT_SECONDS, RESULT_STATUS (ok / failed / refused), RESULT_LOAD.
bench_run() {
    local base=$1 path=$2; shift 2
    local start end rc
    RESULT_LOAD=$(load1)
    start=$(date +%s.%N)
    if [ -n "$TIME_BIN" ]; then
        "$TIME_BIN" -f %M -o "$base.rss" "$RUN" "$path" --bench --json "$@" > "$base.json" 2> "$base.log"
    else
        "$RUN" "$path" --bench --json "$@" > "$base.json" 2> "$base.log"
    fi
    rc=$?
    end=$(date +%s.%N)
    RESULT_SECONDS=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')
    RESULT_RSS=$( [ -n "$TIME_BIN" ] && tail -n 1 "$base.rss" 2>/dev/null | tr -dc 0-9 )
    RESULT_JSON=$(cat "$base.json" 2>/dev/null)
    if [ $rc -eq 0 ] && [ -n "$RESULT_JSON" ]; then RESULT_STATUS=ok
    elif grep -q "largest -c that fits\|is available" "$base.log"; then RESULT_STATUS=refused
    else RESULT_STATUS=failed; fi
    [ "$RESULT_STATUS" = failed ] && FAILURES=$((FAILURES + 1))
    [ "$RESULT_STATUS" = ok ] || note "run failed ($RESULT_STATUS): $(tail -n 1 "$base.log")"
}

# Shape from ./run's "model:" line on stderr: "LAYERS KV_DIM" (empty when absent).
shape_of_log() {
    sed -n 's/.* \([0-9]*\) layers, [0-9]* heads (\([0-9]*\) kv), head \([0-9]*\).*/\1 \2 \3/p' "$1" |
        head -n 1 | awk '{ print $1, $2 * $3 }'
}

kv_row_bytes() { # kv_type kv_dim (q8_0: blocks of 32 values in 34 bytes)
    # shellcheck disable=SC2017 # whole blocks, as the cache stores them
    case $1 in f32) echo $(( $2 * 4 )) ;; f16) echo $(( $2 * 2 )) ;;
        q8_0) echo $(( $2 / 32 * 34 )) ;; *) echo 0 ;; esac
}

# ---------------------------------------------------------------- 1. prefill / decode

run_main() {
    local name path t d base ctx span
    echo "model,shape,weights,threads,depth,kv_type,prompt,gen,repeats,prefill_tps,decode_tps,model_bytes,peak_rss_kib,seconds,load1,status" \
        > "$OUT/results.csv"
    for name in $MAIN_MODELS; do
        path=$(model_file "$name")
        cat "$path" > /dev/null # into the page cache before timing
        for t in $THREADS; do
            for d in $DEPTHS; do
                span=$(( PROMPT > GEN ? PROMPT : GEN )) ctx=$(( d + span ))
                base="$OUT/main_${name}_t${t}_d${d}"
                note "$name: prefill $PROMPT / decode $GEN at depth $d, $t thread(s)"
                bench_run "$base" "$path" --bench-prompt "$PROMPT" --bench-gen "$GEN" \
                    --bench-depth "$d" --bench-repeats "$REPEATS" -t "$t" -c "$ctx" --kv-type f16
                printf '%s,%s,%s,%s,%s,f16,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s\n' "$name" \
                    "$(model_shape "$name")" "$(model_weights "$name")" "$t" "$d" "$PROMPT" "$GEN" \
                    "$REPEATS" "$(json_field prefill_tps <<< "$RESULT_JSON")" \
                    "$(json_field decode_tps <<< "$RESULT_JSON")" \
                    "$(json_field model_bytes <<< "$RESULT_JSON")" "$RESULT_RSS" \
                    "$RESULT_SECONDS" "$RESULT_LOAD" "$RESULT_STATUS" >> "$OUT/results.csv"
            done
        done
    done
}

# ---------------------------------------------------------------- 2. latency vs depth

LATENCY_HEADER="series,model,shape,weights,kv_type,threads,depth,gen,repeats,decode_tps,ms_per_token,kv_bytes,kv_alloc_bytes,peak_rss_kib,seconds,load1,status"

# One (model, KV type) series over the depths; deeper depths are skipped once a run takes
# longer than RUN_LIMIT seconds or fails.
latency_series() {
    local name=$1 kv=$2 path d base layers kv_dim row tps ms skip="" series row_prefix
    path=$(model_file "$name") series="$name/$kv"
    for d in $LAT_DEPTHS; do
        row_prefix="$series,$name,$(model_shape "$name"),$(model_weights "$name"),$kv"
        row_prefix="$row_prefix,$LAT_THREADS,$d,$LAT_GEN,$LAT_REPEATS"
        if [ -n "$skip" ]; then
            echo "$row_prefix,,,,,,,,$skip" >> "$OUT/latency.csv"
            continue
        fi
        base="$OUT/lat_${name}_${kv}_d${d}"
        note "$name: decode latency at depth $d, KV $kv"
        bench_run "$base" "$path" --bench-prompt 0 --bench-gen "$LAT_GEN" --bench-depth "$d" \
            --bench-repeats "$LAT_REPEATS" -t "$LAT_THREADS" -c $(( d + LAT_GEN )) --kv-type "$kv"
        read -r layers kv_dim <<< "$(shape_of_log "$base.log")"
        row=$(kv_row_bytes "$kv" "${kv_dim:-0}")
        tps=$(json_field decode_tps <<< "$RESULT_JSON")
        ms=$(awk -v t="$tps" 'BEGIN { if (t > 0) printf "%.3f", 1000 / t }')
        echo "$row_prefix,$tps,$ms,$(( 2 * ${layers:-0} * d * row )),$(( 2 * ${layers:-0} * (d + LAT_GEN) * row )),$RESULT_RSS,$RESULT_SECONDS,$RESULT_LOAD,$RESULT_STATUS" \
            >> "$OUT/latency.csv"
        if [ "$RESULT_STATUS" != ok ]; then skip="skipped: shallower depth $RESULT_STATUS"
        elif awk -v s="$RESULT_SECONDS" -v l="$RUN_LIMIT" 'BEGIN { exit !(s > l) }'; then
            skip="skipped: depth $d took ${RESULT_SECONDS} s > BENCH_RUN_LIMIT $RUN_LIMIT"
            note "$series: $skip"
        fi
    done
}

run_latency() {
    local name kv
    echo "$LATENCY_HEADER" > "$OUT/latency.csv"
    for name in $LAT_MODELS_OK; do
        cat "$(model_file "$name")" > /dev/null
        for kv in $KV_OK; do latency_series "$name" "$kv"; done
    done
}

# KV types ./run accepts (q8_0 may not exist yet), probed on a tiny run.
probe_kv_types() {
    local kv probe_model=$1 ok=""
    for kv in $KV_TYPES; do
        if "$RUN" "$probe_model" --bench --bench-prompt 4 --bench-gen 1 --bench-repeats 1 \
                -c 8 -t 1 --kv-type "$kv" > /dev/null 2>&1; then ok="$ok $kv"
        else note "./run does not accept --kv-type $kv: left out"; fi
    done
    echo "$ok"
}

# ---------------------------------------------------------------- tables

# results.md: ours against the references (ratio > 1: faster than the reference).
main_table() {
    awk -F, -v refs="$REFERENCES" '
        function ref(shape, w, t, d, engine, which,   k) {
            k = shape SUBSEP w SUBSEP t SUBSEP d SUBSEP engine SUBSEP which
            return (k in R) ? R[k] : "" }
        function vs(ours, theirs) {
            if (ours == "" || theirs == "") return "–"
            return sprintf("%.2fx (%s)", ours / theirs, theirs) }
        function num(v) { return v == "" ? "–" : sprintf("%.1f", v) }
        BEGIN { n = split(refs, lines, "\n")
            for (i = 1; i <= n; i++) { if (split(lines[i], f, ",") < 7) continue
                R[f[1], f[2], f[3], f[4], f[5], "p"] = f[6]; R[f[1], f[2], f[3], f[4], f[5], "d"] = f[7] }
            print "| model | threads | depth | prefill tok/s | vs llama.cpp | decode tok/s | vs llama.cpp | vs llama2.c | peak RSS MiB | load |"
            print "|---|---:|---:|---:|---|---:|---|---|---:|---:|" }
        NR == 1 { next }
        { ok = $16 == "ok"; p = ok ? $10 : ""; d = ok ? $11 : ""
          printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", $1, $4, $5, num(p),
              vs(p, ref($2, $3, $4, $5, "llama.cpp", "p")), ok ? num(d) : $16,
              vs(d, ref($2, $3, $4, $5, "llama.cpp", "d")), vs(d, ref($2, $3, $4, $5, "llama2.c", "d")),
              $13 == "" ? "–" : sprintf("%.0f", $13 / 1024), $15 }
    ' "$OUT/results.csv"
}

# latency.md: ms/token per depth for each series, then KV MiB, then the ratio to llama.cpp.
latency_table() {
    awk -F, -v depths="$LAT_DEPTHS" -v refs="$REFERENCES" '
        BEGIN { nd = split(depths, D, " ")
            n = split(refs, lines, "\n")
            for (i = 1; i <= n; i++) if (split(lines[i], f, ",") >= 7 && f[5] == "llama.cpp" && f[3] == 2)
                R[f[1], f[2], f[4]] = f[7] }
        NR == 1 { next }
        { if (!($1 in seen)) { seen[$1] = 1; order[++ns] = $1; shape[$1] = $3; w[$1] = $4; kv[$1] = $5 }
          ms[$1, $7] = $17 == "ok" ? $11 : ($17 ~ /^skipped/ ? "skip" : $17)
          tps[$1, $7] = $17 == "ok" ? $10 : ""
          kvb[$1, $7] = $12; rss[$1, $7] = $14 }
        function header(title,   j) { printf "\n%s\n\n| series |", title
            for (j = 1; j <= nd; j++) printf " %s |", D[j]; printf "\n|---|"
            for (j = 1; j <= nd; j++) printf "---:|"; printf "\n" }
        END {
            header("Decode ms/token by depth (tokens already cached)")
            for (i = 1; i <= ns; i++) { s = order[i]; printf "| %s |", s
                for (j = 1; j <= nd; j++) printf " %s |", ((s, D[j]) in ms) ? ms[s, D[j]] : "–"; printf "\n" }
            header("KV cache MiB in use at each depth / peak RSS MiB of the run")
            for (i = 1; i <= ns; i++) { s = order[i]; printf "| %s |", s
                for (j = 1; j <= nd; j++) { k = (s SUBSEP D[j])
                    if (!(k in kvb) || kvb[k] == "") { printf " – |"; continue }
                    printf " %.1f / %s |", kvb[k] / 1048576, rss[k] == "" ? "–" : sprintf("%.0f", rss[k] / 1024) }
                printf "\n" }
            header("Decode tok/s against llama.cpp at the same depth (f16 KV, 2 threads; ratio > 1 is faster)")
            for (i = 1; i <= ns; i++) { s = order[i]; printf "| %s |", s
                for (j = 1; j <= nd; j++) { r = R[shape[s], w[s], D[j]]
                    if (tps[s, D[j]] == "" || r == "") printf " – |"
                    else printf " %.2fx (%s) |", tps[s, D[j]] / r, r }
                printf "\n" }
            line = ""
            for (i = 1; i <= ns; i++) { s = order[i]
                if (tps[s, 0] != "" && tps[s, 4096] != "")
                    line = line sprintf("%s %s %.2f", line == "" ? "" : ";", s, tps[s, 0] / tps[s, 4096]) }
            if (line != "")
                printf "\nDepth-4096 / depth-0 time per token (issue 5 target for 110M F32: <= 1.3):%s\n", line }
    ' "$OUT/latency.csv"
}

machine_line() {
    local cpu
    cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo 2>/dev/null | head -n 1)
    echo "$(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git rev-parse --short HEAD 2>/dev/null || echo ?)," \
         "$(nproc) cores ($cpu), load average now: $(cut -d' ' -f1-3 /proc/loadavg)$(
         [ "$QUICK" = 1 ] && echo ', QUICK mode')"
}

# ---------------------------------------------------------------- plots

plot() {
    if ! command -v gnuplot > /dev/null; then
        note "gnuplot not found: tables written, plots skipped"; return
    fi
    local term=png series
    gnuplot -e 'set terminal' 2>&1 | grep -q pngcairo && term=pngcairo
    series=$(awk -F, 'NR > 1 && $17 == "ok" && !seen[$1]++ { printf "%s ", $1 }' "$OUT/latency.csv")
    [ -n "$series" ] || { note "no latency figures to plot"; return; }
    gnuplot -e "dir='$OUT'; series='$series'; term='$term'" "$HERE/plot_bench.gp" \
        2> "$OUT/plot_bench.log" || note "gnuplot failed (see $OUT/plot_bench.log)"
}

# ---------------------------------------------------------------- main

note "$( [ "$QUICK" = 1 ] && echo 'QUICK mode: ' )results in $OUT; load average $(cut -d' ' -f1-3 /proc/loadavg)"
# shellcheck disable=SC2086 # the model lists are meant to split into words
MAIN_MODELS=$(available_models $MODELS | tr '\n' ' ')
# shellcheck disable=SC2086
LAT_MODELS_OK=$(available_models $LAT_MODELS | tr '\n' ' ')
first=$(echo "$LAT_MODELS_OK $MAIN_MODELS" | awk '{ print $1 }')
KV_OK="" FAILURES=0
[ -n "$first" ] && KV_OK=$(probe_kv_types "$(model_file "$first")")
run_main
run_latency
rows() { awk 'END { print NR - 1 }' "$1"; }
{
    echo "# Benchmarks ($(machine_line))"
    echo
    if [ "$(rows "$OUT/results.csv")" -gt 0 ]; then
        echo "Prefill of $PROMPT tokens and decode of $GEN after the given depth, f16 KV cache,"
        echo "median of $REPEATS. Ratios: ours / reference (> 1 is faster); references from"
        echo "../shared/BENCHMARKS.md. Load: the 1-minute load average when the run started."
        echo
        main_table
    else echo "(no prefill/decode runs: BENCH_MODELS is empty or no model was available)"; fi
} > "$OUT/results.md"
{
    echo "# Decode latency vs depth ($(machine_line))"
    echo
    if [ "$(rows "$OUT/latency.csv")" -gt 0 ]; then
        echo "$LAT_GEN decoded tokens after the depth, $LAT_THREADS threads, median of" \
             "$LAT_REPEATS; series = model/KV type."
        latency_table
    else echo "(no latency runs: BENCH_LAT_MODELS is empty or no model was available)"; fi
} > "$OUT/latency.md"
plot
cat "$OUT/results.md"
echo
cat "$OUT/latency.md"
note "wrote $OUT/results.csv, results.md, latency.csv, latency.md and the plots"
# Exit 1 only when a run crashed or errored (never for its speed); a refusal by the memory
# plan or a depth skipped for time is a result, not a failure.
[ "$FAILURES" -eq 0 ] || { note "$FAILURES run(s) failed: see the .log files in $OUT"; exit 1; }
