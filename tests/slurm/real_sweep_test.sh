#!/usr/bin/env bash
# Slurm tier, real binaries: `revsweep submit` / `status` / `cancel` and `revsweep-train` on a
# one-node cluster started with deploy/local-slurm/start.sh, training tiny models (nano/micro,
# 4 names per subset, 3+2 templates). Parts:
#   1. start the cluster in a temp dir (the EXIT trap stops it and kills anything left)
#   2. submit a 4-trial sweep; it completes: every trial done once, status shows the job, exit 0
#   3. `scontrol requeue` mid-trial: the interrupted attempts are recorded (preempted or lost,
#      never done), the job restarts (Restarts >= 1, attempts.slurm_restart >= 1) and the trials
#      resume from their checkpoints; every trial done once
#   4. time limit: --time 2 with --signal-before 70 (USR2 20-50 s into each run); a sweep that
#      needs longer than one warning interval is preempted with a checkpoint (exit 75), the job
#      requeues itself and finishes in a later run, resuming from the checkpointed step
#   5. `revsweep cancel` on a running job: CANCELLED, running attempts end preempted/lost, trials
#      back to pending, `revsweep status` still works, and a new submit finishes them from their
#      checkpoints
#   6. stop.sh: no slurmctld, slurmd, slurmstepd or munged of this cluster is left
# Parts 3-5 size their sweeps from the training speed measured just before (parts 2 and 3), so a
# faster or slower machine still interrupts trials mid-way (the machine is shared).
# Needs root, slurm-wlm, munge, openmpi, sqlite3 and a build with revsweep-train (libtorch).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REVSWEEP_SRC=${REVSWEEP_SRC:-$(cd "$HERE/../.." && pwd)}
REVSWEEP_BIN=${REVSWEEP_BIN:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build/bin}
# shellcheck source=tests/slurm/lib.bash
source "$HERE/lib.bash"
# shellcheck source=tests/slurm/real_lib.bash
source "$HERE/real_lib.bash"
T0=$SECONDS
PART_TIMES=()
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}

[[ $(id -u) -eq 0 ]] || { echo "real_sweep_test: needs root (exclude with ctest -LE slurm)" >&2; exit 1; }
for b in slurmctld slurmd munged sbatch srun scontrol squeue sqlite3; do
  command -v "$b" >/dev/null ||
    { echo "real_sweep_test: $b missing; run deploy/install-deps.sh" >&2; exit 1; }
done
for b in revsweep revsweep-train; do
  [[ -x $REVSWEEP_BIN/$b ]] ||
    { echo "real_sweep_test: $REVSWEEP_BIN/$b missing (set REVSWEEP_BIN; needs a libtorch build)" >&2; exit 1; }
done

T=$(mktemp -d /tmp/revsweep-real-sweep.XXXXXX)
# mktemp makes it 0700; munged refuses a socket below a directory others cannot search.
chmod 0755 "$T"
STATE_DIR="$T/slurm"
WORK="$T/work"
RUN_ROOT="$T/runs"
STORE="$T/store.db"
CKPT_STEPS=20
mkdir -p "$WORK"
export SLURM_CONF="$STATE_DIR/slurm.conf"
STOPPED=0
cleanup() {
  local rc=$?
  if ((!STOPPED)); then "$REVSWEEP_SRC/deploy/local-slurm/stop.sh" "$STATE_DIR" >/dev/null 2>&1 || true; fi
  kill_leftovers
  local left
  left=$(our_daemons)
  if [[ -n $left ]]; then
    echo "[slurm-test] FAIL: daemons of this cluster still running after cleanup: $left" >&2
    rc=1
  fi
  if ((rc == 0)); then rm -rf "$T"; else echo "[slurm-test] state kept in $T" >&2; fi
  exit "$rc"
}
trap cleanup EXIT
# Interrupted (Ctrl-C, ctest timeout): exit through the EXIT trap, which stops the cluster.
trap 'exit 130' INT
trap 'exit 143' TERM

