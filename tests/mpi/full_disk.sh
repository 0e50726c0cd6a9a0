#!/usr/bin/env bash
# mpi tier: a full disk while checkpointing. The sweep's run folder (checkpoints, data) lives on
# a small tmpfs; both trials pause at step 15 (train.fault_pause_dir: each has its step-10
# checkpoint), a filler file takes every free byte, the trials carry on, so
# the next checkpoint write fails with ENOSPC. Proves: the failing trials end 'failed' with an
# error that says "No space left on device" and names the checkpoint file, the run exits 1
# (not a hang, not a crash of the coordinator), the store stays consistent (no attempt left
# running, no results for the failed trials), no temp file is left beside the checkpoints, and
# the checkpoints written before the disk filled are intact. Then the space is freed and
# `revsweep resume --retry-failed` finishes both trials from those checkpoints (start_step > 0)
# with metrics bit-identical to an uninterrupted run on a normal disk.
# Part 2: the store itself on the full disk. The coordinator's next write fails (SQLITE_FULL):
# the run exits 1 with a message naming the store and how to continue, the store passes
# SQLite's integrity check, and once space is freed `revsweep resume` recovers the attempts
# left open and finishes with the same metrics, each trial done exactly once.
# Needs root and permission to mount a tmpfs; skipped (ctest: "Skipped") otherwise.
# shellcheck source=tests/lib/test_lib.bash
source "$(dirname "${BASH_SOURCE[0]}")/../lib/test_lib.bash"
tl_begin full_disk

[[ $(id -u) == 0 ]] || tl_skip "needs root to mount a small tmpfs"
MNT=$T/small
mkdir -p "$MNT"
mount -t tmpfs -o size=64m tmpfs "$MNT" 2>/dev/null || tl_skip "cannot mount a tmpfs here"
TL_ON_EXIT+=("umount '$MNT' 2>/dev/null")

SWEEP=full_disk
CFG=(train.epochs=30 train.checkpoint_every_steps=10 run.retries_crash=1)
axes() {
  cat <<'YAML'
search:
  grid: {train.lr: [0.002, 0.003]}
YAML
}

# ---- the uninterrupted reference, on the normal disk -----------------------------------------
run_reference "uninterrupted reference sweep (2 trials, 2 ranks)"

# ---- the run whose checkpoint disk fills ------------------------------------------------------
DB=$T/store.db  # the store stays on the normal disk
TL_DB=$DB
write_config "$T/c.yaml" "$SWEEP" "${CFG[@]}" "run.run_root=$MNT/runs" "train.fault_pause_dir=$T/pause"
axes >>"$T/c.yaml"
ckpt_dirs() { find "$MNT/runs/$SWEEP/trials" -mindepth 2 -maxdepth 2 -type d -name checkpoints 2>/dev/null; }
# Both trials pause at step 15 (train.fault_pause_dir): each has its step-10 checkpoint and
# its next one (step 20) must hit the full disk. The disk is filled while they wait.
((15 < TOTAL_STEPS - 10)) || fail "trials of $TOTAL_STEPS steps are too short"
pause_arm "$T/pause" pause.step15
tl_bg pid "$T/run.log" "$RS" run "$T/c.yaml" --ranks 2
wait_paused 300 "$T/pause" 0 "$pid"
wait_paused 300 "$T/pause" 1 "$pid"
n_ckpt=0
for d in $(ckpt_dirs); do (($(ckpt_count "$d") >= 1)) && n_ckpt=$((n_ckpt + 1)); done
assert_eq "$n_ckpt" 2 "both trials paused at step 15 with a checkpoint on the small disk"
# Take every free byte (dd stops with ENOSPC), and keep taking what a failed write or
# checkpoint rotation frees. Then remember the checkpoints that exist now.
dd if=/dev/zero of="$MNT/filler" bs=64k status=none 2>/dev/null
keep_full() {
  while kill -0 "$pid" 2>/dev/null; do
    dd if=/dev/zero of="$MNT/filler" bs=4k oflag=append conv=notrunc status=none 2>/dev/null
    sleep 0.01
  done
}
keep_full &
filler_pid=$!
# Release the paused trials only now (the retry attempts pass step 15 without pausing).
pause_release "$T/pause"
avail=$(df --output=avail -B1 "$MNT" | tail -n 1)
say "disk filled: $(du -sh "$MNT/filler" | cut -f1) filler, ${avail// /} bytes free"
declare -A SUM
for d in $(ckpt_dirs); do
  for f in "$d"/ckpt-*.rsck; do [[ -f $f ]] && SUM[$f]=$(md5sum <"$f"); done
