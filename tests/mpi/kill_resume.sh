#!/usr/bin/env bash
# mpi tier: hard failures. A 6-trial sweep on 2 ranks is killed with SIGKILL to one
# revsweep-train rank (mpirun then aborts the whole world) and resumed, round after round:
#   round 1: rank 1 (a worker) before the trial it trains has written its first checkpoint
#   round 2: rank 0 (the coordinator's rank: its pid is the attempts' job_id)
#   round 3: rank 1 mid-trial (its trial has a checkpoint written by this attempt)
#   round 4: a random rank after a random number of steps
# then one last resume runs to completion. Every kill lands at an exact step on any machine:
# the ranks pause there (train.fault_pause_dir, tests/lib/test_lib.bash) and the test kills
# the paused process; a round whose pause point is never reached fails. Proves: attempts left
# running by the dead job are recorded as 'lost' and their trials retrained from the newest
# checkpoint; every trial ends done with exactly one 'done' attempt and its results stored
# once; the metrics (acc.*, likelihood.*, loss.final) are bit-identical to an uninterrupted run
# of the same config. Prints the rounds and the restart-to-training time of every resume.
# shellcheck source=tests/lib/test_lib.bash
source "$(dirname "${BASH_SOURCE[0]}")/../lib/test_lib.bash"
tl_begin kill_resume

SWEEP=kill_resume
CFG=(train.epochs=40 train.checkpoint_every_steps=40)
axes() {
  cat <<'EOF'
search:
  grid: {train.lr: [0.002, 0.003, 0.004]}
seeds: [0, 1]
EOF
}
N_TRIALS=6
DB=$T/store.db
TL_DB=$DB

# ---- the uninterrupted reference -------------------------------------------------------------
run_reference "uninterrupted reference sweep (6 trials, 2 ranks)"
say "each trial has $TOTAL_STEPS steps"

PAUSE=$T/pause
write_config "$T/c.yaml" "$SWEEP" "${CFG[@]}" "train.fault_pause_dir=$PAUSE"
axes >>"$T/c.yaml"

# ---- helpers ---------------------------------------------------------------------------------

RUN_PID=""
T_LAUNCH=""
ROUND_LOG=""
launch() {  # launch LOG: `run` the first time, `resume` afterwards (as an operator would)
  ROUND_LOG=$1
  T_LAUNCH=$(now_s)
  if [[ ! -f $DB ]]; then
    tl_bg RUN_PID "$ROUND_LOG" "$RS" run "$T/c.yaml" --ranks 2
  else
    tl_bg RUN_PID "$ROUND_LOG" "$RS" resume "$SWEEP" --store "$DB" --ranks 2
  fi
}

# Waits until a progress row is written after the launch (training is running again);
# prints the restart-to-training time. Returns 1 when the run exited first.
wait_training() {
  local deadline=$((SECONDS + 120)) n
  while ((SECONDS < deadline)); do
    n=$(q "$DB" "SELECT count(*) FROM progress WHERE updated_at > $T_LAUNCH AND step > 0" 2>/dev/null)
    if [[ ${n:-0} -ge 1 ]]; then
      local t_prog t_att
      t_prog=$(q "$DB" "SELECT min(updated_at) FROM progress WHERE updated_at > $T_LAUNCH")
      t_att=$(q "$DB" "SELECT min(started_at) FROM attempts WHERE started_at > $T_LAUNCH")
      # total, and the part until the coordinator claimed its first trial (world is up)
      echo "$(elapsed_between "$T_LAUNCH" "$t_prog") $(elapsed_between "$T_LAUNCH" "$t_att")"
      return 0
    fi
    kill -0 "$RUN_PID" 2>/dev/null || return 1
    sleep 0.05
  done
  fail "no training progress within 120s of launching (log $ROUND_LOG)"
}

progress_step() { q "$DB" "SELECT coalesce(max(step), 0) FROM progress WHERE trial_id='$1' AND updated_at > $T_LAUNCH"; }
trial_state() { q "$DB" "SELECT state FROM trials WHERE id='$1'"; }
ckpt_dir() { echo "$T/runs/$SWEEP/trials/$1/checkpoints"; }
has_progress() { [[ $(q "$DB" "SELECT count(*) FROM progress WHERE trial_id='$1' AND step > 0") -ge 1 ]]; }
pid_gone() { ! kill -0 "$1" 2>/dev/null; }

# record_restart "TOTAL CLAIM": restart-to-training time of one resume, and its first part
# (launch -> the coordinator claims a trial: prepare, mpirun, MPI and store start-up).
record_restart() {
  RESTART_TIMES+=("${1% *}")
  CLAIM_TIMES+=("${1#* }")
  say "round $ROUND: restart-to-training ${1% *}s (coordinator claimed a trial after ${1#* }s)"
}
CLAIM_TIMES=()
LEFT_RUNNING=()  # attempt ids left 'running' by killed jobs: must become 'lost'
KILL_DESC=()
RESTART_TIMES=()

