#!/usr/bin/env bash
# mpi tier: a failure inside a 2-rank group ends the job promptly for a requeue instead of
# hanging until a time limit, and loses nothing. Two trials, resources.group_size 2, 2 ranks,
# run.heartbeat_timeout_s 8:
#   part 1: rank 1 (not the leader) throws at step 7 (a fault hook, as an out-of-memory would);
#           rank 0 is left in the next all-reduce. The coordinator records the attempt at once
#           (crash, "rank 1: injected fault"), declares the group broken after the heartbeat
#           timeout and ends the world with exit 75.
#   part 2: rank 1 is stopped (SIGSTOP) at step 12 of the resumed trial; rank 0 trains on into
#           the all-reduce. Rank 1's heartbeat stops: recorded as "rank 1 silent", exit 75.
#   part 3: `revsweep resume` finishes the sweep: every trial done exactly once, the interrupted
#           attempts resumed from their checkpoints, nothing lost or duplicated.
# Faults land at exact steps (train.fault_pause_dir); the only clock is the heartbeat timeout,
# and each part is bounded by a generous deadline, never by a window.
# shellcheck source=tests/lib/test_lib.bash
source "$(dirname "${BASH_SOURCE[0]}")/../lib/test_lib.bash"
tl_begin group_failure

SWEEP=group_failure
FAULTS=$T/faults
DB=$T/store.db
TL_DB=$DB
write_config "$T/c.yaml" "$SWEEP" resources.group_size=2 train.epochs=6 \
  "train.fault_pause_dir=$FAULTS" run.heartbeat_timeout_s=8
cat >>"$T/c.yaml" <<'EOF'
seeds: [0, 1]
EOF
mkdir -p "$FAULTS"

# ---- part 1: a non-leader throws --------------------------------------------------------------
: >"$FAULTS/fail.rank1.step7"
t0=$SECONDS
tl_run 300 "$T/run1.log" "$RS" run "$T/c.yaml" --ranks 2
rc=$?
note_timing "part 1: non-leader failure to job end" "$((SECONDS - t0))s"
assert_eq "$rc" 75 "the job ends with 75 (requeue) instead of hanging"
assert_file "$FAULTS/fired.fail.rank1.step7" "the fault fired"
assert_sql "$DB" "SELECT count(*) FROM attempts WHERE outcome='crash' AND message LIKE 'rank 1: injected fault%'" 1 \
  "the non-leader's failure is recorded once, naming the rank"
assert_sql "$DB" "SELECT count(*) FROM attempts WHERE outcome='running'" 0 "no attempt left running"
assert_sql "$DB" "SELECT count(*) FROM trials WHERE state='pending'" 2 "both trials pending (crash budget left)"
assert_grep "$T/run1.log" "is broken" "the coordinator says the group is broken"
CRASHED=$(q "$DB" "SELECT trial_id FROM attempts WHERE outcome='crash'")

# ---- part 2: a member falls silent ------------------------------------------------------------
pause_arm "$FAULTS" pause.step12
t0=$SECONDS
tl_bg RUN_PID "$T/run2.log" "$RS" resume "$SWEEP" --store "$DB" --ranks 2
wait_paused 300 "$FAULTS" 1 "$RUN_PID"
pid1=$(marker_field "$FAULTS" "$PAUSED" pid)
wait_paused 300 "$FAULTS" 0 "$RUN_PID"
kill -STOP "$pid1"
say "rank 1 (pid $pid1) stopped at step 12; rank 0 released into the all-reduce"
pause_release "$FAULTS"
tl_wait_pid "$RUN_PID" 300
rc=$?
note_timing "part 2: silent member to job end" "$((SECONDS - t0))s"
kill -CONT "$pid1" 2>/dev/null || true
assert_eq "$rc" 75 "the job ends with 75 (requeue) when a member falls silent"
assert_sql "$DB" "SELECT count(*) FROM attempts WHERE outcome='crash' AND message LIKE 'rank 1 silent%'" 1 \
  "the silent member is recorded, naming the rank"
assert_sql "$DB" "SELECT count(*) FROM attempts WHERE outcome='running'" 0 "no attempt left running"

# ---- part 3: resume to the end ----------------------------------------------------------------
tl_run 600 "$T/run3.log" "$RS" resume "$SWEEP" --store "$DB" --ranks 2
assert_eq "$?" 0 "the resumed sweep completes"
assert_sweep_complete "$DB" "$SWEEP" 2
assert_num "$(q "$DB" "SELECT max(start_step) FROM attempts WHERE trial_id='$CRASHED' AND outcome!='crash'")" ">=" 5 \
  "the crashed trial resumed from a checkpoint, not from step 0"
assert_sql "$DB" "SELECT count(*) FROM attempts WHERE outcome='lost'" 0 \
  "nothing was lost: every interrupted attempt was recorded by the coordinator itself"

tl_end
