#!/usr/bin/env bash
# Slurm tier: starts a one-node cluster with deploy/local-slurm/start.sh and checks, on it:
#   (a) MPI direct launch: srun --mpi=pmix -n 2 of an MPI hello world (both ranks see size 2)
#   (b) the job template survives an external `scontrol requeue`: the stand-in trainer resumes
#       from its counter, SLURM_RESTART_COUNT is 1, Restarts=1, the job completes
#   (c) time limit warning: USR2 (--signal=B:USR2@T, sent by slurmctld) reaches the trainer
#       through the batch shell and srun, the trainer exits 75, the job requeues itself once
#       (Restarts=1) and completes in the next run, resuming from the step it stopped at
#   (e) requeue refused (--no-requeue): the job resubmits itself and the new job completes
#   (f) a trainer killed by SIGKILL mid-run: the job requeues itself (srun --kill-on-bad-exit,
#       any exit status but 0, 1 and 2) and the next run resumes and completes
#   (d) stop.sh leaves no slurmctld, slurmd, slurmstepd or munged behind
# No timing windows: the stand-in trainer pauses at a chosen step (FAKE_PAUSE_DIR, see
# fake_trainer.bash) and the test acts while it waits there, however fast or busy the machine.
# (c) gets Slurm's own warning at that moment by lowering the job's time limit (warn_job_now in
# lib.bash; slurmctld checks limits every 30 s), and holds the job before it requeues itself
# (REVSWEEP_TEST_HOLD_DIR, see the job template) to raise the limit again, so the next run is
# not warned too. Waiting for slurmctld's check is the longest step, so (c) runs in the
# background (paused, then held) while (a), (b) and (e) run.
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

# ---- (c) submitted first: it waits longest ---------------------------------------------------------
# A 30-minute limit and a 600 s warning: Slurm would warn after 19.5 minutes, i.e. never during
# this test, until warn_job_now lowers the limit while the trainer is paused at step 4.
part_begin "c (submit, pause, warning due)"
C_DIR="$WORK/c"
C_CTL="$C_DIR/ctl"
C_WARN_S=600
mkdir -p "$C_CTL"
touch "$C_CTL/pause.step4" "$C_CTL/hold.requeue"
render_job "$C_DIR/job.sbatch" warn "$C_DIR" "$C_WARN_S" 5 --time=30 --nodes=1 --ntasks-per-node=1
C_ID=$(FAKE_DIR="$C_DIR" FAKE_STEPS=16 FAKE_PAUSE_DIR="$C_CTL" REVSWEEP_TEST_HOLD_DIR="$C_CTL" \
  sbatch --parsable "$C_DIR/job.sbatch") || fail "sbatch failed"
C_ID=${C_ID%%;*}
say "job $C_ID submitted (time limit 30 min, USR2 ${C_WARN_S}s before it)"
wait_markers "$C_CTL" 'paused.*' 1 180 "$C_ID"
[[ $(job_state "$C_ID") == RUNNING ]] || fail "job $C_ID is $(job_state "$C_ID"), expected RUNNING"
grep -q ' usr2 ' "$C_DIR/events" && fail "the trainer got USR2 before the warning was due"
warn_job_now "$C_ID" "$C_WARN_S"
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
B_CTL="$B_DIR/ctl"
mkdir -p "$B_CTL"
touch "$B_CTL/pause.step4"
render_job "$B_DIR/job.sbatch" requeue "$B_DIR" 120 5 --nodes=1 --ntasks-per-node=1
B_ID=$(FAKE_DIR="$B_DIR" FAKE_STEPS=16 FAKE_PAUSE_DIR="$B_CTL" sbatch --parsable "$B_DIR/job.sbatch")
B_ID=${B_ID%%;*}
# The trainer waits at step 4 until pause.step4 goes: the requeue lands there, mid-run.
wait_markers "$B_CTL" 'paused.*' 1 180 "$B_ID"
mapfile -t pids < <(marker_pids "$B_CTL" 'paused.*')
[[ $(job_state "$B_ID") == RUNNING ]] || fail "job $B_ID is $(job_state "$B_ID"), expected RUNNING"
scontrol requeue "$B_ID" || fail "scontrol requeue $B_ID failed"
say "job $B_ID requeued with its trainer (pid ${pids[*]}) paused at step $(cat "$B_DIR/counter")"
# Slurm's SIGTERM ends the paused trainer; only then may a later run get past step 4.
wait_until 60 "the paused trainer (pid ${pids[*]}) to be killed by the requeue" pids_gone "${pids[@]}"
wait_until 30 "job $B_ID to show Restarts >= 1" job_requeued "$B_ID"
rm -f "$B_CTL/pause.step4"
state=$(wait_job_done "$B_ID" 90)
[[ $state == COMPLETED ]] || fail "job $B_ID ended $state"
[[ $(job_field "$B_ID" ExitCode) == 0:0 ]] || fail "job $B_ID exit code $(job_field "$B_ID" ExitCode)"
restarts=$(job_field "$B_ID" Restarts)
[[ $restarts == 1 ]] || fail "job $B_ID Restarts=$restarts, expected 1"
mapfile -t starts < <(event_values "$B_DIR/events" start counter)
mapfile -t seen < <(event_values "$B_DIR/events" start restart)
[[ ${starts[*]} == "0 4" ]] || fail "runs started at steps '${starts[*]}', expected '0 4' (resume where it was requeued)"
[[ ${seen[*]} == "0 1" ]] || fail "trainer saw SLURM_RESTART_COUNT '${seen[*]}', expected '0 1'"
[[ $(cat "$B_DIR/counter") == 16 ]] || fail "final counter $(cat "$B_DIR/counter"), expected 16"
grep -q "prepare .*config=$B_DIR/sweep.yaml .*store=$B_DIR/store.sqlite .*sweep=requeue" \
  "$B_DIR/events" || fail "prepare did not see the job's config/store/sweep"
