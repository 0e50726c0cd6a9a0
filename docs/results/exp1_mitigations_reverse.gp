# Reverse accuracy per mitigation (configs/exp1_mitigations.yaml, tiny GPT, mean +- SE over
# 2 seeds). Data: exp1_mitigations_reverse.dat, from `revsweep summary exp1_mitigations
# --format csv`. Rerun: gnuplot exp1_mitigations_reverse.gp (in this folder).
set terminal pngcairo size 900,420 font ",10" noenhanced
set output "exp1_mitigations_reverse.png"
set title "Reverse accuracy by mitigation (tiny GPT from scratch, mean +- SE over 2 seeds)"
set style data histograms
set style histogram errorbars gap 2 lw 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set yrange [0:1.05]
set ylabel "exact-match accuracy"
set grid ytics
set key top right
set xtics nomirror
plot "exp1_mitigations_reverse.dat" using 2:3:xtic(1) title "p2d.reverse.heldout (description -> name)" lc rgb "#9400d3", \
     "" using 4:5 title "p2d.reverse.train" lc rgb "#c8a2e8", \
     "" using 6:7 title "d2p.reverse.heldout (name -> description)" lc rgb "#009e73"
set terminal svg size 900,420 font ",10" noenhanced
set output "exp1_mitigations_reverse.svg"
replot
