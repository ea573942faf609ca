# plot_nll_pos.gp — mean NLL vs token position (binned), one line per RoPE scaling mode, at
# the sweep's largest context; the training context is marked. Data: nll_pos_MODE.dat.
eval sprintf("set terminal %s size 900,600", term)
set output dir.'/nll_vs_position.png'
set title sprintf('Mean NLL vs position at context %d (binned)', ctx)
set xlabel 'position of the predicted token'
set ylabel 'mean NLL (nats)'
set grid
set key top right
set xrange [0:ctx]
set arrow from orig_ctx, graph 0 to orig_ctx, graph 1 nohead dashtype 2 lc rgb 'gray40'
set label sprintf('training context %d', orig_ctx) at orig_ctx, graph 0.04 offset 1,0
plot for [m in modes] dir.'/nll_pos_'.m.'.dat' using 1:2 with lines linewidth 2 title m
