#!/usr/bin/env bash
# mpi tier: data-parallel equivalence. bench_torch_dp_equivalence (source in
# bench/bench_torch_dp_equivalence.cc) trains a nano GPT with RunTrial on K ranks at per-rank
# batch b and, in the same processes, on 1 rank at batch K*b, and compares the parameters
# after N steps (max |diff| <= 1e-5 x max |param|), with 25 MB and 4 KB gradient buckets, plus
# the reported step losses; it also checks that a 1-rank run at batch b does not match (so a
# pass means something). Each epoch ends with a one-document step, so K-1 ranks then have an
# empty shard. Runs K = 2 and K = 3 (a few seconds each) and checks the exit status and the
# PASS line.
set -uo pipefail

REVSWEEP_BIN=${REVSWEEP_BIN:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build/bin}
PROG="$REVSWEEP_BIN/bench_torch_dp_equivalence"
if [[ ! -x "$PROG" ]]; then
  echo "dp_equivalence: $PROG not built (cmake --build <build> --target bench_torch_dp_equivalence)" >&2
  exit 1
fi
command -v mpirun >/dev/null || { echo "dp_equivalence: mpirun not found" >&2; exit 1; }

export OMP_NUM_THREADS=1 OMP_WAIT_POLICY=passive
LOG_DIR=$(mktemp -d /tmp/revsweep-dp-equivalence.XXXXXX)
trap 'rm -rf "$LOG_DIR"' EXIT
failures=0
for k in 2 3; do
  log="$LOG_DIR/np$k.log"
  t0=$SECONDS
  # yield_when_idle: a waiting rank yields its core instead of spinning (Open MPI does this by
  # itself only when there are more ranks than cores). On a shared machine a spinning rank
  # stalls its peer: -np 2 took 60-70 s instead of 5 s without it on the 2-vCPU build VM.
  timeout 300 mpirun --allow-run-as-root --oversubscribe --mca mpi_yield_when_idle 1 -np "$k" \
    -x OMP_NUM_THREADS -x OMP_WAIT_POLICY "$PROG" >"$log" 2>&1
  rc=$?
  line=$(grep -E "^dp equivalence K=$k" "$log" | tail -1)
  if [[ $rc -eq 0 && "$line" == *": PASS" ]]; then
    echo "ok   -np $k ($((SECONDS - t0))s): $line"
  else
    echo "FAIL -np $k: exit $rc${line:+, $line}" >&2
    sed 's/^/    /' "$log" >&2
    failures=$((failures + 1))
  fi
done
if ((failures > 0)); then
  echo "dp_equivalence: $failures of 2 runs failed" >&2
  exit 1
fi
echo "dp_equivalence: PASS"
