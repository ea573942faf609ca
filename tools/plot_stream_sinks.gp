# plot_stream_sinks.gp — mean NLL per position of a stream that runs far past the window,
# with and without attention sinks (guide.sh's stream_sinks*.csv, averaged in bins of 64).
set terminal pngcairo size 900,500 font ',10'
set output out
set datafile separator ','
set title sprintf('streaming past a window of %d: NLL per position (bins of 64)', window)
set xlabel 'position in the stream'
set ylabel 'mean NLL (nats)'
set grid
set key top right
bin(x) = 64 * floor(x / 64) + 32
set arrow from window, graph 0 to window, graph 1 nohead dashtype 2 lc rgb 'gray40'
plot dir.'/stream_sinks0.csv' using (bin($1)):2 every ::1 smooth unique with lines lw 1.5 title 'no sinks', \
     dir.'/stream_sinks4.csv' using (bin($1)):2 every ::1 smooth unique with lines lw 1.5 title '4 sinks'
