#!/usr/bin/env bash
# Slurm tier, real binaries: `revsweep submit` / `status` / `cancel` and `revsweep-train` on a
# one-node cluster started with deploy/local-slurm/start.sh, training tiny models (nano/micro,
# 4 names per subset, 3+2 templates). Parts:
#   1. start the cluster in a temp dir (the EXIT trap stops it and kills anything left)
#   2. submit a 4-trial sweep; it completes: every trial done once, status shows the job, exit 0
#   3. `scontrol requeue` mid-trial: the interrupted attempts are recorded (preempted or lost,
#      never done), the job restarts (Restarts = 1, attempts.slurm_restart = 1) and the trials
#      resume from their checkpoints; every trial done once
#   4. time limit: Slurm's warning (--signal-before, USR2) reaches both trainer ranks
#      mid-trial, they checkpoint and exit 75, the job requeues itself (Restarts = 1) and
#      finishes in the next run, resuming from the checkpointed step
#   5. `revsweep cancel` on a running job: CANCELLED, running attempts end preempted/lost, trials
#      back to pending, `revsweep status` still works, and a new submit finishes them from their
#      checkpoints
#   6. stop.sh: no slurmctld, slurmd, slurmstepd or munged of this cluster is left
# No timing windows, whatever the machine's speed or load: in parts 3-5 both trials pause at
# step PAUSE_STEP (train.fault_pause_dir, worker/fault_pause.h), after their checkpoint at step
# CKPT_STEPS, and the test requeues, warns or cancels while they wait there. In part 4 the test
# makes slurmctld send the job's own warning at that moment by lowering its time limit
# (warn_job_now in lib.bash; slurmctld checks limits every 30 s), and holds the job script
# before it requeues itself (REVSWEEP_TEST_HOLD_DIR, see the job template) to raise the limit
# again, so the next run is not warned as well. Only deadlines remain, generous ones.
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
# 60-step trials (10 epochs of 6 steps): checkpoints at steps 20 and 40; parts 3-5 pause at 25.
EPOCHS=10
PAUSE_STEP=25
mkdir -p "$WORK"
export SLURM_CONF="$STATE_DIR/slurm.conf"
install_cluster_cleanup

SUBMIT=(--partition debug --ntasks-per-node 2 --cpus-per-task 1)

# ---- 1. start ------------------------------------------------------------------------------------
part_begin "1 (start cluster)"
start_cluster 17000
say "cluster up (ports $REVSWEEP_SLURMCTLD_PORT/$REVSWEEP_SLURMD_PORT, state $STATE_DIR)"
part_end

# ---- 2. a small sweep, start to finish ---------------------------------------------------------------
part_begin "2 (submit, complete)"
write_config "$WORK/basic.yaml" rs_basic "$EPOCHS" "1, 2" "model.size: [nano, micro]"
submit_sweep rs_basic "$WORK/basic.yaml" "${SUBMIT[@]}" --time 10
B_ID=$SUBMITTED_ID
wait_sweep_job rs_basic "$B_ID" 300
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
say "job $B_ID: 4 trials done once, exit 0:0"
part_end

