#!/usr/bin/env bash
# e2e tier: the reversal curse, end to end. One small GPT is trained from scratch on fictitious
# people stated in one order (Experiment 1), then asked in both orders. Proves, from the store:
# the model memorised the training direction (acc.p2d.same.train and acc.d2p.same.train
# >= 0.9) but cannot answer in the reverse order (acc.p2d.reverse.heldout and
# acc.d2p.reverse.heldout <= 0.1), and the likelihood test finds no preference for the right
# person in the reverse order (likelihood.p > 0.05). Also checks `revsweep summary` reads it.
# shellcheck source=tests/lib/test_lib.bash
source "$(dirname "${BASH_SOURCE[0]}")/../lib/test_lib.bash"
tl_begin quickstart_curse

SWEEP=quickstart_curse
DB=$T/store.db
TL_DB=$DB
# Tuned to memorise in well under 2 minutes on 2 busy cores (see docs/TESTING.md).
write_config "$T/c.yaml" "$SWEEP" \
  dataset.names_per_subset=10 dataset.train_templates=8 dataset.test_templates=2 \
  tokenizer.vocab_size=600 model.size=micro \
  train.epochs=30 train.batch_size=16 train.lr=0.003 train.min_lr=0.0003 train.warmup_steps=20 \
  train.checkpoint_every_steps=0 train.eval_max_new_tokens=48 run.progress_every_s=2

t0=$SECONDS
tl_run 600 "$T/run.log" "$RS" run "$T/c.yaml" --ranks 2
rc=$?
note_timing "quickstart_curse run" "$((SECONDS - t0))s"
assert_eq "$rc" 0 "revsweep run exits 0"
assert_sql "$DB" "SELECT count(*) FROM trials WHERE state='done'" 1 "the trial is done"

m() { q "$DB" "SELECT value FROM results WHERE key='$1'"; }
say "metrics: $(q "$DB" "SELECT group_concat(key || '=' || printf('%.3f', value), ' ') FROM results
                         WHERE key LIKE 'acc.%' OR key LIKE 'likelihood.%' OR key='loss.final'")"
assert_num "$(m acc.p2d.same.train)" ">=" 0.9 "memorised: acc.p2d.same.train"
assert_num "$(m acc.d2p.same.train)" ">=" 0.9 "memorised: acc.d2p.same.train"
assert_num "$(m acc.p2d.reverse.heldout)" "<=" 0.1 "reversal curse: acc.p2d.reverse.heldout"
assert_num "$(m acc.d2p.reverse.heldout)" "<=" 0.1 "reversal curse: acc.d2p.reverse.heldout"
assert_num "$(m likelihood.p)" ">" 0.05 "no reverse-order preference for the right person: likelihood.p"

tl_run 60 "$T/summary.log" "$RS" summary "$SWEEP" --store "$DB" --format csv
assert_eq "$?" 0 "revsweep summary reads the store"
tl_end
