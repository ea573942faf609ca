# plot_decay.gp — RoPE's long-range decay per mode, from rope_explore decay's CSV:
# the mean over pairs of cos(d theta'_k) against the distance d (log scale).
set terminal pngcairo size 900,560 font ',10'
set output out
set datafile separator ','
set title sprintf("q.k of q = k = (1,...,1) at distance d, per mode (trained at %d, s = 16)", orig_ctx)
set xlabel 'distance m - n (tokens)'
set ylabel 'q.k / q.q  (mean of cos(d theta_k))'
set logscale x 2
set xrange [1:4096]
set yrange [-0.3:1.05]
set grid
set key top right
set arrow from orig_ctx, graph 0 to orig_ctx, graph 1 nohead dashtype 2 lc rgb 'gray40'
set label 'L' at orig_ctx, graph 0.95 offset 0.5,0
plot for [c=2:8] csv using 1:c every ::2 with lines lw 1.5 title columnheader(c)
