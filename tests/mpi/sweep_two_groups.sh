#!/usr/bin/env bash
# mpi tier: a 6-trial sweep (3 lr x 2 seeds) with resources.group_size 2 on 4 ranks
# (oversubscribed on a 2-core machine): two groups of two ranks train two trials at a time.
# Proves: the sweep completes (exit 0), each trial is trained exactly once by a 2-rank group
# (one 'done' attempt, ranks = 2), results are stored once per (trial, key), two groups
# really ran side by side (overlapping attempts), and a group's next trial on the same ranks
# kept the group's communicators.
# shellcheck source=tests/lib/test_lib.bash
source "$(dirname "${BASH_SOURCE[0]}")/../lib/test_lib.bash"
tl_begin sweep_two_groups

SWEEP=two_groups
write_config "$T/c.yaml" "$SWEEP" resources.group_size=2 train.epochs=2
cat >>"$T/c.yaml" <<'EOF'
search:
  grid: {train.lr: [0.001, 0.002, 0.003]}
seeds: [0, 1]
EOF
TL_DB=$T/store.db

t0=$SECONDS
REVSWEEP_WORKER_VERBOSE=1 tl_run 600 "$T/run.log" "$RS" run "$T/c.yaml" --ranks 4
rc=$?
note_timing "6 trials, group_size 2, 4 ranks" "$((SECONDS - t0))s"
assert_eq "$rc" 0 "revsweep run exits 0"
assert_sweep_complete "$TL_DB" "$SWEEP" 6
assert_sql "$TL_DB" "SELECT count(*) FROM attempts" 6 "6 attempts in all (no retries)"
assert_sql "$TL_DB" "SELECT group_concat(DISTINCT ranks) FROM attempts" 2 "every attempt ran on 2 ranks"
assert_sql "$TL_DB" "SELECT count(*) FROM results WHERE key='acc.p2d.same.train'" 6 \
  "each trial has acc.p2d.same.train once"
# Two groups side by side: some pair of attempts overlaps in time.
assert_num "$(q "$TL_DB" "SELECT count(*) FROM attempts a JOIN attempts b ON a.id < b.id
                          WHERE a.started_at < b.ended_at AND b.started_at < a.ended_at")" ">=" 1 \
  "two groups trained concurrently (overlapping attempts)"
# The coordinator logged both groups (ranks 0,1 and 2,3 with block placement).
n_groups=$(grep -oE 'on ranks [0-9,]+' "$T/run.log" | sort -u | wc -l)
assert_num "$n_groups" ">=" 2 "the coordinator placed trials on at least two distinct rank groups"
# 6 trials on 2 fixed groups: some group trains two trials in a row, and its second keeps
# the communicators of its first (worker/group_reuse.h; every member agrees, or none keeps).
assert_num "$(grep -c 'keeps the group communicators' "$T/run.log")" ">=" 2 \
  "a group's next trial kept its communicators (both members)"
assert_num "$(q "$TL_DB" "SELECT min(value) FROM results WHERE key='loss.final'")" ">" 0 \
  "loss.final is positive for every trial"

tl_end