done
tl_wait_pid "$pid" 300
rc=$?
wait "$filler_pid"
tail -n 6 "$T/run.log" | sed 's/^/    | /'
assert_eq "$rc" 1 "revsweep run exits 1 (trials failed) instead of hanging or crashing"

assert_sql "$DB" "SELECT count(*) FROM trials WHERE state='failed'" 2 "both trials end failed"
assert_sql "$DB" "SELECT count(*) FROM attempts WHERE outcome='running'" 0 "no attempt left running"
assert_sql "$DB" "SELECT count(*) FROM results" 0 "no results recorded for failed trials"
msg=$(q "$DB" "SELECT last_error FROM trials LIMIT 1")
[[ $msg == *"No space left on device"* && $msg == *ckpt-* ]] ||
  fail "the error names neither the cause nor the file: '$msg'"
pass "the error says why and where: ${msg:0:160}"
assert_sql "$DB" "SELECT count(*) FROM attempts WHERE outcome='crash'" 4 \
  "each trial: first attempt and its one retry (run.retries_crash=1) ended 'crash'"
left=$(find "$MNT/runs" -name '*.tmp*' | head -n 3)
[[ -z $left ]] || fail "temp files left beside the checkpoints: $left"
pass "no temp file left beside the checkpoints"
for f in "${!SUM[@]}"; do
  if [[ -f $f ]]; then
    [[ $(md5sum <"$f") == "${SUM[$f]}" ]] || fail "checkpoint $f changed after the disk filled"
  fi
done
pass "the ${#SUM[@]} checkpoints written before the disk filled are unchanged"

# ---- free the space and resume ----------------------------------------------------------------
rm -f "$MNT/filler"
tl_run 600 "$T/resume.log" "$RS" resume "$SWEEP" --store "$DB" --ranks 2 --retry-failed
rc=$?
tail -n 4 "$T/resume.log" | sed 's/^/    | /'
assert_eq "$rc" 0 "revsweep resume --retry-failed finishes once space is free"
assert_sweep_complete "$DB" "$SWEEP" 2
assert_sql "$DB" "SELECT count(*) FROM attempts WHERE outcome='done' AND start_step > 0" 2 \
  "both trials resumed from a checkpoint written before the disk filled"
assert_metrics_equal "$T/ref/store.db" "$DB" "$SWEEP" "metrics equal the uninterrupted run"

# ---- part 2: the store on the full disk -------------------------------------------------------
rm -rf "${MNT:?}"/*
DB=$MNT/store.db
TL_DB=$DB
write_config "$T/c2.yaml" "$SWEEP" "${CFG[@]}" "run.store=$DB" "run.run_root=$T/runs2" \
  "train.fault_pause_dir=$T/pause2"
axes >>"$T/c2.yaml"
# The disk fills while both trials wait at step 15: every store write after that fails.
pause_arm "$T/pause2" pause.step15
tl_bg pid "$T/run2.log" "$RS" run "$T/c2.yaml" --ranks 2
wait_paused 300 "$T/pause2" 0 "$pid"
wait_paused 300 "$T/pause2" 1 "$pid"
dd if=/dev/zero of="$MNT/filler" bs=4k status=none 2>/dev/null
pause_release "$T/pause2"
tl_wait_pid "$pid" 300
rc=$?
assert_ne "$rc" 0 "a store write on the full disk stops the run (exit $rc)"
grep -q "database or disk is full" "$T/run2.log" && grep -q "revsweep resume $SWEEP --store $DB" "$T/run2.log" ||
  fail "no message naming the full store and how to continue (see $T/run2.log)"
pass "the message says the store is full and how to continue"
rm -f "$MNT/filler"
assert_sql "$DB" "PRAGMA integrity_check" ok "the store passes SQLite's integrity check"
tl_run 600 "$T/resume2.log" "$RS" resume "$SWEEP" --store "$DB" --ranks 2
assert_eq "$?" 0 "revsweep resume finishes once space is free"
assert_sweep_complete "$DB" "$SWEEP" 2
assert_metrics_equal "$T/ref/store.db" "$DB" "$SWEEP" "metrics equal the uninterrupted run"
tl_end
