#!/usr/bin/env bash
# Runs every benchmark (and the data-parallel equivalence check) with the launch lines they
# need, keeps each one's full output under a log folder and prints their summary lines (the
# lines with a goal, PASS or FAIL, and the least-disturbed / median-step estimates that go
# with them). Every benchmark measures its own baseline in the same run,
# so the figures are ratios; on a shared machine expect run-to-run spread (see
# docs/PERFORMANCE.md).
#
# Usage: bench/run_all.sh [--quick] [--only NAME[,NAME...]] [--logs DIR]
#   REVSWEEP_BIN  folder with the built benchmarks (default build/bin of this checkout)
#   --quick       fewer rounds / repetitions (a smoke run, not figures to quote)
#   --only        e.g. --only grad_sync,weak_scaling (names without the bench_ / bench_torch_)
# Exit status: 1 if a benchmark failed to run or the equivalence check failed (missed goals
# are reported, not failures).
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BIN=${REVSWEEP_BIN:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/build/bin}
export REVSWEEP_SRC=${REVSWEEP_SRC:-$(cd "$HERE/.." && pwd)}
QUICK=0
ONLY=""
LOGS=""
while (($#)); do
  case $1 in
    --quick) QUICK=1 ;;
    --only) ONLY=${2:?--only needs names}; shift ;;
    --logs) LOGS=${2:?--logs needs a folder}; shift ;;
    *) echo "usage: $0 [--quick] [--only NAME,...] [--logs DIR]" >&2; exit 2 ;;
  esac
  shift
done
LOGS=${LOGS:-$(mktemp -d /tmp/revsweep-bench.XXXXXX)}
mkdir -p "$LOGS"

# One intra-op thread per rank, one core per rank, OpenMP threads that sleep when idle.
export OMP_NUM_THREADS=1 OMP_WAIT_POLICY=passive
MPIRUN=(mpirun --allow-run-as-root --oversubscribe --bind-to core
        -x OMP_NUM_THREADS -x OMP_WAIT_POLICY -x REVSWEEP_SRC)

if ((QUICK)); then
  GS_ARGS=(--reps 8 --sweep-reps 4)
  MFU_ARGS=(--rounds 1)
  WS_ARGS=(--rounds 2 --steps 12)
  TVP_ARGS=(--rounds 2 --steps 20)
  STORE_ARGS=(--trials 10000)
else
  GS_ARGS=(--reps 40)
  MFU_ARGS=(--rounds 5)
  WS_ARGS=(--rounds 7 --steps 25)
  TVP_ARGS=(--rounds 7 --steps 40)
  STORE_ARGS=()
fi

wanted() { [[ -z "$ONLY" || ",$ONLY," == *",$1,"* ]]; }

failures=0
summary=()
# run NAME COMMAND...: runs, logs, collects the summary lines.
run() {
  local name=$1
  shift
  wanted "$name" || return 0
  local log="$LOGS/$name.log" t0=$SECONDS rc
  echo "== $name: $*" >&2
  "$@" >"$log" 2>&1
  rc=$?
  summary+=("== $name ($((SECONDS - t0)) s, exit $rc): $*")
  while IFS= read -r line; do summary+=("   $line"); done < <(grep -E 'goal|PASS|FAIL|least-disturbed|from median step|MFU' "$log")
  if ((rc != 0)); then
    summary+=("   FAILED (exit $rc), last lines of $log:")
    while IFS= read -r line; do summary+=("     $line"); done < <(tail -5 "$log")
    failures=$((failures + 1))
  fi
}

need() {
  [[ -x "$BIN/$1" ]] && return 0
  echo "run_all: $BIN/$1 not built (cmake --build <build> --target $1)" >&2
  failures=$((failures + 1))
  return 1
}

# Torch-free benchmarks.
need bench_placement_sim && run placement_sim "$BIN/bench_placement_sim"
need bench_store_scale && run store_scale "$BIN/bench_store_scale" "${STORE_ARGS[@]}"
# Torch benchmarks: 2 ranks for the data-parallel ones.
need bench_torch_grad_sync &&
  run grad_sync "${MPIRUN[@]}" -np 2 "$BIN/bench_torch_grad_sync" "${GS_ARGS[@]}"
need bench_torch_weak_scaling &&
  run weak_scaling "${MPIRUN[@]}" -np 2 "$BIN/bench_torch_weak_scaling" "${WS_ARGS[@]}"
need bench_torch_trainer_mfu && run trainer_mfu "$BIN/bench_torch_trainer_mfu" "${MFU_ARGS[@]}"
need bench_torch_trainer_vs_python &&
  run trainer_vs_python "$BIN/bench_torch_trainer_vs_python" "${TVP_ARGS[@]}"
need bench_torch_trainer_vs_python &&
  run trainer_vs_python_mallopt "$BIN/bench_torch_trainer_vs_python" "${TVP_ARGS[@]}" --cpp-mallopt
# The equivalence check (also tests/mpi/dp_equivalence.sh), K = 2 and 3.
for k in 2 3; do
  need bench_torch_dp_equivalence &&
    run "dp_equivalence_np$k" mpirun --allow-run-as-root --oversubscribe \
      --mca mpi_yield_when_idle 1 -np "$k" -x OMP_NUM_THREADS "$BIN/bench_torch_dp_equivalence"
done

echo
echo "load average now: $(cut -d' ' -f1-3 /proc/loadavg); logs in $LOGS"
printf '%s\n' "${summary[@]}"
((failures == 0))
