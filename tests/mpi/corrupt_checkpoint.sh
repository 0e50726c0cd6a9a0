#!/usr/bin/env bash
# mpi tier: a damaged checkpoint. Two trials train on 2 ranks until each has at least two
# checkpoints; SIGTERM preempts them (exit 75, one more checkpoint at the preempted step).
# Both trials are paused at step 12 (train.fault_pause_dir) when the signal lands, so the
# moment is exact on any machine. The newest checkpoint of the first interrupted trial gets bytes flipped in its middle
# (same size: only the checksum can tell), the newest of the second is truncated to half.
# Proves: `revsweep resume` prints a warning naming each damaged file (and why), falls back to
# the older checkpoint (training continues past its step, not from 0) and finishes with
# metrics bit-identical to an uninterrupted run.
# shellcheck source=tests/lib/test_lib.bash
source "$(dirname "${BASH_SOURCE[0]}")/../lib/test_lib.bash"
tl_begin corrupt_checkpoint

SWEEP=corrupt_checkpoint
CFG=(train.epochs=30 train.checkpoint_every_steps=5)
axes() {
  cat <<'EOF'
search:
  grid: {train.lr: [0.002, 0.003]}
EOF
}

run_reference "uninterrupted reference sweep (2 trials, 2 ranks)"

DB=$T/store.db
TL_DB=$DB
ckpt_dir() { echo "$T/runs/$SWEEP/trials/$1/checkpoints"; }

# Both trials pause at step 12 (train.fault_pause_dir: checkpoints at 5 and 10 exist), and
# SIGTERM lands there: each is preempted with a third checkpoint at step 12.
PAUSE_STEP=12
((PAUSE_STEP < TOTAL_STEPS - 15)) || fail "trials of $TOTAL_STEPS steps are too short"
write_config "$T/c.yaml" "$SWEEP" "${CFG[@]}" "train.fault_pause_dir=$T/pause"
axes >>"$T/c.yaml"
pause_arm "$T/pause" "pause.step$PAUSE_STEP"
tl_bg pid "$T/run.log" "$RS" run "$T/c.yaml" --ranks 2
wait_paused 300 "$T/pause" 0 "$pid"
wait_paused 300 "$T/pause" 1 "$pid"
pass "both trials wait at step $PAUSE_STEP"
kill -TERM "$pid"
tl_wait_pid "$pid" 120
rc=$?
pause_release "$T/pause"
tail -n 4 "$T/run.log" | sed 's/^/    | /'
assert_eq "$rc" 75 "SIGTERM: revsweep run exits 75"

mapfile -t victims < <(q "$DB" "SELECT trial_id FROM attempts WHERE outcome='preempted' ORDER BY id")
((${#victims[@]} == 2)) || fail "expected both paused trials preempted, got: ${victims[*]}"
pass "preempted trial(s): ${victims[*]}"

declare -A DAMAGED OLDER
i=0
for id in "${victims[@]}"; do
  d=$(ckpt_dir "$id")
  n=$(ckpt_count "$d")
  ((n >= 2)) || fail "$id has $n checkpoint(s) after preemption at step $PAUSE_STEP (expected 5, 10, 12)"
  assert_eq "$(ckpt_step "$(ckpt_newest "$d")")" "$PAUSE_STEP" "$id: the newest checkpoint is the preempted step"
  newest=$(ckpt_newest "$d")
  older=$(find "$d" -maxdepth 1 -name 'ckpt-*.rsck' | sort | tail -n 2 | head -n 1)
  size=$(stat -c %s "$newest")
  if ((i % 2 == 0)); then
    # Overwrite 64 bytes in the middle of the body; the size stays the same.
    printf 'CORRUPT!%.0s' 1 2 3 4 5 6 7 8 | dd of="$newest" bs=1 seek=$((size / 2)) conv=notrunc status=none
    DAMAGED[$id]="$newest|checksum mismatch"
    say "overwrote 64 bytes at offset $((size / 2)) of $newest ($size bytes)"
  else
    truncate -s $((size / 2)) "$newest"
    DAMAGED[$id]="$newest|truncated"
    say "truncated $newest from $size to $((size / 2)) bytes"
  fi
  OLDER[$id]=$(ckpt_step "$older")
  i=$((i + 1))
done
((${#DAMAGED[@]} == 2)) || fail "damaged ${#DAMAGED[@]} checkpoints, expected 2"
pass "damaged ${#DAMAGED[@]} newest checkpoint(s)"
q "$DB" "DELETE FROM loss_curve"

t_launch=$(now_s)
tl_run 600 "$T/resume.log" "$RS" resume "$SWEEP" --store "$DB" --ranks 2
rc=$?
note_timing "resume after corruption (to completion)" "$(elapsed_between "$t_launch" "$(now_s)")s"
assert_eq "$rc" 0 "revsweep resume finishes the sweep (exit 0)"

for id in "${!DAMAGED[@]}"; do
  file=${DAMAGED[$id]%%|*}
  why=${DAMAGED[$id]#*|}
  assert_grep "$T/resume.log" "warning: checkpoint $file is unusable" "$id: the warning names the damaged file"
  grep -F "checkpoint $file is unusable" "$T/resume.log" | grep -qF "$why" ||
    fail "$id: the warning does not say '$why': $(grep -F "$file" "$T/resume.log")"
  pass "$id: the warning says '$why'"
  first=$(q "$DB" "SELECT min(step) FROM loss_curve WHERE trial_id='$id'")
  assert_num "$first" ">" "${OLDER[$id]}" "$id: resumed from the older checkpoint (first step after resume > ${OLDER[$id]})"
  start=$(q "$DB" "SELECT start_step FROM attempts WHERE trial_id='$id' AND outcome='done'")
  newest_step=$(ckpt_step "$file")
  assert_eq "$start" "${OLDER[$id]}" "$id: the resumed attempt records start_step ${OLDER[$id]}, not the damaged checkpoint's $newest_step"
done
assert_sweep_complete "$DB" "$SWEEP" 2
assert_metrics_equal "$T/ref/store.db" "$DB" "$SWEEP" "metrics equal the uninterrupted run"

tl_end
