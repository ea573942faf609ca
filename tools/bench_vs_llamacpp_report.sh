#!/usr/bin/env bash
# bench_vs_llamacpp_report.sh — the tables and plots of tools/bench_vs_llamacpp.sh's runs:
# medians per configuration and engine, ours / llama.cpp with its spread (our lowest run over
# llama.cpp's highest, and the reverse), and what each median achieves against the machine:
# decode as GB/s (bytes a token reads x tok/s) and its share of the read bandwidth tools/membw
# measured at the same thread count; prefill as GFLOP/s and its share of the peak (f32 FMA for
# float weights, int8 dot products for quantised ones, which the integer kernels run on).
#   tools/bench_vs_llamacpp_report.sh DIR    (DIR holds vs_types.csv, vs_depth.csv, membw.json)
# Writes DIR/vs_depth.dat, DIR/vs_roofline.dat and, with gnuplot, DIR/vs_depth.png and
# DIR/vs_roofline.png; the markdown goes to stdout.
set -u
DIR=${1:?usage: bench_vs_llamacpp_report.sh DIR}
HERE=$(dirname "$0")
MEMBW=$DIR/membw.json
[ -f "$MEMBW" ] || { echo "bench_vs_llamacpp_report.sh: $MEMBW is missing" >&2; exit 2; }