# kill_rank RANK MARKER WHAT: SIGKILL that rank (paused at MARKER), wait for the world to go,
# check the aftermath.
kill_rank() {
  local rank=$1 marker=$2 what=$3 pid pids rc p
  pid=$(rank_pid "$RUN_PID" "$rank")
  [[ -n $pid ]] || fail "round $ROUND: no revsweep-train process for rank $rank"
  assert_eq "$(marker_field "$PAUSE" "$marker" pid)" "$pid" "round $ROUND: the paused process is rank $rank"
  pids=$(train_pids "$RUN_PID" | awk '{print $1}')
  # rank 0 is the coordinator's rank: its pid is the job id of the attempts it opened.
  local job_pid
  # (the newest attempt was opened by this launch's coordinator: training already started)
  job_pid=$(q "$DB" "SELECT job_id FROM attempts ORDER BY id DESC LIMIT 1" | sed -n 's/^local-\([0-9]*\)@.*/\1/p')
  local -a before
  mapfile -t before < <(q "$DB" "SELECT id FROM attempts WHERE outcome='running'")
  local victim victim_attempt
  victim=$(marker_field "$PAUSE" "$marker" trial)
  victim_attempt=$(q "$DB" "SELECT id FROM attempts WHERE outcome='running' AND trial_id='${victim:-none}'")
  kill -KILL "$pid"
  local t_kill
  t_kill=$(now_s)
  say "round $ROUND: killed rank $rank (pid $pid): $what"
  KILL_DESC+=("round $ROUND: rank $rank, $what")
  if [[ $rank == 0 ]]; then
    assert_eq "$job_pid" "$pid" "round $ROUND: the killed rank 0 is the coordinator (attempts' job_id pid)"
  else
    assert_ne "$job_pid" "$pid" "round $ROUND: the killed rank $rank is not the coordinator's process"
  fi
  tl_wait_pid "$RUN_PID" 120
  rc=$?
  assert_ne "$rc" 0 "round $ROUND: revsweep reports the aborted world (exit $rc)"
  for p in $pids; do
    wait_until 30 "rank process $p gone after the abort" pid_gone "$p"
  done
  pass "round $ROUND: every rank of the aborted world is gone ($(elapsed_between "$t_kill" "$(now_s)")s after the kill)"
  # Each attempt running at the kill is either left open (its rank died, or the coordinator
  # did) or was closed by the live coordinator: preempted (a surviving rank checkpointed on
  # mpirun's SIGTERM) or done (it finished in the few seconds mpirun takes to tear down).
  local a o left=()
  for a in "${before[@]}"; do
    o=$(q "$DB" "SELECT outcome FROM attempts WHERE id=$a")
    case $o in
      running) left+=("$a") ;;
      preempted | done) ;;
      *) fail "round $ROUND: attempt $a running at the kill ended as '$o'" ;;
    esac
  done
  # The surviving ranks keep going until mpirun's SIGTERM reaches them (a second or more): a
  # trial that finishes then frees its rank, and the coordinator may start the next one. Such
  # an attempt is legitimate; it must end like the others (closed, or left open and later
  # recovered as lost).
  local in_list after=()
  in_list=$(IFS=,; echo "${before[*]:-0}")
  mapfile -t after < <(q "$DB" "SELECT id || ' ' || outcome FROM attempts
                                WHERE id > (SELECT coalesce(max(id), 0) FROM attempts WHERE id IN ($in_list))")
  for a in "${after[@]}"; do
    o=${a#* }
    case $o in
      running) left+=("${a% *}") ;;
      preempted | done) ;;
      *) fail "round $ROUND: attempt ${a% *}, opened after the kill, ended as '$o'" ;;
    esac
  done
  pass "round $ROUND: attempts running at the kill: ${before[*]:-none}; opened after it: ${#after[@]}; left open by the dead job: ${left[*]:-none}"
  if [[ -n $victim_attempt ]]; then
    [[ " ${left[*]} " == *" $victim_attempt "* ]] ||
      fail "round $ROUND: the killed rank's attempt $victim_attempt was not left open"
    pass "round $ROUND: the killed rank's attempt $victim_attempt (trial $victim) is left open for recovery"
  fi
  LEFT_RUNNING+=("${left[@]}")
}

