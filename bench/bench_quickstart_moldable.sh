#!/usr/bin/env bash
# The quickstart sweep (configs/quickstart.yaml, 2 trials) on 2 ranks, end to end through
# `revsweep run`, with rigid groups (resources.group_size_max: 0: each trial keeps its one
# rank, so the rank of the short trial idles while the long one finishes) and with moldable
# groups (the shipped group_size_max: 2: the long trial regroups onto both ranks at a
# checkpoint). Rounds alternate which goes first so machine load hits both alike. Each run
# starts from an empty run folder (tokenizer training and token caches included, as a user's
# first run). Prints each wall time, the medians, "quickstart rigid / moldable wall time: X"
# and the moldable goal line, plus the tiny trial's accuracies from both runs (the same model
# trained at 1 and then 2 ranks: equal up to rounding, docs/PERFORMANCE.md).
#
# Usage: bench/bench_quickstart_moldable.sh [--rounds N]      (default 1; ~4 min per round)
#   REVSWEEP_BIN  folder with the built revsweep (default build/bin of this checkout)
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC=$(cd "$HERE/.." && pwd)
BIN=${REVSWEEP_BIN:-$SRC/build/bin}
ROUNDS=1
while (($#)); do
  case $1 in
    --rounds) ROUNDS=${2:?--rounds needs a number}; shift ;;
    *) echo "usage: $0 [--rounds N]" >&2; exit 2 ;;
  esac
  shift
done
WORK=$(mktemp -d /tmp/revsweep-moldable.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
grep -q '^  group_size_max: 2' "$SRC/configs/quickstart.yaml" ||
  { echo "configs/quickstart.yaml no longer sets group_size_max: 2" >&2; exit 1; }

run_one() { # MODE ROUND -> prints seconds
  local mode=$1 dir=$WORK/$1-$2
  mkdir -p "$dir"
  if [[ $mode == rigid ]]; then
    sed 's/^  group_size_max: 2/  group_size_max: 0/' "$SRC/configs/quickstart.yaml" >"$dir/q.yaml"
  else
    cp "$SRC/configs/quickstart.yaml" "$dir/q.yaml"
  fi
  local t0 t1
  t0=$(date +%s.%N)
  (cd "$dir" && "$BIN/revsweep" run q.yaml --ranks 2 --store "$dir/q.db" -q >"$dir/log" 2>&1) ||
    { echo "$mode run failed:" >&2; tail -20 "$dir/log" >&2; exit 1; }
  t1=$(date +%s.%N)
  echo "$t1 - $t0" | bc
}

declare -a RIGID MOLD
for ((r = 0; r < ROUNDS; r++)); do
  for mode in $( ((r % 2 == 0)) && echo "rigid moldable" || echo "moldable rigid"); do
    s=$(run_one "$mode" "$r")
    printf 'round %d %-8s %6.1f s\n' "$r" "$mode" "$s"
    if [[ $mode == rigid ]]; then RIGID+=("$s"); else MOLD+=("$s"); fi
  done
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
mr=$(median "${RIGID[@]}")
mm=$(median "${MOLD[@]}")
printf 'median wall time: rigid %.1f s, moldable %.1f s\n' "$mr" "$mm"
printf 'quickstart rigid / moldable wall time: %.2fx\n' "$(echo "$mr / $mm" | bc -l)"
printf 'quickstart moldable on 2 ranks: %.1f s (goal <= 80 s)\n' "$mm"
for mode in rigid moldable; do
  echo "tiny trial, $mode (round 0):"
  sqlite3 "$WORK/$mode-0/q.db" "SELECT r.key || ' = ' || printf('%.3f', r.value) FROM results r
    JOIN trials t ON t.id = r.trial_id WHERE t.settings LIKE '%\"model.size\":\"tiny\"%'
    AND r.key LIKE 'acc.%' ORDER BY r.key" | sed 's/^/  /' | paste -sd' ' | fold -w 100
done