# "threads read fma_f32 dot_int8" lines from membw's JSON.
limits() {
    grep -o '{"threads": [^}]*}' "$MEMBW" | awk '{
        gsub(/[{}",:]/, " "); n = split($0, w, " ")
        for (i = 1; i < n; i += 2) v[w[i]] = w[i + 1]
        print v["threads"], v["read"], v["fma_f32"], (v["dot_int8"] == "" ? 0 : v["dot_int8"]) }'
}

echo "Machine limits (tools/membw, 3 x 2 GiB arrays, best of 5):"
echo
echo "| threads | read GB/s | f32 FMA GFLOP/s | int8 dot GOP/s |"
echo "|---:|---:|---:|---:|"
limits | awk '{ printf "| %d | %.1f | %.0f | %.0f |\n", $1, $2, $3, $4 }'
echo

# Shared awk: medians, extremes, and the "achieved" cell of a row.
AWK_LIB='
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
function float_type(model) { return model ~ /-(f32|f16|bf16)$/ }
function achieved(test, model, threads, tps, work,   rate) {
    if (tps <= 0 || work <= 0) return "–"
    rate = tps * work * 1e-9
    if (test ~ /^tg/) return sprintf("%.1f GB/s (%.0f %%)", rate, 100 * rate / bw[threads])
    return sprintf("%.0f GFLOP/s (%.0f %%)", rate, 100 * rate / (float_type(model) ? fma[threads] : dot[threads]))
}
function load_limits(file,   line, f) {
    while ((getline line < file) > 0) { split(line, f, " "); bw[f[1]] = f[2]; fma[f[1]] = f[3]; dot[f[1]] = f[4] > 0 ? f[4] : f[3] }
}'
limits > "$DIR/limits.txt"

types_table() {
    echo "| model | threads | test | ours tok/s | llama.cpp tok/s | ours / llama.cpp | spread | ours achieves | llama.cpp achieves | rounds |"
    echo "|---|---:|---|---:|---:|---:|---|---|---|---:|"
    awk -F, -v limits="$DIR/limits.txt" "$AWK_LIB"'
        BEGIN { load_limits(limits) }
        NR > 1 && $8 != "failed" && $8 != "" { key = $2 "|" $3 "|" $4; v[$1, key] = v[$1, key] " " $8; keys[key] = 1
            if ($9 != "") work[key] = $9 }
        END {
            for (k in keys) {
                if (v["ours", k] == "" || v["llama.cpp", k] == "") continue
                split(k, f, "|"); o = median(v["ours", k]); l = median(v["llama.cpp", k])
                lo = extreme(v["ours", k], 0) / extreme(v["llama.cpp", k], 1)
                hi = extreme(v["ours", k], 1) / extreme(v["llama.cpp", k], 0)
                printf "| %s | %s | %s | %.1f | %.1f | %.2f | %.2f-%.2f | %s | %s | %d |\n", f[1], f[2], f[3], o, l, o / l,
                    lo, hi, achieved(f[3], f[1], f[2], o, work[k]), achieved(f[3], f[1], f[2], l, work[k]), split(v["ours", k], tmp, " ")
            }
        }' "$DIR/vs_types.csv" | sort -t'|' -k2,2 -k4,4 -k3,3n
}

# Decode at depth: one row per (model, KV type, depth), llama.cpp's -fa 0 and -fa 1 side by
# side; also DIR/vs_depth.dat for the plot (model kv depth ours fa0 fa1, "nan" where absent).
depth_table() {
    echo "| model | KV | depth | ours tok/s | llama.cpp -fa 0 | ratio | llama.cpp -fa 1 | ratio | ours achieves | llama.cpp's best achieves | rounds |"
    echo "|---|---|---:|---:|---:|---:|---:|---:|---|---|---:|"
    awk -F, -v limits="$DIR/limits.txt" -v dat="$DIR/vs_depth.dat" "$AWK_LIB"'
        BEGIN { load_limits(limits) }
        NR > 1 && $8 != "failed" && $8 != "" { key = $2 "|" $6 "|" $5; e = $1 == "ours" ? "ours" : "fa" $7
            v[e, key] = v[e, key] " " $8; keys[key] = 1; if ($9 != "") work[key] = $9 }
        function cell(e, k) { return v[e, k] == "" ? "–" : sprintf("%.2f", median(v[e, k])) }
        function ratio(e, k) { return v[e, k] == "" || v["ours", k] == "" ? "–" : sprintf("%.2f", median(v["ours", k]) / median(v[e, k])) }
        END {
            for (k in keys) {
                if (v["ours", k] == "") continue
                split(k, f, "|"); o = median(v["ours", k])
                best = v["fa0", k] == "" ? 0 : median(v["fa0", k])
                if (v["fa1", k] != "" && median(v["fa1", k]) > best) best = median(v["fa1", k])
                printf "| %s | %s | %s | %.2f | %s | %s | %s | %s | %s | %s | %d |\n", f[1], f[2], f[3], o, cell("fa0", k),
                    ratio("fa0", k), cell("fa1", k), ratio("fa1", k), achieved("tg", f[1], 2, o, work[k]),
                    achieved("tg", f[1], 2, best, work[k]), split(v["ours", k], tmp, " ")
                printf "%s %s %s %.3f %s %s\n", f[1], f[2], f[3], o, v["fa0", k] == "" ? "nan" : median(v["fa0", k]),
                    v["fa1", k] == "" ? "nan" : median(v["fa1", k]) > dat
            }
        }' "$DIR/vs_depth.csv" | sort -t'|' -k2,2 -k3,3 -k4,4n
    sort -k1,1 -k2,2 -k3,3n -o "$DIR/vs_depth.dat" "$DIR/vs_depth.dat"
}

# Decode lines of the types table as "label ours_gbps llama_gbps bandwidth" for the plot.
roofline_data() {
    awk -F, -v limits="$DIR/limits.txt" "$AWK_LIB"'
        BEGIN { load_limits(limits) }
        NR > 1 && $4 ~ /^tg/ && $8 != "failed" && $8 != "" { key = $2 "|" $3; v[$1, key] = v[$1, key] " " $8; keys[key] = 1; work[key] = $9 }
        END { for (k in keys) if (v["ours", k] != "" && v["llama.cpp", k] != "") { split(k, f, "|")
            printf "%s/%st %.2f %.2f %.2f\n", f[1], f[2], median(v["ours", k]) * work[k] * 1e-9,
                median(v["llama.cpp", k]) * work[k] * 1e-9, bw[f[2]] } }' "$DIR/vs_types.csv" | sort > "$DIR/vs_roofline.dat"
}

if [ -s "$DIR/vs_types.csv" ] && [ "$(wc -l < "$DIR/vs_types.csv")" -gt 1 ]; then
    echo "Prefill (pp512) and decode (tg128), depth 0, f16 KV:"
    echo
    types_table
    echo
    roofline_data
fi
if [ -s "$DIR/vs_depth.csv" ] && [ "$(wc -l < "$DIR/vs_depth.csv")" -gt 1 ]; then
    echo "Decode (tg64) after depth tokens, 2 threads:"
    echo
    : > "$DIR/vs_depth.dat"
    depth_table
    echo
fi
if command -v gnuplot >/dev/null; then
    [ -s "$DIR/vs_depth.dat" ] && gnuplot -e "dat='$DIR/vs_depth.dat'; out='$DIR/vs_depth.png'" "$HERE/plot_vs_depth.gp"
    [ -s "$DIR/vs_roofline.dat" ] && gnuplot -e "dat='$DIR/vs_roofline.dat'; out='$DIR/vs_roofline.png'" "$HERE/plot_roofline.gp"
fi
echo "runs: $DIR/vs_types.csv, $DIR/vs_depth.csv; plots: $DIR/vs_depth.png, $DIR/vs_roofline.png"
