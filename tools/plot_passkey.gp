# plot_passkey.gp — one passkey heat map from tools/passkey_sweep.sh's passkey.csv: context
# across (log2 spacing), depth of the key up, accuracy as colour and as a number in each
# cell. gnuplot -e "csv='...'; mode='...'; out='...'; orig_ctx=256" plot_passkey.gp
set terminal pngcairo size 640,420 font ',10'
set output out
set datafile separator ','
set title sprintf("passkey retrieval, %s (trained at %d)", mode, orig_ctx)
set xlabel 'context (tokens)'
set ylabel 'depth of the key (0 = first junk, 1 = last)'
set xtics ('256' 8, '512' 9, '1024' 10, '2048' 11, '4096' 12, '8192' 13)
set ytics 0.25
set cbrange [0:1]
set cblabel 'accuracy'
set palette defined (0 '#b2182b', 0.5 '#f7f7f7', 1 '#2166ac')
set xrange [7.5:12.5]
set yrange [-0.125:1.125]
unset key
set style fill solid 1.0 noborder
plot csv using (strcol(1) eq mode ? log($2)/log(2) : NaN):3:(0.5):(0.125):6 every ::1 \
         with boxxyerror fillcolor palette, \
     csv using (strcol(1) eq mode ? log($2)/log(2) : NaN):3:(sprintf('%.1f', $6)) every ::1 with labels