SUBMIT=(--partition debug --ntasks-per-node 2 --cpus-per-task 1)

# ---- 1. start ------------------------------------------------------------------------------------
part_begin "1 (start cluster)"
# Ports of its own, so a developer's cluster (or another test's) on the defaults keeps running; a
# port taken meanwhile by someone else makes start.sh fail at once, so try a few.
started=0
for try in 1 2 3; do
  export REVSWEEP_SLURMCTLD_PORT=$((17000 + (RANDOM % 1000) * 2))
  export REVSWEEP_SLURMD_PORT=$((REVSWEEP_SLURMCTLD_PORT + 1))
  if out=$("$REVSWEEP_SRC/deploy/local-slurm/start.sh" "$STATE_DIR" 2>&1); then
    started=1
    break
  fi
  say "start.sh failed (try $try, ports $REVSWEEP_SLURMCTLD_PORT/$REVSWEEP_SLURMD_PORT): $(tail -n 3 <<<"$out")"
done
((started)) || fail "could not start the local cluster: $out"
grep -qx "export SLURM_CONF=$SLURM_CONF" <<<"$out" || fail "start.sh printed no export line: $out"
say "cluster up (ports $REVSWEEP_SLURMCTLD_PORT/$REVSWEEP_SLURMD_PORT, state $STATE_DIR)"
part_end

