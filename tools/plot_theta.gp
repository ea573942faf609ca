# plot_theta.gp — the scaled frequencies theta'_k (radians per position) vs pair index k,
# one line per RoPE scaling mode, log scale. Data: theta_MODE.dat from ./run --print-rope.
eval sprintf("set terminal %s size 900,600", term)
set output dir.'/theta_vs_pair.png'
set title sprintf("theta' per pair at context %d (training context %d)", ctx, orig_ctx)
set xlabel 'pair index k'
set ylabel "theta'_k (rad / position)"
set logscale y
set format y '10^{%L}'
set grid
set xtics 1
set format x '%.0f'
set key bottom left
plot for [m in modes] dir.'/theta_'.m.'.dat' using 1:2 with linespoints pointtype 7 title m
