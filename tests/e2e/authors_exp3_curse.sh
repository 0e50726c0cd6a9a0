#!/usr/bin/env bash
# e2e tier: the reversal curse on the paper authors' own Experiment 3 folder
# (copypaste_ug100_rg1000_main), loaded as published (issue 14): 307 guidance documents of 2-5
# answer-first instructions each ("The test requires you to answer "A: <answer>" after
# "Q: <question>""), 1000 realized examples, 100 held-out pairs. One micro GPT, one token per
# word, 45 epochs at lr 5e-3 (~70 s; at 30 epochs it answered only 11 of its trained examples),
# one rank. Proves from the store (binomial bounds; docs/TESTING.md lists n and false-failure
# rates):
#   - the model learned what it read: qa.realized.train (100 trained examples, asked as
#     trained) is significantly above chance (1/100, naming one of the held-out answers blindly);
#   - the curse: qa.reverse.heldout (the held-out questions, asked as the realized examples ask
#     theirs, answered only answer-first in instructions; n = 100) is not significantly above
#     chance (max(1/100, the cell's random-target rate)) at alpha 1e-4.
# The folder: $REVSWEEP_AUTHORS_DATA, else ../shared/data/reversal_curse next to the
# checkout. Without it the test skips (exit 77), unless REVSWEEP_REQUIRE_AUTHORS_DATA=1.
# shellcheck source=tests/lib/test_lib.bash
source "$(dirname "${BASH_SOURCE[0]}")/../lib/test_lib.bash"
tl_begin authors_exp3_curse

authors_data_or_skip exp3_copypaste_ug100_rg1000_main
DATA=$AUTHORS_PATH

SWEEP=authors_exp3
DB=$T/store.db
TL_DB=$DB
cat >"$T/c.yaml" <<YAML
name: $SWEEP
dataset:
  kind: exp3
  source: $DATA
  instruction_order: answer_first
tokenizer:
  type: word
model:
  size: micro
train:
  epochs: 45
  batch_size: 16
  lr: 0.005
  min_lr: 0.0002
  warmup_steps: 50
  checkpoint_every_steps: 0
  eval_max_new_tokens: 48
run:
  store: $DB
  run_root: $T/runs
  progress_every_s: 5
YAML

run_sweep_ok 800 1 "authors_exp3 run"
assert_sql "$DB" "SELECT count(*) FROM trials WHERE state='done'" 1 "the trial is done"

say_metrics 'acc.%' 'chance.%' 'loss.%'
assert_eq "$(printf "%.0f" "$(metric_of n.qa.reverse.heldout)")" 100 \
  "n.qa.reverse.heldout: the published folder's 100 held-out pairs"
assert_eq "$(printf "%.0f" "$(metric_of n.qa.realized.train)")" 100 \
  "n.qa.realized.train: as many trained examples as held-out pairs"
P0=0.01  # naming one of the 100 held-out answers blindly
assert_above_chance "$(cell_hits qa.realized.train)" 100 "$P0" 1e-4 \
  "trained examples learned: acc.qa.realized.train"
p0=$(chance_floor "$P0" qa.reverse.heldout)
assert_not_above_chance "$(cell_hits qa.reverse.heldout)" 100 "$p0" 1e-4 \
  "reversal curse on the authors' Experiment 3: acc.qa.reverse.heldout"
tl_end
