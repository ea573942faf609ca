# plot_vs_depth.gp — decode tok/s against the tokens already cached, ./run and llama.cpp
# (-fa 0, -fa 1) on one chart, one line style per KV type; from bench_vs_llamacpp_report.sh's
# vs_depth.dat (model kv depth ours fa0 fa1).
set terminal pngcairo size 900,520 font ',10'
set output out
set title 'decode (tg64, 2 threads) vs depth: ./run and llama.cpp on the same file'
set xlabel 'tokens in the cache'
set ylabel 'tokens per second'
set grid
set termoption noenhanced
set key top right
set yrange [0:*]
set datafile missing 'nan'
kv(k, col) = sprintf('< awk ''$2 == "%s"'' %s', k, dat)
plot kv('f16', dat) using 3:4 with linespoints lw 2 pt 7 lc rgb '#1f77b4' title './run, f16 KV', \
     kv('f16', dat) using 3:5 with linespoints lw 2 pt 5 lc rgb '#d62728' title 'llama.cpp -fa 0, f16 KV', \
     kv('f16', dat) using 3:6 with linespoints lw 2 pt 9 lc rgb '#ff7f0e' title 'llama.cpp -fa 1, f16 KV', \
     kv('q8_0', dat) using 3:4 with linespoints lw 2 dt 2 pt 6 lc rgb '#1f77b4' title './run, q8_0 KV', \
     kv('q8_0', dat) using 3:6 with linespoints lw 2 dt 2 pt 8 lc rgb '#ff7f0e' title 'llama.cpp -fa 1, q8_0 KV'
