#!/usr/bin/env bash
# e2e tier: the reversal curse on the paper authors' own Experiment 1 folder, loaded as
# published (issue 14): 30 people per subset, 30 training paraphrases, 10 held-out ones, the
# both subset's held-out targets as whole sentences. One micro GPT, 20 epochs, one rank.
# Proves from the store (binomial bounds; docs/TESTING.md lists n and false-failure rates):
#   - the same direction is learned: description -> name on held-out templates and
#     name -> description on training templates are significantly above chance (1/30);
#   - the curse: both reverse cells (n = 300 each) are not significantly above chance
#     (max(1/30, the cell's randomized-completion rate)) at alpha 1e-4;
#   - the likelihood test finds no preference for the right name: likelihood.p > 1e-4.
# The folder: $REVSWEEP_AUTHORS_DATA, else ../shared/data/reversal_curse next to the
# checkout. Without it the test skips (exit 77), unless REVSWEEP_REQUIRE_AUTHORS_DATA=1.
# shellcheck source=tests/lib/test_lib.bash
source "$(dirname "${BASH_SOURCE[0]}")/../lib/test_lib.bash"
tl_begin authors_exp1_curse

authors_data_or_skip exp1_june_version_7921032488
DATA=$AUTHORS_PATH
# Given relative to the config file, as the shipped configs/authors_*.yaml do: the sweep then
# runs from another working directory (it once trained nothing and reported success).
DATA_REL=$(realpath --relative-to="$T" "$DATA")

SWEEP=authors_exp1
DB=$T/store.db
TL_DB=$DB
cat >"$T/c.yaml" <<YAML
name: $SWEEP
dataset:
  kind: exp1
  source: $DATA_REL
tokenizer:
  vocab_size: 600
model:
  size: micro
train:
  epochs: 20
  batch_size: 32
  checkpoint_every_steps: 0
  eval_max_new_tokens: 48
run:
  store: $DB
  run_root: $T/runs
  progress_every_s: 5
YAML

run_sweep_ok 800 1 "authors_exp1 run"
assert_sql "$DB" "SELECT count(*) FROM trials WHERE state='done'" 1 "the trial is done"

say_metrics 'acc.%' 'chance.%' 'likelihood.%'
for c in p2d.reverse.heldout d2p.reverse.heldout both_d2n.same.heldout; do
  assert_eq "$(printf "%.0f" "$(metric_of "n.$c")")" 300 "n.$c: the published folder's 300 rows"
done
P0=$(awk 'BEGIN { printf "%.6f", 1 / 30 }')  # naming one of the subset's 30 people blindly
for c in d2p.same.heldout p2d.same.train; do
  assert_above_chance "$(cell_hits $c)" "$(metric_of n.$c)" "$P0" 1e-4 "same direction learned: acc.$c"
done
for c in p2d.reverse.heldout d2p.reverse.heldout; do
  p0=$(chance_floor "$P0" "$c")
  assert_not_above_chance "$(cell_hits $c)" "$(metric_of n.$c)" "$p0" 1e-4 "reversal curse on the authors' data: acc.$c"
done
assert_num "$(metric_of likelihood.p)" ">" 1e-4 "no reverse-order preference for the right name: likelihood.p"
tl_end
