# plot_roofline.gp — decode's achieved read rate (bytes a token reads x tok/s) of ./run and
# llama.cpp beside the streaming read bandwidth tools/membw measured at the same thread count:
# the roof a memory-bound decode cannot pass. From bench_vs_llamacpp_report.sh's
# vs_roofline.dat (label ours_gbps llama_gbps bandwidth).
set terminal pngcairo size 1000,520 font ',10'
set output out
set title 'decode (tg128) against the memory roof: GB/s read per second of decoding'
set ylabel 'GB/s'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set xtics rotate by -30 noenhanced
set grid ytics
set key top left
set yrange [0:*]
plot dat using 2:xtic(1) title './run' lc rgb '#1f77b4', \
     '' using 3 title 'llama.cpp' lc rgb '#ff7f0e', \
     '' using 4 title 'read bandwidth (membw)' lc rgb '#7f7f7f'