# ---- the rounds ------------------------------------------------------------------------------
t_all=$SECONDS
# pause_and_kill RANK WHAT CONTROL: arms CONTROL, (re)launches, waits for RANK to pause there
# and kills it. Sets VICTIM, V_STEP and V_START (the paused trial, its step, its attempt's start).
pause_and_kill() {
  local rank=$1 what=$2 control=$3 rt
  pause_release "$PAUSE"
  pause_arm "$PAUSE" "$control"
  launch "$T/round$ROUND.log"
  wait_paused 300 "$PAUSE" "$rank" "$RUN_PID"
  local marker=$PAUSED t_paused
  t_paused=$(now_s)
  # restart-to-training here: launch -> this rank trained its steps up to the pause point
  # (rounds 2 and 4 pause a few steps in; round 3's 45 steps are not a restart time)
  rt="$(elapsed_between "$T_LAUNCH" "$t_paused") $(elapsed_between "$T_LAUNCH" \
    "$(q "$DB" "SELECT min(started_at) FROM attempts WHERE started_at > $T_LAUNCH")")"
  [[ $ROUND == 2 || $ROUND == 4 ]] && record_restart "$rt"
  VICTIM=$(marker_field "$PAUSE" "$marker" trial)
  V_STEP=$(marker_field "$PAUSE" "$marker" step)
  V_START=$(marker_field "$PAUSE" "$marker" start_step)
  kill_rank "$rank" "$marker" "$what: trial $VICTIM paused at step $V_STEP (attempt started at $V_START)"
}

# Round 1: rank 1 before its trial's first checkpoint (step 5 of a trial that checkpoints
# every 40 steps), on a fresh store.
ROUND=1
pause_and_kill 1 "before its first checkpoint" pause.step5
assert_eq "$(ckpt_count "$(ckpt_dir "$VICTIM")")" 0 "round 1: killed trial $VICTIM before its first checkpoint"
PRECKPT_VICTIM=$VICTIM

# Round 2: rank 0 (coordinator) a few steps into the resumed sweep.
ROUND=2
pause_and_kill 0 "the coordinator's rank" pause.after7

# Round 3: rank 1 mid-trial, 45 steps into its attempt: past a checkpoint this attempt wrote
# (every 40 steps), and not finished.
ROUND=3
pause_and_kill 1 "mid-trial" pause.after45
c=$(find "$(ckpt_dir "$VICTIM")" -maxdepth 1 -name 'ckpt-*.rsck' | sort | tail -n 1)
[[ -n $c ]] || fail "round 3: trial $VICTIM has no checkpoint"
c_step=$(ckpt_step "$c")
((c_step > V_START && c_step <= V_STEP && V_STEP < TOTAL_STEPS)) ||
  fail "round 3: newest checkpoint of $VICTIM at step $c_step, attempt $V_START..$V_STEP of $TOTAL_STEPS"
pass "round 3: $VICTIM was killed at step $V_STEP of $TOTAL_STEPS after this attempt's checkpoint at step $c_step"

# Round 4: a random rank after a random number of steps.
ROUND=4
pause_and_kill $((RANDOM % 2)) "random rank" "pause.after$((1 + RANDOM % 30))"
ROUNDS=${#KILL_DESC[@]}

# Final resume: to completion.
ROUND=final
pause_release "$PAUSE"
launch "$T/final.log"
rt=$(wait_training) && record_restart "$rt"
tl_wait_pid "$RUN_PID" 600
rc=$?
tail -n 12 "$ROUND_LOG" | sed 's/^/    | /'
assert_eq "$rc" 0 "final resume completes the sweep (exit 0)"
TOTAL_WALL=$((SECONDS - t_all))

# ---- checks ----------------------------------------------------------------------------------
assert_sweep_complete "$DB" "$SWEEP" "$N_TRIALS"
for a in "${LEFT_RUNNING[@]}"; do
  assert_sql "$DB" "SELECT outcome FROM attempts WHERE id=$a" lost "attempt $a left by a killed job is recorded 'lost'"
done
assert_sql "$DB" "SELECT count(*) FROM attempts WHERE outcome='lost' AND message NOT LIKE 'job local-%is gone'" 0 \
  "every lost attempt says which job is gone"
assert_sql "$DB" "SELECT count(*) FROM attempts WHERE outcome='lost'" "${#LEFT_RUNNING[@]}" \
  "exactly the attempts left open by killed jobs are lost"
assert_sql "$DB" "SELECT count(*) FROM attempts WHERE trial_id='$PRECKPT_VICTIM' AND outcome='done'" 1 \
  "the trial killed before its first checkpoint was retrained from scratch and finished once"
assert_metrics_equal "$T/ref/store.db" "$DB" "$SWEEP" "metrics equal the uninterrupted run"

say "rounds: $ROUNDS kills + final resume"
for k in "${KILL_DESC[@]}"; do say "  $k"; done
say "outcomes: $(q "$DB" "SELECT group_concat(outcome || '=' || n, ' ') FROM (SELECT outcome, count(*) n FROM attempts GROUP BY outcome)")"
say "restart-to-training times (launch of resume -> first progress row): ${RESTART_TIMES[*]} s"
note_timing "rounds" "$ROUNDS"
note_timing "restart-to-training (s, per resume)" "${RESTART_TIMES[*]}"
note_timing "launch-to-first-claim (s, per resume)" "${CLAIM_TIMES[*]}"
note_timing "restart-to-training mean (s)" "$(printf '%s\n' "${RESTART_TIMES[@]}" | awk '{s += $1} END {printf "%.2f", s / NR}')"
note_timing "kill/resume rounds to completion" "${TOTAL_WALL}s (uninterrupted: ${REF_WALL}s)"
tl_end
