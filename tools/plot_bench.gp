# plot_bench.gp — decode latency and memory vs depth from tools/bench.sh's latency.csv, one
# line per series (model/KV type).  bench.sh passes dir, series (space-separated) and term.
# latency.csv columns: 1 series, 7 depth, 11 ms_per_token, 12 kv_bytes, 14 peak_rss_kib,
# 17 status (only "ok" rows are drawn).  Log y: small and large models on one plot (an
# empty cache at depth 0 has no point on the KV plot).
set datafile separator ','
set grid
set logscale y
set key outside right top
set xlabel 'depth (tokens already in the KV cache)'
ok(col) = strcol(17) eq 'ok' && column(col) > 0 ? column(col) : NaN

eval sprintf("set terminal %s size 1000,600 noenhanced", term)
set output dir.'/latency_vs_depth.png'
set title 'Decode latency per token vs depth'
set ylabel 'ms per token'
plot for [s in series] dir.'/latency.csv' \
     using 7:(strcol(1) eq s ? ok(11) : NaN) every ::1 with linespoints pointtype 7 title s

eval sprintf("set terminal %s size 1000,900 noenhanced", term)
set output dir.'/memory_vs_depth.png'
set multiplot layout 2,1
set title 'KV cache bytes in use vs depth'
set ylabel 'MiB'
plot for [s in series] dir.'/latency.csv' \
     using 7:(strcol(1) eq s ? ok(12) / 1048576 : NaN) every ::1 \
     with linespoints pointtype 7 title s
set title 'Peak resident memory of the run (cache sized to depth + generated tokens)'
set ylabel 'MiB'
plot for [s in series] dir.'/latency.csv' \
     using 7:(strcol(1) eq s ? ok(14) / 1024 : NaN) every ::1 \
     with linespoints pointtype 7 title s
unset multiplot
