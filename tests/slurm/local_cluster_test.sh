#!/usr/bin/env bash
# Slurm tier: starts a one-node cluster with deploy/local-slurm/start.sh and checks, on it:
#   (a) MPI direct launch: srun --mpi=pmix -n 2 of an MPI hello world (both ranks see size 2)
#   (b) the job template survives an external `scontrol requeue`: the stand-in trainer resumes
#       from its counter, SLURM_RESTART_COUNT >= 1, the job completes
#   (c) time limit warning: USR2 (--signal=B:USR2@T) reaches the trainer through the batch shell
#       and srun, the trainer exits 75, the job requeues itself and completes in the next run
#   (e) requeue refused (--no-requeue): the job resubmits itself and the new job completes
#   (d) stop.sh leaves no slurmctld, slurmd, slurmstepd or munged behind
# (c) takes ~80 s of wall time, so it runs in the background while (a), (b) and (e) run.
# The trainer is tests/slurm/fake_trainer.bash; a second test with the real binaries runs
# `revsweep submit`. Needs root, slurm-wlm, munge, openmpi (deploy/install-deps.sh).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REVSWEEP_SRC=${REVSWEEP_SRC:-$(cd "$HERE/../.." && pwd)}
# shellcheck source=tests/slurm/lib.bash
source "$HERE/lib.bash"
T0=$SECONDS
PART_TIMES=()

[[ $(id -u) -eq 0 ]] || { echo "local_cluster_test: needs root (exclude with ctest -LE slurm)" >&2; exit 1; }
for b in slurmctld slurmd munged sbatch srun mpicc; do
  command -v "$b" >/dev/null ||
    { echo "local_cluster_test: $b missing; run deploy/install-deps.sh" >&2; exit 1; }
done

# Daemons that were running before this test (a developer's own cluster) are not ours to check.
# (pgrep -x per name: pgrep refuses an alternation longer than 15 characters.)
daemon_pids() {
  local n
  for n in slurmctld slurmd slurmstepd munged; do pgrep -x "$n" || true; done
}
preexisting=" $(daemon_pids | tr '\n' ' ') "

STATE_DIR=$(mktemp -d /tmp/revsweep-slurm-test.XXXXXX)
WORK="$STATE_DIR/work"
mkdir -p "$WORK"
# Ports of their own, so a developer's cluster on the defaults keeps running.
export REVSWEEP_SLURMCTLD_PORT=${REVSWEEP_SLURMCTLD_PORT:-$((17000 + (RANDOM % 1000) * 2))}
export REVSWEEP_SLURMD_PORT=${REVSWEEP_SLURMD_PORT:-$((REVSWEEP_SLURMCTLD_PORT + 1))}
export SLURM_CONF="$STATE_DIR/slurm.conf"
STOPPED=0
cleanup() {
  local rc=$?
  if ((!STOPPED)); then "$REVSWEEP_SRC/deploy/local-slurm/stop.sh" "$STATE_DIR" >/dev/null 2>&1 || true; fi
  if ((rc == 0)); then rm -rf "$STATE_DIR"; else echo "[slurm-test] state kept in $STATE_DIR" >&2; fi
}
trap cleanup EXIT

FAKE="$HERE/fake_trainer.bash"
# The job environment is the submitter's (sbatch --export=ALL): the hooks travel with it.
export REVSWEEP_PREPARE_CMD="bash $FAKE prepare"
export REVSWEEP_TRAIN_CMD="bash $FAKE train"

# ---- start -------------------------------------------------------------------------------------
part_begin start
"$REVSWEEP_SRC/deploy/local-slurm/start.sh" "$STATE_DIR" || fail "start.sh failed"
t=$SECONDS
out=$("$REVSWEEP_SRC/deploy/local-slurm/start.sh" "$STATE_DIR") || fail "second start.sh failed"
grep -qx "export SLURM_CONF=$SLURM_CONF" <<<"$out" || fail "start.sh printed no export line: $out"
((SECONDS - t <= 5)) || fail "start.sh on a running cluster took $((SECONDS - t))s (not idempotent?)"
part_end

# ---- (c) submitted first: it is the long one -----------------------------------------------------
# Timing, from Slurm 22.05: slurmctld checks time limits every 30 s and sends the warning once
# now + T + 30 >= end, i.e. T to T+30 s before the limit. With --time=2 and T=65 the first run
# gets USR2 25-55 s after it starts, so 64 s of work (128 steps of 0.5 s) cannot finish before
# it. The requeued run starts ~11 s later (cred_expire=10) and is next warned 60 s after the
# first warning, ~48 s into the run: enough for the remaining <= 40 s of work.
part_begin "c (submit)"
C_DIR="$WORK/c"
mkdir -p "$C_DIR"
render_job "$C_DIR/job.sbatch" warn "$C_DIR" 65 5 --time=2 --nodes=1 --ntasks-per-node=1
C_ID=$(FAKE_DIR="$C_DIR" FAKE_STEPS=128 FAKE_STEP_S=0.5 sbatch --parsable "$C_DIR/job.sbatch") ||
  fail "sbatch failed"
