#!/usr/bin/env bash
# mpi tier: moldable groups. Two trials on 2 ranks with resources.group_size_max 2: a short
# one (1 epoch, 6 steps) and a long one (60 epochs). The long one is held at step 20 by a pause
# point (train.fault_pause_dir: pause.step20, which the short trial never reaches), so it is
# still running when the short one ends however fast the machine is: no race between the two.
# When the short trial ends its rank idles, and the coordinator regroups the long trial: the
# Cancel releases the pause, the trial checkpoints at step 20, its attempt is recorded
# `preempted` ("regrouped onto more ranks", no retry budget spent, the job goes on), and it
# resumes from that checkpoint on both ranks. Then the same sweep again with rigid groups
# (group_size_max 0, same trial ids: resources are not identity) in another store.
# Proves: the regroup happens and loses no step (attempt 2 starts where attempt 1 stopped, on
# 2 ranks); the sweep exits 0 with each trial done once; and the trial's results do not depend
# on the group size beyond rounding: loss.final within 1e-3 relative and the mean absolute
# accuracy difference over its cells <= 0.05 between the regrouped and the rigid run (the
# global batch is fixed; the two differ only in the order of float sums).
# shellcheck source=tests/lib/test_lib.bash
source "$(dirname "${BASH_SOURCE[0]}")/../lib/test_lib.bash"
tl_begin regroup

SWEEP=regroup
make_cfg() { # FILE GROUP_SIZE_MAX STORE [KEY=VALUE...]
  local file=$1 max=$2 store=$3
  shift 3
  write_config "$file" "$SWEEP" resources.group_size_max="$max" run.regroup_min_remaining_s=0.001 \
    train.checkpoint_every_steps=0 "run.store=$store" "$@"
  cat >>"$file" <<'EOF2'
search:
  grid: {train.epochs: [1, 60]}
EOF2
}
# Only the moldable run pauses (nothing would release a rigid run's pause); the key is not part
# of a trial's identity, so both runs have the same trial ids.
mkdir -p "$T/ctl"
touch "$T/ctl/pause.step20"
make_cfg "$T/mold.yaml" 2 "$T/mold.db" "train.fault_pause_dir=$T/ctl"
make_cfg "$T/rigid.yaml" 0 "$T/rigid.db"

t0=$SECONDS
tl_run 600 "$T/mold.log" "$RS" run "$T/mold.yaml" --ranks 2
rc=$?
note_timing "moldable run" "$((SECONDS - t0))s"
assert_eq "$rc" 0 "moldable sweep exits 0"
assert_sweep_complete "$T/mold.db" "$SWEEP" 2
assert_grep "$T/mold.log" "regroup " "the coordinator logged the regroup"
LONG=$(q "$T/mold.db" "SELECT trial_id FROM attempts GROUP BY trial_id HAVING count(*) = 2")
[[ -n $LONG ]] || fail "no trial with two attempts (the regrouped one)"
assert_sql "$T/mold.db" "SELECT outcome || ':' || ranks FROM attempts WHERE trial_id = '$LONG'
                         ORDER BY id" "$(printf 'preempted:1\ndone:2')" \
  "the long trial ran on 1 rank, was regrouped, and finished on 2"
assert_sql "$T/mold.db" "SELECT count(*) FROM attempts WHERE trial_id = '$LONG'
                         AND message LIKE 'regrouped onto more ranks%'" 1 "the regroup says so"
assert_sql "$T/mold.db" "SELECT (SELECT start_step FROM attempts WHERE trial_id = '$LONG'
                           ORDER BY id DESC LIMIT 1) = (SELECT end_step FROM attempts
                           WHERE trial_id = '$LONG' ORDER BY id LIMIT 1)" 1 \
  "attempt 2 resumed at the step attempt 1 checkpointed"
assert_sql "$T/mold.db" "SELECT count(*) FROM attempts WHERE outcome = 'done'" 2 \
  "each trial done once"
assert_sql "$T/mold.db" "SELECT end_step FROM attempts WHERE trial_id = '$LONG' ORDER BY id LIMIT 1" \
  20 "the regroup checkpointed the long trial at its pause point"

t0=$SECONDS
tl_run 600 "$T/rigid.log" "$RS" run "$T/rigid.yaml" --ranks 2
rc=$?
note_timing "rigid run" "$((SECONDS - t0))s"
assert_eq "$rc" 0 "rigid sweep exits 0"
assert_sql "$T/rigid.db" "SELECT group_concat(DISTINCT ranks) FROM attempts WHERE trial_id = '$LONG'" \
  1 "rigid: the long trial ran on 1 rank throughout"

sqlite3 -batch -noheader "$T/mold.db" "ATTACH '$T/rigid.db' AS r;
  SELECT abs(a.value - b.value) / max(abs(b.value), 1e-12) FROM results a
  JOIN r.results b ON b.trial_id = a.trial_id AND b.key = a.key
  WHERE a.trial_id = '$LONG' AND a.key = 'loss.final'" >"$T/loss.txt"
assert_num "$(cat "$T/loss.txt")" "<=" 0.001 "loss.final: regrouped vs rigid, relative difference"
sqlite3 -batch -noheader "$T/mold.db" "ATTACH '$T/rigid.db' AS r;
  SELECT avg(abs(a.value - b.value)) FROM results a
  JOIN r.results b ON b.trial_id = a.trial_id AND b.key = a.key
  WHERE a.trial_id = '$LONG' AND a.key LIKE 'acc.%'" >"$T/acc.txt"
assert_num "$(cat "$T/acc.txt")" "<=" 0.05 "accuracy: regrouped vs rigid, mean |difference| over cells"
tl_end