# ---- 2. a small sweep, start to finish ---------------------------------------------------------------
part_begin "2 (submit, complete)"
# 40 epochs (240 steps): long enough to measure this machine's training speed, which sizes part 3.
write_config "$WORK/basic.yaml" rs_basic 40 "1, 2" "model.size: [nano, micro]"
submit_sweep rs_basic "$WORK/basic.yaml" "${SUBMIT[@]}" --time 10
B_ID=$SUBMITTED_ID
wait_sweep_job rs_basic "$B_ID" 150
[[ $JOB_FINAL == COMPLETED ]] || fail "job $B_ID ended $JOB_FINAL"
[[ $(job_field "$B_ID" ExitCode) == 0:0 ]] || fail "job $B_ID exit code $(job_field "$B_ID" ExitCode)"
[[ $(sweep_trial_count rs_basic) == 4 ]] || fail "rs_basic has $(sweep_trial_count rs_basic) trials, expected 4"
assert_done_once rs_basic
n=$(sql "SELECT count(*) FROM attempts a JOIN sweep_trials st ON st.trial_id = a.trial_id
         WHERE st.sweep='rs_basic'")
((n == 4)) || fail "rs_basic: $n attempts for 4 trials (nothing should have been retried)"
n=$(sql "SELECT count(*) FROM attempts a JOIN sweep_trials st ON st.trial_id = a.trial_id
         WHERE st.sweep='rs_basic' AND (a.job_id != '$B_ID' OR a.slurm_restart != 0)")
((n == 0)) || fail "rs_basic: $n attempts not from job $B_ID's first run"
out=$("$REVSWEEP_BIN/revsweep" status rs_basic --store "$STORE" 2>&1) || fail "revsweep status failed: $out"
grep -Eq "^$B_ID +slurm +COMPLETED" <<<"$out" || fail "revsweep status does not show job $B_ID COMPLETED: $out"
grep -q "4 done" <<<"$out" || fail "revsweep status does not count 4 done trials: $out"
out=$("$REVSWEEP_BIN/revsweep" status rs_basic --store "$STORE" --json 2>&1) || fail "revsweep status --json failed: $out"
grep -Eq "\"job_id\": *\"$B_ID\"" <<<"$out" || fail "revsweep status --json does not list job $B_ID: $out"
grep -q 'sweep complete' "$(job_log rs_basic "$B_ID")" || fail "no 'sweep complete' in the job log"
# Training speed now (two trials side by side, as in parts 3-5; the fastest is a nano trial).
RATE0=$(sql "SELECT printf('%.1f', max(s.value / t.value)) FROM results s JOIN results t
             ON t.trial_id = s.trial_id AND t.key = 'train_seconds' JOIN sweep_trials st
             ON st.trial_id = s.trial_id WHERE st.sweep='rs_basic' AND s.key = 'steps'")
say "job $B_ID: 4 trials done once, exit 0:0; training speed $RATE0 steps/s per trial"
part_end

# ---- 3. scontrol requeue mid-trial ---------------------------------------------------------------------
part_begin "3 (scontrol requeue mid-trial)"
# ~15 s of training per trial at the speed measured in part 2 (at least 40 epochs = 240 steps); the
# requeue lands a little after step 20, long before the end even if the machine speeds up 5x.
R_EPOCHS=$(sized_epochs "$RATE0" 15)
write_config "$WORK/requeue.yaml" rs_requeue "$R_EPOCHS" "10, 11"
say "rs_requeue: $R_EPOCHS epochs ($((R_EPOCHS * 6)) steps per trial)"
submit_sweep rs_requeue "$WORK/requeue.yaml" "${SUBMIT[@]}" --time 10 --store "$STORE"
R_ID=$SUBMITTED_ID
wait_until 120 "a trial of job $R_ID past step $CKPT_STEPS with a checkpoint" \
  trial_past_checkpoint rs_requeue "$CKPT_STEPS"
R_TRIAL=$PAST_TRIAL R_CKPT=$PAST_CKPT
[[ $(job_state "$R_ID") == RUNNING ]] || fail "job $R_ID is $(job_state "$R_ID"), expected RUNNING"
scontrol requeue "$R_ID" || fail "scontrol requeue $R_ID failed"
t_req=$SECONDS
say "requeued job $R_ID: trial $R_TRIAL at step $PAST_STEP, newest checkpoint at step $R_CKPT"
R_LOG=$(job_log rs_requeue "$R_ID")
restarted() { grep -q "start on .*restart 1)" "$R_LOG" 2>/dev/null; }
wait_until 90 "job $R_ID to start again after the requeue" restarted
say "job $R_ID running again $((SECONDS - t_req))s after scontrol requeue"
wait_sweep_job rs_requeue "$R_ID" 180
[[ $JOB_FINAL == COMPLETED ]] || fail "job $R_ID ended $JOB_FINAL"
[[ $(job_field "$R_ID" ExitCode) == 0:0 ]] || fail "job $R_ID exit code $(job_field "$R_ID" ExitCode)"
restarts=$(job_field "$R_ID" Restarts)
((restarts >= 1)) || fail "job $R_ID Restarts=$restarts after scontrol requeue"
grep -q 'DUE TO JOB REQUEUE' "$R_LOG" || fail "the job log has no 'DUE TO JOB REQUEUE'"
assert_done_once rs_requeue
assert_resume_chain rs_requeue
# Both trials were mid-training when the job was requeued: their first-run attempts must not be
# 'done', and each finished in a later run.
bad=$(sql "SELECT a.id || ':' || a.outcome FROM attempts a JOIN sweep_trials st ON st.trial_id = a.trial_id
           WHERE st.sweep='rs_requeue' AND a.slurm_restart = 0 AND a.outcome NOT IN ('preempted','lost')")
[[ -z $bad ]] || fail "attempts of the interrupted run ended other than preempted/lost: $bad"
bad=$(sql "SELECT a.id FROM attempts a JOIN sweep_trials st ON st.trial_id = a.trial_id
           WHERE st.sweep='rs_requeue' AND a.outcome = 'done' AND (a.slurm_restart < 1 OR a.job_id != '$R_ID')")
[[ -z $bad ]] || fail "'done' attempts not from the requeued run of job $R_ID: $bad"
IFS='|' read -r i_id i_outcome i_end i_msg < <(sql "SELECT id, outcome, end_step, message FROM attempts
  WHERE trial_id='$R_TRIAL' AND job_id='$R_ID' AND slurm_restart=0 ORDER BY id LIMIT 1") ||
  fail "no first-run attempt of trial $R_TRIAL"
IFS='|' read -r d_id d_restart d_start < <(sql "SELECT id, slurm_restart, start_step FROM attempts
  WHERE trial_id='$R_TRIAL' AND outcome='done'") || fail "trial $R_TRIAL has no done attempt"
((d_id > i_id && d_restart >= 1)) || fail "trial $R_TRIAL: done attempt $d_id (restart $d_restart) is not a later run's"
((d_start >= R_CKPT && d_start > 0)) ||
  fail "trial $R_TRIAL resumed at step $d_start, but a checkpoint at step $R_CKPT existed before the requeue"
if [[ $i_outcome == preempted ]]; then
  ((i_end >= R_CKPT && d_start == i_end)) ||
    fail "trial $R_TRIAL: preempted at step $i_end, resumed at step $d_start"
fi
say "trial $R_TRIAL: attempt $i_id $i_outcome ('$i_msg'), attempt $d_id (restart $d_restart) resumed at step $d_start; Restarts=$restarts"
# Training speed of this machine now (two trials side by side, as in part 4): sizes part 4.
RATE=$(sql "SELECT printf('%.1f', max(s.value / t.value)) FROM results s JOIN results t
            ON t.trial_id = s.trial_id AND t.key = 'train_seconds' JOIN sweep_trials st
            ON st.trial_id = s.trial_id WHERE st.sweep='rs_requeue' AND s.key = 'steps'")
say "training speed: $RATE steps/s per trial"
part_end

# ---- 4. time limit: warning, checkpoint, exit 75, self-requeue -------------------------------------------
part_begin "4 (time limit: USR2, requeue, resume)"
# slurmctld checks limits every 30 s and sends the warning once now + S + 30 s >= end: with
# --time 2 and S = 70 that is 20-50 s into each run (70-100 s before the limit, so a slow
# checkpoint can never hit the limit). A requeued run starts ~11 s after the warning and is warned
# ~60 s after the previous warning, i.e. ~45 s in. The sweep needs ~65 s of training per trial
# at the speed measured in part 3: always more than the first run gives (<= ~48 s), usually less
# than two runs give; a third run only costs time. (The cap only guards against a nonsense rate:
# 97 steps/s was measured here, i.e. ~1050 epochs.)
L_EPOCHS=$(sized_epochs "$RATE" 65 120)
write_config "$WORK/limit.yaml" rs_limit "$L_EPOCHS" "20, 21"
say "rs_limit: $L_EPOCHS epochs ($((L_EPOCHS * 6)) steps per trial)"
submit_sweep rs_limit "$WORK/limit.yaml" "${SUBMIT[@]}" --time 2 --signal-before 70 --max-requeues 6
L_ID=$SUBMITTED_ID
wait_sweep_job rs_limit "$L_ID" 420
L_LOG=$(job_log rs_limit "$L_ID")
[[ $JOB_FINAL == COMPLETED ]] || fail "job $L_ID ended $JOB_FINAL"
[[ $(job_field "$L_ID" ExitCode) == 0:0 ]] || fail "job $L_ID exit code $(job_field "$L_ID" ExitCode)"
restarts=$(job_field "$L_ID" Restarts)
((restarts >= 1)) || fail "job $L_ID was never requeued (Restarts=$restarts): the sweep finished before the warning"
grep -q 'USR2 (time limit or preemption near) during train' "$L_LOG" || fail "the batch shell never forwarded USR2 to training"
grep -q 'trainer checkpointed and asked to be requeued' "$L_LOG" || fail "the trainer did not exit 75 after the warning"
grep -q 'requeued (restart 1)' "$L_LOG" || fail "the job did not requeue itself"
grep -q 'sweep complete' "$L_LOG" || fail "no 'sweep complete' in the job log"
assert_done_once rs_limit
assert_resume_chain rs_limit
IFS='|' read -r p_id p_trial p_end p_msg < <(sql "SELECT a.id, a.trial_id, a.end_step, a.message FROM attempts a
  JOIN sweep_trials st ON st.trial_id = a.trial_id WHERE st.sweep='rs_limit' AND a.outcome='preempted'
  AND a.end_step > 0 AND a.slurm_restart = 0 AND a.job_id='$L_ID' ORDER BY a.id LIMIT 1") ||
  fail "no attempt of the first run was preempted with a checkpoint (end_step > 0)"
IFS='|' read -r n_id n_restart n_start < <(sql "SELECT id, slurm_restart, start_step FROM attempts
  WHERE trial_id='$p_trial' AND id > $p_id ORDER BY id LIMIT 1") || fail "trial $p_trial never ran again"
((n_restart >= 1 && n_start == p_end)) ||
  fail "trial $p_trial: preempted at step $p_end, next attempt $n_id (restart $n_restart) started at step $n_start"
[[ $p_msg == "preempted: checkpoint at step $p_end" ]] || fail "unexpected preemption message '$p_msg'"
t_start=$(log_time "$L_LOG" "start on .*restart 0)")
t_warn=$(log_time "$L_LOG" "USR2 .* during train")
warn_after=$(($(date -d "$t_warn" +%s) - $(date -d "$t_start" +%s)))
say "job $L_ID: USR2 ${warn_after}s into the first run; trial $p_trial preempted at step $p_end, resumed at step $n_start in restart $n_restart; $((restarts + 1)) runs"
part_end

# ---- 5. revsweep cancel on a running job --------------------------------------------------------------------
part_begin "5 (revsweep cancel)"
# ~20 s of training per trial at part 3's speed: the cancel lands a little after step 20, while
# both trials are still running.
C_EPOCHS=$(sized_epochs "$RATE" 20)
write_config "$WORK/cancel.yaml" rs_cancel "$C_EPOCHS" "30, 31"
say "rs_cancel: $C_EPOCHS epochs ($((C_EPOCHS * 6)) steps per trial)"
submit_sweep rs_cancel "$WORK/cancel.yaml" "${SUBMIT[@]}" --time 10
C_ID=$SUBMITTED_ID
wait_until 120 "a trial of job $C_ID past step $CKPT_STEPS with a checkpoint" \
  trial_past_checkpoint rs_cancel "$CKPT_STEPS"
[[ $(job_state "$C_ID") == RUNNING ]] || fail "job $C_ID is $(job_state "$C_ID"), expected RUNNING"
out=$("$REVSWEEP_BIN/revsweep" cancel rs_cancel --store "$STORE" 2>&1) || fail "revsweep cancel failed: $out"
grep -q "cancelled 1 job(s) of sweep 'rs_cancel'" <<<"$out" || fail "unexpected cancel output: $out"
t_cancel=$SECONDS
cancelled() {
  local s
  s=$(job_state "$C_ID")
  [[ -z $s || $s == CANCELLED ]]
}
wait_until 60 "job $C_ID to be CANCELLED or gone" cancelled
no_running_attempts() {
  [[ $(sql "SELECT count(*) FROM attempts a JOIN sweep_trials st ON st.trial_id = a.trial_id
            WHERE st.sweep='rs_cancel' AND a.outcome='running'") == 0 ]]
}
wait_until 30 "the cancelled job's running attempts to be closed" no_running_attempts
trainer_gone() { ! pgrep -f -- "revsweep-train --store $STORE --sweep rs_cancel" >/dev/null; }
wait_until 30 "the cancelled job's trainers to exit" trainer_gone
say "job $C_ID $(job_state "$C_ID") $((SECONDS - t_cancel))s after revsweep cancel"
counts=$(sweep_counts rs_cancel)
[[ $counts == "2 0 0 0" ]] || fail "after cancel, trial states (pending running done failed) = $counts, expected 2 0 0 0"
bad=$(sql "SELECT a.id || ':' || a.outcome FROM attempts a JOIN sweep_trials st ON st.trial_id = a.trial_id
           WHERE st.sweep='rs_cancel' AND a.outcome NOT IN ('preempted','lost')")
[[ -z $bad ]] || fail "attempts of the cancelled job ended other than preempted/lost: $bad"
[[ $(sql "SELECT count(*) FROM results r JOIN sweep_trials st ON st.trial_id = r.trial_id
          WHERE st.sweep='rs_cancel'") == 0 ]] || fail "results recorded for cancelled trials"
while IFS='|' read -r a_trial a_end; do
  [[ -f $(printf '%s/rs_cancel/trials/%s/checkpoints/ckpt-%012d.rsck' "$RUN_ROOT" "$a_trial" "$a_end") ]] ||
    fail "trial $a_trial preempted at step $a_end, but that checkpoint is not on disk"
done < <(sql "SELECT a.trial_id, a.end_step FROM attempts a JOIN sweep_trials st ON st.trial_id = a.trial_id
              WHERE st.sweep='rs_cancel' AND a.outcome='preempted'")
say "after cancel: $(sql "SELECT group_concat(a.outcome || '@' || a.end_step, ' ') FROM attempts a
  JOIN sweep_trials st ON st.trial_id = a.trial_id WHERE st.sweep='rs_cancel'"), trials pending"
out=$("$REVSWEEP_BIN/revsweep" status rs_cancel --store "$STORE" 2>&1) || fail "revsweep status after cancel failed: $out"
grep -Eq "^$C_ID +slurm +CANCELLED" <<<"$out" || fail "revsweep status does not show job $C_ID CANCELLED: $out"
out=$("$REVSWEEP_BIN/revsweep" status rs_cancel --store "$STORE" --json 2>&1) ||
  fail "revsweep status --json after cancel failed: $out"
grep -Eq "\"job_id\": *\"$C_ID\"" <<<"$out" || fail "revsweep status --json does not list job $C_ID: $out"
# Not lost: a new submit picks the trials up from their checkpoints.
submit_sweep rs_cancel "$WORK/cancel.yaml" "${SUBMIT[@]}" --time 10
C2_ID=$SUBMITTED_ID
wait_sweep_job rs_cancel "$C2_ID" 180
[[ $JOB_FINAL == COMPLETED ]] || fail "resubmitted job $C2_ID ended $JOB_FINAL"
[[ $(job_field "$C2_ID" ExitCode) == 0:0 ]] || fail "job $C2_ID exit code $(job_field "$C2_ID" ExitCode)"
assert_done_once rs_cancel
assert_resume_chain rs_cancel
bad=$(sql "SELECT a.id FROM attempts a JOIN sweep_trials st ON st.trial_id = a.trial_id
           WHERE st.sweep='rs_cancel' AND a.outcome='done' AND (a.job_id != '$C2_ID' OR a.start_step <= 0)")
[[ -z $bad ]] || fail "done attempts of rs_cancel not resumed from a checkpoint by job $C2_ID: $bad"
say "job $C2_ID finished the cancelled trials from their checkpoints"
part_end

# ---- 6. stop -------------------------------------------------------------------------------------------------
part_begin "6 (stop, nothing left)"
"$REVSWEEP_SRC/deploy/local-slurm/stop.sh" "$STATE_DIR" || fail "stop.sh failed"
STOPPED=1
left=$(our_daemons)
[[ -z $left ]] || fail "daemons of this cluster left after stop.sh: $left"
left=$(our_pids | tr '\n' ' ')
[[ -z ${left// /} ]] || fail "processes of this test left after stop.sh: $left"
part_end

say "all parts passed in $((SECONDS - T0))s: ${PART_TIMES[*]/%/;}"
echo "PASS real_sweep_test ($((SECONDS - T0))s)"