grep -q 'DUE TO JOB REQUEUE' "$B_DIR"/slurm-requeue-"$B_ID".out || fail "no 'DUE TO JOB REQUEUE' in the job log"
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

# ---- (c) the warning, the self-requeue, the resumed run ----------------------------------------------
part_begin "c (USR2 before time limit)"
C_LOG="$C_DIR/slurm-warn-$C_ID.out"
# slurmctld's next limit check (<= 30 s after warn_job_now) sends USR2; the trainer, paused at
# step 4, exits 75 and the job script stops before requeueing, at the test's hold.
wait_markers "$C_CTL" 'held.requeue.*' 1 300 "$C_ID"
grep -q 'USR2 (time limit or preemption near) during train' "$C_LOG" ||
  fail "the batch shell did not log the USR2 it forwarded"
[[ $(event_values "$C_DIR/events" usr2 counter) == 4 ]] ||
  fail "the trainer did not stop on USR2 at step 4: $(grep -E ' (usr2|exit) ' "$C_DIR/events" | tr '\n' ';')"
grep -q 'trainer checkpointed and asked to be requeued' "$C_LOG" || fail "the job script did not see exit 75"
[[ $(job_field "$C_ID" Restarts) == 0 ]] || fail "job $C_ID restarted before its hold was released"
# The next run gets the submitted limit back, so it is not warned at once.
scontrol update JobId="$C_ID" TimeLimit=30 || fail "could not restore job $C_ID's time limit"
rm -f "$C_CTL/pause.step4" "$C_CTL/hold.requeue"
state=$(wait_job_done "$C_ID" 120)
[[ $state == COMPLETED ]] || fail "job $C_ID ended $state"
[[ $(job_field "$C_ID" ExitCode) == 0:0 ]] || fail "job $C_ID exit code $(job_field "$C_ID" ExitCode)"
# What must be true, not a line a killed shell may never write: Slurm counted one requeue, the
# second run started at restart 1 from the step the first one stopped at.
restarts=$(job_field "$C_ID" Restarts)
mapfile -t starts < <(event_values "$C_DIR/events" start counter)
mapfile -t seen < <(event_values "$C_DIR/events" start restart)
[[ $restarts == 1 && ${#starts[@]} == 2 ]] ||
  fail "expected exactly one requeue, got Restarts=$restarts and ${#starts[@]} runs"
[[ ${starts[*]} == "0 4" ]] || fail "runs started at steps '${starts[*]}', expected '0 4' (checkpoint at step 4)"
[[ ${seen[*]} == "0 1" ]] || fail "trainer saw SLURM_RESTART_COUNT '${seen[*]}', expected '0 1'"
[[ $(cat "$C_DIR/counter") == 16 ]] || fail "final counter $(cat "$C_DIR/counter"), expected 16"
grep -q 'requeueing (restart 1)' "$C_LOG" || fail "the job script did not say it was requeueing itself"
grep -q 'sweep complete' "$C_LOG" || fail "no 'sweep complete' in the job log"
say "job $C_ID: USR2 at step 4, runs started at steps ${starts[*]}, Restarts=$restarts"
part_end

# ---- (f) a crashed trainer: requeued, not left FAILED ----------------------------------------------
part_begin "f (trainer killed: requeue)"
F_DIR="$WORK/f"
mkdir -p "$F_DIR"
render_job "$F_DIR/job.sbatch" crash "$F_DIR" 120 5 --nodes=1 --ntasks-per-node=1
F_ID=$(FAKE_DIR="$F_DIR" FAKE_STEPS=6 FAKE_STEP_S=0.2 FAKE_CRASH_AT=3 \
  sbatch --parsable "$F_DIR/job.sbatch")
F_ID=${F_ID%%;*}
state=$(wait_job_done "$F_ID" 180)
[[ $state == COMPLETED ]] || fail "job $F_ID ended $state (a killed trainer must requeue the job)"
F_LOG="$F_DIR/slurm-crash-$F_ID.out"
grep -q 'trainer crashed or was killed (exit code' "$F_LOG" ||
  fail "the job script did not report the killed trainer: $(grep revsweep-job "$F_LOG" | tr '\n' ';')"
mapfile -t starts < <(event_values "$F_DIR/events" start counter)
[[ $(job_field "$F_ID" Restarts) == 1 ]] || fail "job $F_ID Restarts=$(job_field "$F_ID" Restarts), expected 1"
[[ ${starts[*]} == "0 3" ]] || fail "runs started at steps '${starts[*]}', expected '0 3'"
[[ $(cat "$F_DIR/counter") == 6 ]] || fail "final counter $(cat "$F_DIR/counter"), expected 6"
say "job $F_ID: trainer killed at step 3, requeued, resumed at ${starts[1]} and completed"
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