# Parts 3-5 submit a 2-trial sweep whose trials pause at PAUSE_STEP (control file
# pause.step$PAUSE_STEP in the part's pause dir), then wait until both ranks are paused there:
# both trials are mid-training, each with its checkpoint at step CKPT_STEPS on disk.
#   wait_paused SWEEP JOB DIR: sets PAUSED_PIDS (the paused ranks) and PAUSED_TRIALS.
wait_paused() {
  local sweep=$1 id=$2 dir=$3 trial ck
  # Slow only when the machine is: the job's first run prepares the data and starts libtorch.
  wait_markers "$dir" 'paused.*' 2 600 "$id"
  mapfile -t PAUSED_PIDS < <(marker_pids "$dir" 'paused.*')
  mapfile -t PAUSED_TRIALS < <(paused_trials "$dir")
  [[ ${#PAUSED_PIDS[@]} == 2 && ${#PAUSED_TRIALS[@]} == 2 && ${PAUSED_TRIALS[0]} != "${PAUSED_TRIALS[1]}" ]] ||
    fail "expected the 2 trials of $sweep paused on 2 ranks, got pids '${PAUSED_PIDS[*]}', trials '${PAUSED_TRIALS[*]}'"
  [[ $(sweep_counts "$sweep") == "0 2 0 0" ]] || fail "$sweep: trial states $(sweep_counts "$sweep"), expected 0 2 0 0"
  for trial in "${PAUSED_TRIALS[@]}"; do
    ck=$(newest_ckpt_step "$sweep" "$trial")
    ((ck == CKPT_STEPS)) || fail "trial $trial paused at step $PAUSE_STEP with newest checkpoint $ck, expected $CKPT_STEPS"
  done
  [[ $(job_state "$id") == RUNNING ]] || fail "job $id is $(job_state "$id"), expected RUNNING"
  say "job $id: trials ${PAUSED_TRIALS[*]} paused at step $PAUSE_STEP (ranks' pids ${PAUSED_PIDS[*]})"
}

# ---- 3. scontrol requeue mid-trial ---------------------------------------------------------------------
part_begin "3 (scontrol requeue mid-trial)"
R_CTL="$T/ctl/requeue"
mkdir -p "$R_CTL"
touch "$R_CTL/pause.step$PAUSE_STEP"
write_config "$WORK/requeue.yaml" rs_requeue "$EPOCHS" "10, 11" "" "$R_CTL"
submit_sweep rs_requeue "$WORK/requeue.yaml" "${SUBMIT[@]}" --time 10 --store "$STORE"
R_ID=$SUBMITTED_ID
wait_paused rs_requeue "$R_ID" "$R_CTL"
scontrol requeue "$R_ID" || fail "scontrol requeue $R_ID failed"
t_req=$SECONDS
# Slurm's SIGTERM ends the paused ranks (they checkpoint first if KillWait allows); only then
# may a trial get past the pause point, in the next run.
wait_until 60 "the paused ranks (pids ${PAUSED_PIDS[*]}) to be gone after the requeue" pids_gone "${PAUSED_PIDS[@]}"
wait_until 30 "job $R_ID to show Restarts >= 1" job_requeued "$R_ID"
rm -f "$R_CTL/pause.step$PAUSE_STEP"
R_LOG=$(job_log rs_requeue "$R_ID")
restarted() { grep -q "start on .*restart 1)" "$R_LOG" 2>/dev/null; }
wait_until 90 "job $R_ID to start again after the requeue" restarted
say "job $R_ID running again $((SECONDS - t_req))s after scontrol requeue"
wait_sweep_job rs_requeue "$R_ID" 300
[[ $JOB_FINAL == COMPLETED ]] || fail "job $R_ID ended $JOB_FINAL"
[[ $(job_field "$R_ID" ExitCode) == 0:0 ]] || fail "job $R_ID exit code $(job_field "$R_ID" ExitCode)"
restarts=$(job_field "$R_ID" Restarts)
[[ $restarts == 1 ]] || fail "job $R_ID Restarts=$restarts after one scontrol requeue, expected 1"
grep -q 'DUE TO JOB REQUEUE' "$R_LOG" || fail "the job log has no 'DUE TO JOB REQUEUE'"
assert_done_once rs_requeue
assert_resume_chain rs_requeue
# Both trials were paused mid-training when the job was requeued: their first-run attempts must
# not be 'done', and each finished in the requeued run.
bad=$(sql "SELECT a.id || ':' || a.outcome FROM attempts a JOIN sweep_trials st ON st.trial_id = a.trial_id
           WHERE st.sweep='rs_requeue' AND a.slurm_restart = 0 AND a.outcome NOT IN ('preempted','lost')")
[[ -z $bad ]] || fail "attempts of the interrupted run ended other than preempted/lost: $bad"
bad=$(sql "SELECT a.id FROM attempts a JOIN sweep_trials st ON st.trial_id = a.trial_id
           WHERE st.sweep='rs_requeue' AND a.outcome = 'done' AND (a.slurm_restart != 1 OR a.job_id != '$R_ID')")
[[ -z $bad ]] || fail "'done' attempts not from the requeued run of job $R_ID: $bad"
# A rank that checkpointed on SIGTERM (preempted) did so at the pause step; one killed before
# it could (lost) resumes from the checkpoint it had before the pause.
for trial in "${PAUSED_TRIALS[@]}"; do
  IFS='|' read -r i_id i_outcome i_end i_msg < <(sql "SELECT id, outcome, end_step, message FROM attempts
    WHERE trial_id='$trial' AND job_id='$R_ID' AND slurm_restart=0 ORDER BY id LIMIT 1") ||
    fail "no first-run attempt of trial $trial"
  IFS='|' read -r d_id d_restart d_start < <(sql "SELECT id, slurm_restart, start_step FROM attempts
    WHERE trial_id='$trial' AND outcome='done'") || fail "trial $trial has no done attempt"
  ((d_id > i_id)) || fail "trial $trial: done attempt $d_id is older than the interrupted attempt $i_id"
  if [[ $i_outcome == preempted ]]; then
    ((i_end == PAUSE_STEP && d_start == PAUSE_STEP)) ||
      fail "trial $trial: preempted at step $i_end, resumed at step $d_start (paused at $PAUSE_STEP)"
  else
    ((d_start == CKPT_STEPS)) ||
      fail "trial $trial: $i_outcome, resumed at step $d_start, but its checkpoint before the requeue was at step $CKPT_STEPS"
  fi
  say "trial $trial: attempt $i_id $i_outcome ('$i_msg'), attempt $d_id (restart $d_restart) resumed at step $d_start"
done
say "job $R_ID: Restarts=$restarts"
part_end

# ---- 4. time limit: warning, checkpoint, exit 75, self-requeue -------------------------------------------
part_begin "4 (time limit: USR2, requeue, resume)"
# A 30-minute limit and a 600 s warning: Slurm would warn 19.5 minutes in, i.e. never during this
# test, until warn_job_now lowers the limit while both trials are paused. The job script then
# stops at hold.requeue before requeueing itself, and the test gives the limit back.
L_CTL="$T/ctl/limit"
L_WARN_S=600
mkdir -p "$L_CTL"
touch "$L_CTL/pause.step$PAUSE_STEP" "$L_CTL/hold.requeue"
write_config "$WORK/limit.yaml" rs_limit "$EPOCHS" "20, 21" "" "$L_CTL"
# The job's environment is the submitter's: the hold dir travels with it.
export REVSWEEP_TEST_HOLD_DIR="$L_CTL"
submit_sweep rs_limit "$WORK/limit.yaml" "${SUBMIT[@]}" --time 30 --signal-before "$L_WARN_S" --max-requeues 3
unset REVSWEEP_TEST_HOLD_DIR
L_ID=$SUBMITTED_ID
L_LOG=$(job_log rs_limit "$L_ID")
wait_paused rs_limit "$L_ID" "$L_CTL"
grep -q 'USR2' "$L_LOG" && fail "job $L_ID was warned before its limit was lowered"
warn_job_now "$L_ID" "$L_WARN_S"
t_warn=$SECONDS
wait_markers "$L_CTL" 'held.requeue.*' 1 300 "$L_ID"
say "job $L_ID: warned, trainers stopped and job script held before requeueing $((SECONDS - t_warn))s after the limit was lowered"
grep -q 'USR2 (time limit or preemption near) during train' "$L_LOG" || fail "the batch shell never forwarded USR2 to training"
grep -q 'trainer checkpointed and asked to be requeued' "$L_LOG" || fail "the trainer did not exit 75 after the warning"
[[ $(job_field "$L_ID" Restarts) == 0 ]] || fail "job $L_ID restarted before its hold was released"
# Both ranks got the warning while paused at PAUSE_STEP: both checkpointed exactly there.
for trial in "${PAUSED_TRIALS[@]}"; do
  IFS='|' read -r p_outcome p_end p_msg < <(sql "SELECT outcome, end_step, message FROM attempts
    WHERE trial_id='$trial' AND job_id='$L_ID' AND slurm_restart=0 ORDER BY id LIMIT 1") ||
    fail "no first-run attempt of trial $trial"
  [[ $p_outcome == preempted && $p_end == "$PAUSE_STEP" ]] ||
    fail "trial $trial: first run ended $p_outcome at step $p_end, expected preempted at step $PAUSE_STEP"
  [[ $p_msg == "preempted: checkpoint at step $p_end" ]] || fail "unexpected preemption message '$p_msg'"
  [[ $(newest_ckpt_step rs_limit "$trial") == "$PAUSE_STEP" ]] ||
    fail "trial $trial: newest checkpoint at step $(newest_ckpt_step rs_limit "$trial"), expected $PAUSE_STEP"
done
# The next run gets the submitted limit back, so it is not warned at once.
scontrol update JobId="$L_ID" TimeLimit=30 || fail "could not restore job $L_ID's time limit"
rm -f "$L_CTL/pause.step$PAUSE_STEP" "$L_CTL/hold.requeue"
wait_sweep_job rs_limit "$L_ID" 300
[[ $JOB_FINAL == COMPLETED ]] || fail "job $L_ID ended $JOB_FINAL"
[[ $(job_field "$L_ID" ExitCode) == 0:0 ]] || fail "job $L_ID exit code $(job_field "$L_ID" ExitCode)"
# What must be true, not a line a killed shell may never write: Slurm counted exactly one
# requeue, and each trial's next attempt ran in restart 1 from the checkpointed step.
restarts=$(job_field "$L_ID" Restarts)
[[ $restarts == 1 ]] || fail "job $L_ID Restarts=$restarts, expected 1 (one self-requeue after the warning)"
grep -q 'requeueing (restart 1)' "$L_LOG" || fail "the job script did not say it was requeueing itself"
grep -q 'sweep complete' "$L_LOG" || fail "no 'sweep complete' in the job log"
assert_done_once rs_limit
assert_resume_chain rs_limit
for trial in "${PAUSED_TRIALS[@]}"; do
  IFS='|' read -r n_id n_outcome n_restart n_start < <(sql "SELECT id, outcome, slurm_restart, start_step
    FROM attempts WHERE trial_id='$trial' AND job_id='$L_ID' AND slurm_restart > 0 ORDER BY id LIMIT 1") ||
    fail "trial $trial never ran again"
  [[ $n_outcome == "done" && $n_restart == 1 && $n_start == "$PAUSE_STEP" ]] ||
    fail "trial $trial: next attempt $n_id ended $n_outcome in restart $n_restart from step $n_start, expected done in restart 1 from step $PAUSE_STEP"
done
say "job $L_ID: trials ${PAUSED_TRIALS[*]} preempted at step $PAUSE_STEP, resumed there in restart 1; Restarts=$restarts"
part_end

# ---- 5. revsweep cancel on a running job --------------------------------------------------------------------
part_begin "5 (revsweep cancel)"
C_CTL="$T/ctl/cancel"
mkdir -p "$C_CTL"
touch "$C_CTL/pause.step$PAUSE_STEP"
write_config "$WORK/cancel.yaml" rs_cancel "$EPOCHS" "30, 31" "" "$C_CTL"
submit_sweep rs_cancel "$WORK/cancel.yaml" "${SUBMIT[@]}" --time 10
C_ID=$SUBMITTED_ID
wait_paused rs_cancel "$C_ID" "$C_CTL"
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
pids_gone "${PAUSED_PIDS[@]}" || fail "paused ranks ${PAUSED_PIDS[*]} still alive after the cancel"
rm -f "$C_CTL/pause.step$PAUSE_STEP"
say "job $C_ID $(job_state "$C_ID") $((SECONDS - t_cancel))s after revsweep cancel"
counts=$(sweep_counts rs_cancel)
[[ $counts == "2 0 0 0" ]] || fail "after cancel, trial states (pending running done failed) = $counts, expected 2 0 0 0"
bad=$(sql "SELECT a.id || ':' || a.outcome FROM attempts a JOIN sweep_trials st ON st.trial_id = a.trial_id
           WHERE st.sweep='rs_cancel' AND a.outcome NOT IN ('preempted','lost')")
[[ -z $bad ]] || fail "attempts of the cancelled job ended other than preempted/lost: $bad"
bad=$(sql "SELECT a.id || ':' || a.end_step FROM attempts a JOIN sweep_trials st ON st.trial_id = a.trial_id
           WHERE st.sweep='rs_cancel' AND a.outcome='preempted' AND a.end_step != $PAUSE_STEP")
[[ -z $bad ]] || fail "attempts preempted while paused at step $PAUSE_STEP recorded another step: $bad"
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
# Not lost: a new submit picks the trials up from their checkpoints (the pause file is gone).
submit_sweep rs_cancel "$WORK/cancel.yaml" "${SUBMIT[@]}" --time 10
C2_ID=$SUBMITTED_ID
wait_sweep_job rs_cancel "$C2_ID" 300
[[ $JOB_FINAL == COMPLETED ]] || fail "resubmitted job $C2_ID ended $JOB_FINAL"
[[ $(job_field "$C2_ID" ExitCode) == 0:0 ]] || fail "job $C2_ID exit code $(job_field "$C2_ID" ExitCode)"
assert_done_once rs_cancel
assert_resume_chain rs_cancel
bad=$(sql "SELECT a.id || '@' || a.start_step FROM attempts a JOIN sweep_trials st ON st.trial_id = a.trial_id
           WHERE st.sweep='rs_cancel' AND a.outcome='done'
           AND (a.job_id != '$C2_ID' OR a.start_step NOT IN ($CKPT_STEPS, $PAUSE_STEP))")
[[ -z $bad ]] || fail "done attempts of rs_cancel not resumed from a checkpoint (step $CKPT_STEPS or $PAUSE_STEP) by job $C2_ID: $bad"
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
