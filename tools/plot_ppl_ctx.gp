# plot_ppl_ctx.gp — perplexity vs context length, one line per RoPE scaling mode, from the
# sweep's ppl.csv (tools/sweep.sh passes dir, modes, orig_ctx, term).
eval sprintf("set terminal %s size 900,600", term)
set output dir.'/ppl_vs_context.png'
set datafile separator ','
set title sprintf('Perplexity vs context (training context %d)', orig_ctx)
set xlabel 'context (tokens)'
set ylabel 'perplexity'
set logscale x 2
set logscale y
set grid
set key top left
set arrow from orig_ctx, graph 0 to orig_ctx, graph 1 nohead dashtype 2 lc rgb 'gray40'
plot for [m in modes] dir.'/ppl.csv' \
     using 2:(strcol(1) eq m && strcol(5) ne '' ? $5 : NaN) every ::1 \
     with linespoints pointtype 7 title m
