# TPS vs clients per contender, one panel per workload and synchronous_commit.
# Run from test/bench/out (bench.sh does); reads the plot-*.dat files and
# plot-panels.gp written by report.py.
load "plot-panels.gp"
n = words(panels)
cols = (n > 1) ? 2 : 1
rows = (n + cols - 1) / cols

if (strstrt(GPVAL_TERMINALS, "pngcairo") > 0) {
	set terminal pngcairo size 600 * cols, 420 * rows + 40 font "sans,10"
} else {
	set terminal png size 600 * cols, 420 * rows + 40
}
set output "tps-vs-clients.png"

set multiplot layout rows, cols title "booking benchmark: TPS vs clients (" . subtitle . ")" noenhanced
set logscale x 2
set xtics (1, 2, 4, 8, 16, 32)
set xrange [0.8:40]
set yrange [0:*]
set format y "%.0s%c"
set xlabel "clients"
set ylabel "TPS"
set grid
set key top left font ",9"
set datafile missing "NaN"
names = "booking seed-sql seed-plpgsql unique floor"
do for [i = 1:n] {
	f = word(panels, i)
	set title titles[i] noenhanced
	plot for [k = 1:5] f using 1:(column(k + 1)) with linespoints lw 2 pt (k + 4) title word(names, k) noenhanced
}
unset multiplot