C_ID=${C_ID%%;*}
C_T0=$SECONDS
say "job $C_ID submitted (time limit 2 min, USR2 65-95 s before it)"
part_end

# ---- (a) MPI direct launch ---------------------------------------------------------------------
part_begin "a (srun --mpi=pmix)"
srun --mpi=list 2>&1 | grep -qw pmix || fail "srun has no pmix plugin: $(srun --mpi=list 2>&1)"
A_DIR="$WORK/a"
mkdir -p "$A_DIR"
cat >"$A_DIR/hello.c" <<'EOF'
#include <mpi.h>
#include <stdio.h>
int main(int argc, char** argv) {
  int rank, size;
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  printf("rank %d size %d\n", rank, size);
  MPI_Finalize();
  return 0;
}
EOF
mpicc -o "$A_DIR/hello" "$A_DIR/hello.c" || fail "mpicc failed"
out=$(cd "$A_DIR" && timeout 120 srun --mpi=pmix -n 2 ./hello 2>&1) || fail "srun failed: $out"
for r in 0 1; do
  grep -qx "rank $r size 2" <<<"$out" || fail "rank $r did not report size 2; output: $out"
done
part_end

# ---- (b) external requeue mid-run ----------------------------------------------------------------
part_begin "b (scontrol requeue)"
B_DIR="$WORK/b"
mkdir -p "$B_DIR"
render_job "$B_DIR/job.sbatch" requeue "$B_DIR" 120 5 --nodes=1 --ntasks-per-node=1
B_ID=$(FAKE_DIR="$B_DIR" FAKE_STEPS=16 FAKE_STEP_S=0.5 sbatch --parsable "$B_DIR/job.sbatch")
B_ID=${B_ID%%;*}
counter_at_least() { [[ $(cat "$1/counter" 2>/dev/null || echo 0) -ge $2 ]]; }
wait_until 60 "job $B_ID trainer to reach step 4" counter_at_least "$B_DIR" 4
scontrol requeue "$B_ID" || fail "scontrol requeue $B_ID failed"
say "job $B_ID requeued at step $(cat "$B_DIR/counter")"
state=$(wait_job_done "$B_ID" 90)
[[ $state == COMPLETED ]] || fail "job $B_ID ended $state"
[[ $(job_field "$B_ID" ExitCode) == 0:0 ]] || fail "job $B_ID exit code $(job_field "$B_ID" ExitCode)"
restarts=$(job_field "$B_ID" Restarts)
((restarts >= 1)) || fail "job $B_ID Restarts=$restarts, expected >= 1"
mapfile -t starts < <(event_values "$B_DIR/events" start counter)
mapfile -t seen < <(event_values "$B_DIR/events" start restart)
((${#starts[@]} >= 2)) || fail "trainer started ${#starts[@]} times, expected >= 2"
((starts[0] == 0)) || fail "first run started at step ${starts[0]}"
((starts[1] >= 4)) || fail "requeued run restarted from step ${starts[1]}, not where it left off"
if ! [[ ${seen[-1]} =~ ^[0-9]+$ ]] || ((seen[-1] < 1)); then
  fail "trainer saw SLURM_RESTART_COUNT=${seen[-1]} after a requeue"
fi
[[ $(cat "$B_DIR/counter") == 16 ]] || fail "final counter $(cat "$B_DIR/counter"), expected 16"
grep -q "prepare .*config=$B_DIR/sweep.yaml .*store=$B_DIR/store.sqlite .*sweep=requeue" \
  "$B_DIR/events" || fail "prepare did not see the job's config/store/sweep"
grep -q 'sweep complete' "$B_DIR"/slurm-requeue-"$B_ID".out || fail "no 'sweep complete' in job log"
say "job $B_ID: runs started at steps ${starts[*]}, Restarts=$restarts, trainer saw restart ${seen[*]}"
part_end

# ---- (e) requeue refused: resubmit -----------------------------------------------------------------
part_begin "e (resubmit fallback)"
E_DIR="$WORK/e"
mkdir -p "$E_DIR"
render_job "$E_DIR/job.sbatch" resubmit "$E_DIR" 120 5 --nodes=1 --ntasks-per-node=1
# --no-requeue on the command line overrides the template's --requeue: scontrol requeue is
# refused ("Requested operation is presently disabled") and the template must resubmit.
E_ID=$(FAKE_DIR="$E_DIR" FAKE_STEPS=6 FAKE_STEP_S=0.2 FAKE_EXIT75_AT=3 \
  sbatch --parsable --no-requeue "$E_DIR/job.sbatch")
E_ID=${E_ID%%;*}
state=$(wait_job_done "$E_ID" 60)
[[ $state == COMPLETED ]] || fail "job $E_ID ended $state (the resubmitting run should exit 0)"
wait_until 30 "resubmit record in $E_DIR/slurm-resubmits.txt" test -s "$E_DIR/slurm-resubmits.txt"
read -r old new <"$E_DIR/slurm-resubmits.txt"
[[ $old == "$E_ID" && $new =~ ^[0-9]+$ ]] || fail "bad resubmit record: $old $new"
state=$(wait_job_done "$new" 60)
[[ $state == COMPLETED ]] || fail "resubmitted job $new ended $state"
mapfile -t starts < <(event_values "$E_DIR/events" start counter)
mapfile -t seen < <(event_values "$E_DIR/events" start restart)
[[ ${starts[*]} == "0 3" ]] || fail "runs started at steps '${starts[*]}', expected '0 3'"
[[ ${seen[*]} == "0 1" ]] || fail "trainer saw SLURM_RESTART_COUNT '${seen[*]}', expected '0 1'"
[[ $(cat "$E_DIR/counter") == 6 ]] || fail "final counter $(cat "$E_DIR/counter"), expected 6"
say "job $E_ID resubmitted itself as job $new, which completed"
part_end

# ---- (c) wait for the warning-signal job ----------------------------------------------------------
part_begin "c (USR2 before time limit)"
state=$(wait_job_done "$C_ID" 200)
say "job $C_ID ended $state $((SECONDS - C_T0))s after submission"
[[ $state == COMPLETED ]] || fail "job $C_ID ended $state"
[[ $(job_field "$C_ID" ExitCode) == 0:0 ]] || fail "job $C_ID exit code $(job_field "$C_ID" ExitCode)"
grep -q ' usr2 ' "$C_DIR/events" || fail "the trainer never got USR2"
grep -q 'USR2 (time limit or preemption near) during train' "$C_DIR"/slurm-warn-"$C_ID".out ||
  fail "the batch shell did not log the USR2 it forwarded"
grep -q 'requeued (restart 1)' "$C_DIR"/slurm-warn-"$C_ID".out || fail "the job did not requeue itself"
mapfile -t starts < <(event_values "$C_DIR/events" start counter)
mapfile -t seen < <(event_values "$C_DIR/events" start restart)
usr2_at=$(event_values "$C_DIR/events" usr2 counter | head -n1)
((starts[1] == usr2_at && usr2_at > 0)) ||
  fail "second run started at step ${starts[1]}, first run checkpointed at $usr2_at"
[[ $(cat "$C_DIR/counter") == 128 ]] || fail "final counter $(cat "$C_DIR/counter"), expected 128"
restarts=$(job_field "$C_ID" Restarts)
say "job $C_ID: USR2 at step $usr2_at, runs started at steps ${starts[*]}, Restarts=$restarts"
# Completing in the second run is what the timing above guarantees; more runs would mean the
# warning arrives later than Slurm 22.05 sends it.
[[ $restarts == 1 && ${#starts[@]} == 2 ]] ||
  fail "expected exactly one requeue, got Restarts=$restarts and ${#starts[@]} runs"
[[ ${seen[*]} == "0 1" ]] || fail "trainer saw SLURM_RESTART_COUNT '${seen[*]}', expected '0 1'"
part_end

# ---- (d) stop ----------------------------------------------------------------------------------------
part_begin "d (stop.sh)"
"$REVSWEEP_SRC/deploy/local-slurm/stop.sh" "$STATE_DIR" || fail "stop.sh failed"
STOPPED=1
"$REVSWEEP_SRC/deploy/local-slurm/stop.sh" "$STATE_DIR" >/dev/null || fail "second stop.sh failed"
left=""
for pid in $(daemon_pids); do
  [[ $preexisting == *" $pid "* ]] || left+=" $pid($(ps -o comm= -p "$pid"))"
done
[[ -z $left ]] || fail "processes left after stop.sh:$left"
part_end

say "all parts passed in $((SECONDS - T0))s: ${PART_TIMES[*]/%/;}"
