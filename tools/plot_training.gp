# plot_training.gp — the default model's loss curve from tools/train.py's JSON-lines log:
# training batch loss every log step, and the train / held-out evaluation losses.
# gnuplot -e "log='models/kjv-train.log'; out='models/kjv-loss.png'; phases='1200 1800'" \
#     tools/plot_training.gp
set terminal pngcairo size 800,480 font ',10'
set output out
set title 'models/kjv.gguf: loss during training (nats per token)'
set xlabel 'step (12 windows of 256 tokens)'
set ylabel 'mean NLL'
set y2label 'passkey accuracy (20 prompts)'
set y2range [0:1]
set y2tics 0.25
set grid
set key center right
set yrange [0.5:7]
# phases='1200 1800': dashed lines where the run was resumed with other flags
if (exists("phases")) {
    do for [p in phases] {
        set arrow from p + 0, graph 0 to p + 0, graph 1 nohead dashtype 2 lc rgb 'gray40'
    }
}
# lines look like {"step": 50, "lr": ..., "train_batch_loss": 4.23, ..., "heldout_loss": 3.6, ...}
field(name) = sprintf("< sed -n 's/.*\"step\": \\([0-9]*\\),.*\"%s\": \\([0-9.]*\\).*/\\1 \\2/p' %s", name, log)
plot field('train_batch_loss') using 1:2 with lines lc rgb '#bbbbbb' title 'training batch (with passkey windows)', \
     field('train_loss') using 1:2 with linespoints pt 7 lc rgb '#2166ac' title 'training text (48 windows)', \
     field('heldout_loss') using 1:2 with linespoints pt 7 lc rgb '#b2182b' title 'held-out books (48 windows)', \
     field('passkey_accuracy') using 1:2 axes x1y2 with linespoints pt 5 lc rgb '#1b7837' title 'passkey accuracy (right axis)'
