# plot_decode_depth.gp — decode latency (ms per token) against the tokens already cached,
# one line per KV cache type, from guide.sh's decode_depth.csv.
set terminal pngcairo size 800,500 font ',10'
set output out
set datafile separator ','
set title 'decode latency vs depth (models/kjv.gguf, 2 threads)'
set xlabel 'tokens in the cache'
set ylabel 'ms per generated token'
set grid
set key top left
plot for [c=2:4] csv using 1:c every ::1 with linespoints pointtype 7 title columnheader(c)
