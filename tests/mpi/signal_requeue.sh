#!/usr/bin/env bash
# mpi tier: graceful preemption. SIGTERM (case 1) and SIGUSR2 (case 2) sent to the
# `revsweep run` process while two trials train on 2 ranks. Proves: revsweep exits 75
# (requeue me) and says how to resume; every interrupted trial has a 'preempted' attempt with
# end_step > 0 and a checkpoint file for exactly that step; the trial is pending again;
# `revsweep resume` continues from the checkpoint (the first loss-curve point after resuming
# is past the preempted step: training did not restart from step 0) and finishes with metrics
# bit-identical to an uninterrupted run. The signal lands at an exact step on any machine: both
# trials pause at step PAUSE_STEP (train.fault_pause_dir, tests/lib/test_lib.bash) and the
# signal is sent while they wait there; a paused rank that is told to stop checkpoints at once.
# shellcheck source=tests/lib/test_lib.bash
source "$(dirname "${BASH_SOURCE[0]}")/../lib/test_lib.bash"
tl_begin signal_requeue

SWEEP=signal_requeue
CFG=(train.epochs=30 train.checkpoint_every_steps=5)
axes() {
  cat <<'EOF'
search:
  grid: {train.lr: [0.002, 0.003]}
EOF
}

run_reference "uninterrupted reference sweep (2 trials, 2 ranks)"
say "each trial has $TOTAL_STEPS steps"

# Past two checkpoints (5, 10), so a restart from step 0 would show in the loss curve, and
# far from the end.
PAUSE_STEP=12
((PAUSE_STEP < TOTAL_STEPS - 15)) || fail "trials of $TOTAL_STEPS steps are too short to interrupt at step $PAUSE_STEP"
first_progress_after() {
  local n
  n=$(q "$1" "SELECT count(*) FROM progress WHERE updated_at > $2 AND step > 0" 2>/dev/null)
  [[ ${n:-0} -ge 1 ]]
}

for SIG in TERM USR2; do
  D=$T/$SIG
  DB=$D/store.db
  TL_DB=$DB
  mkdir -p "$D"
  write_config "$D/c.yaml" "$SWEEP" "${CFG[@]}" "run.store=$DB" "run.run_root=$D/runs" \
    "train.fault_pause_dir=$D/pause"
  axes >>"$D/c.yaml"
  say "---- case SIG$SIG"
  pause_arm "$D/pause" "pause.step$PAUSE_STEP"
  tl_bg pid "$D/run.log" "$RS" run "$D/c.yaml" --ranks 2
  wait_paused 300 "$D/pause" 0 "$pid"
  m0=$PAUSED
  wait_paused 300 "$D/pause" 1 "$pid"
  pass "SIG$SIG: both trials wait at step $PAUSE_STEP ($m0, $PAUSED)"
  kill "-$SIG" "$pid"
  t_sig=$(now_s)
  tl_wait_pid "$pid" 120
  rc=$?
  tail -n 6 "$D/run.log" | sed 's/^/    | /'
  assert_eq "$rc" 75 "SIG$SIG: revsweep run exits 75 (preempted, requeue)"
  note_timing "SIG$SIG: signal to exit" "$(elapsed_between "$t_sig" "$(now_s)")s"
  assert_grep "$D/run.log" "revsweep resume $SWEEP --store $DB" "SIG$SIG: the message says how to resume"
  preempted=$(q "$DB" "SELECT trial_id || ' ' || end_step FROM attempts WHERE outcome='preempted'")
  [[ -n $preempted ]] || fail "SIG$SIG: no attempt with outcome 'preempted'"
  pass "SIG$SIG: preempted attempt(s): $(echo "$preempted" | tr '\n' ',')"
  assert_sql "$DB" "SELECT count(*) FROM attempts WHERE outcome NOT IN ('preempted', 'done')" 0 \
    "SIG$SIG: no attempt crashed, failed or was left running"
  assert_eq "$(echo "$preempted" | wc -l)" 2 "SIG$SIG: both paused trials were preempted"
  pause_release "$D/pause"
  while read -r id end_step; do
    assert_eq "$end_step" "$PAUSE_STEP" "SIG$SIG: $id preempted at the step it was paused at"
    f=$(printf '%s/runs/%s/trials/%s/checkpoints/ckpt-%012d.rsck' "$D" "$SWEEP" "$id" "$end_step")
    assert_file "$f" "SIG$SIG: $id has a checkpoint for the preempted step $end_step"
    assert_sql "$DB" "SELECT state FROM trials WHERE id='$id'" pending "SIG$SIG: $id is pending again"
    assert_sql "$DB" "SELECT count(*) FROM attempts WHERE trial_id='$id' AND outcome='preempted'
                      AND message LIKE '%checkpoint at step $end_step'" 1 \
      "SIG$SIG: $id's attempt message names the checkpoint step"
  done <<<"$preempted"
  # Forget the loss curve of the interrupted trials: after resuming, the first point shows
  # where training continued.
  q "$DB" "DELETE FROM loss_curve WHERE trial_id IN (SELECT trial_id FROM attempts WHERE outcome='preempted')"

  t_launch=$(now_s)
  tl_bg pid "$D/resume.log" "$RS" resume "$SWEEP" --store "$DB" --ranks 2
  wait_until 120 "training again after resume" first_progress_after "$DB" "$t_launch"
  rt=$(elapsed_between "$t_launch" "$(q "$DB" "SELECT min(updated_at) FROM progress WHERE updated_at > $t_launch")")
  note_timing "SIG$SIG: restart-to-training (resume launch -> first progress row)" "${rt}s"
  tl_wait_pid "$pid" 600
  rc=$?
  tail -n 4 "$D/resume.log" | sed 's/^/    | /'
  assert_eq "$rc" 0 "SIG$SIG: revsweep resume finishes the sweep (exit 0)"
  while read -r id end_step; do
    first=$(q "$DB" "SELECT min(step) FROM loss_curve WHERE trial_id='$id'")
    assert_num "$first" ">" "$end_step" "SIG$SIG: $id continued from its checkpoint (first step after resume > $end_step)"
    assert_sql "$DB" "SELECT group_concat(outcome, ',') FROM (SELECT outcome FROM attempts WHERE trial_id='$id' ORDER BY id)" \
      "preempted,done" "SIG$SIG: $id attempts are preempted then done"
    start=$(q "$DB" "SELECT start_step FROM attempts WHERE trial_id='$id' AND outcome='done'")
    assert_eq "$start" "$end_step" "SIG$SIG: the resumed attempt of $id records start_step = checkpoint step"
  done <<<"$preempted"
  assert_sweep_complete "$DB" "$SWEEP" 2
  assert_metrics_equal "$T/ref/store.db" "$DB" "$SWEEP" "SIG$SIG: metrics equal the uninterrupted run"
done

tl_end
