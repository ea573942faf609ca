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
# where llama3 and yarn switch (defaults): theta = 2 pi / wavelength for the wavelengths
# L/4 and L (llama3's high and low frequency factors) and L/32, L (yarn's beta_fast, beta_slow)
set arrow from graph 0, first 2*pi/(orig_ctx/4.0) to graph 1, first 2*pi/(orig_ctx/4.0) nohead dashtype 3 lc rgb 'dark-green'
set arrow from graph 0, first 2*pi/orig_ctx to graph 1, first 2*pi/orig_ctx nohead dashtype 2 lc rgb 'gray30'
set arrow from graph 0, first 2*pi*32/orig_ctx to graph 1, first 2*pi*32/orig_ctx nohead dashtype 3 lc rgb 'dark-orange'
set label 'llama3: wavelength L/4' at graph 0.62, first 2*pi/(orig_ctx/4.0) offset 0,0.6 tc rgb 'dark-green'
set label 'llama3 and yarn: wavelength L' at graph 0.62, first 2*pi/orig_ctx offset 0,0.6 tc rgb 'gray30'
set label 'yarn: 32 turns in L' at graph 0.62, first 2*pi*32/orig_ctx offset 0,0.6 tc rgb 'dark-orange'
plot for [m in modes] dir.'/theta_'.m.'.dat' using 1:2 with linespoints pointtype 7 title m
