#!/usr/bin/env bash
# e2e tier: Experiment 2 (real celebrities and their parents) as an evaluation-only trial
# (train.epochs 0) on the authors' parent_child_pairs.csv, with the GPT-2 tokenizer and a
# small GPT with random weights (with real GPT-2 weights, set model.init_from: see
# configs/exp2_celebrities.yaml). Proves from the store: the trial completes without training
# (steps 0), both directions are scored on all 1513 pairs (n.<cell>), chance baselines exist,
# and random weights know nothing: hits not significantly above 1% at alpha 1e-4.
# Needs the authors' data (skips visibly without it unless REVSWEEP_REQUIRE_AUTHORS_DATA=1)
# and the GPT-2 tokenizer files (fetched with deploy/fetch-gpt2-tokenizer.sh; skips when
# they cannot be fetched).
# shellcheck source=tests/lib/test_lib.bash
source "$(dirname "${BASH_SOURCE[0]}")/../lib/test_lib.bash"
tl_begin authors_exp2_eval

authors_data_or_skip exp2_celebrity_relations/parent_child_pairs.csv
CSV=$AUTHORS_PATH
GPT2_DIR=${REVSWEEP_GPT2_DIR:-$REVSWEEP_BIN/../gpt2-tokenizer}
if [[ ! -f $GPT2_DIR/encoder.json ]]; then
  bash "$REVSWEEP_SRC/deploy/fetch-gpt2-tokenizer.sh" "$GPT2_DIR" > "$T/fetch.log" 2>&1 ||
    tl_skip "no GPT-2 tokenizer at $GPT2_DIR and deploy/fetch-gpt2-tokenizer.sh failed: $(tail -1 "$T/fetch.log")"
fi

DB=$T/store.db
TL_DB=$DB
cat >"$T/c.yaml" <<YAML
name: exp2_random
dataset: {kind: exp2, source: $CSV}
tokenizer: {type: gpt2, gpt2_dir: $GPT2_DIR}
model: {size: custom, n_layer: 1, n_head: 2, d_model: 32}
train: {epochs: 0, eval_max_new_tokens: 8, checkpoint_every_steps: 0}
run: {store: $DB, run_root: $T/runs, progress_every_s: 5}
YAML

run_sweep_ok 600 1 "exp2 evaluation"
assert_sql "$DB" "SELECT count(*) FROM trials WHERE state='done'" 1 "the trial is done"
m() { q "$DB" "SELECT value FROM results WHERE key='$1'"; }
say "metrics: $(q "$DB" "SELECT group_concat(key || '=' || printf('%.4g', value), ' ') FROM results")"
assert_eq "$(printf '%.0f' "$(m steps)")" 0 "evaluation only: no training step"
for c in c2p.same.heldout p2c.reverse.heldout; do
  assert_eq "$(printf '%.0f' "$(m "n.$c")")" 1513 "n.$c: every pair of the CSV"
  [[ -n $(m "chance.$c") ]] || fail "no chance.$c in the store"
  assert_not_above_chance "$(hits_of "$(m "acc.$c")" 1513)" 1513 0.01 1e-4 \
    "random weights know no parents or children: acc.$c"
done
pass "chance baselines stored for both directions"
tl_end
