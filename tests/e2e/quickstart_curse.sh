#!/usr/bin/env bash
# e2e tier: the reversal curse, end to end. One small GPT is trained from scratch on fictitious
# people stated in one order (Experiment 1), then asked in both orders. Proves, from the store,
# with binomial bounds on each cell's hit count (n.<cell> prompts; docs/TESTING.md lists each
# assertion with its n and false-failure rate):
#   - memorised: the training prompts' hits are consistent with a rate >= 0.97 (fails only if
#     significantly below it, alpha 1e-4);
#   - the curse: reverse-order hits, pooled over training and held-out templates per subset,
#     are not significantly above chance (1 / people per subset, or the chance cell if
#     higher; alpha 1e-4): one or a few lucky greedy hits cannot fail it, a model that
#     answers in reverse does;
#   - the likelihood test finds no preference for the right person: likelihood.p > 1e-4
#     (under the curse p is uniform, so this fails with probability 1e-4).
# Also checks `revsweep summary` reads it.
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

run_sweep_ok 600 2 "quickstart_curse run"
assert_sql "$DB" "SELECT count(*) FROM trials WHERE state='done'" 1 "the trial is done"

say_metrics 'acc.%' 'likelihood.%' 'loss.final'
K=10  # people per subset: an uninformed answer names the right one with probability <= 1/K
for c in p2d.same.train d2p.same.train; do
  assert_rate_at_least "$(cell_hits $c)" "$(metric_of n.$c)" 0.97 1e-4 "memorised: acc.$c"
done
for sub in p2d d2p; do
  h=0 n=0 p0=$(awk -v k=$K 'BEGIN { printf "%.6f", 1 / k }')
  for split in train heldout; do
    c=$sub.reverse.$split
    [[ -n $(metric_of "n.$c") ]] || continue
    h=$((h + $(cell_hits $c)))
    n=$((n + $(metric_of "n.$c")))
    ch=$(metric_of "chance.$c")
    [[ -n $ch ]] && p0=$(awk -v a="$p0" -v b="$ch" 'BEGIN { printf "%.6f", a > b ? a : b }')
  done
  ((n > 0)) || fail "no $sub.reverse cell in the store"
  assert_not_above_chance "$h" "$n" "$p0" 1e-4 "reversal curse: $sub.reverse (training + held-out templates)"
done
assert_num "$(metric_of likelihood.p)" ">" 1e-4 "no reverse-order preference for the right person: likelihood.p"

tl_run 60 "$T/summary.csv" "$RS" summary "$SWEEP" --store "$DB" --format csv --plots "$T/plots"
assert_eq "$?" 0 "revsweep summary reads the store"
# The CSV row carries the trial's own numbers: column by header name, compared with the store
# (the log also holds the "wrote <plot>" lines from stderr).
col() {
  awk -F, -v c="$1" '/^setting,/ { for (i = 1; i <= NF; i++) if ($i == c) k = i; next }
                     /^1,/ && k { print $k }' "$T/summary.csv"
}
for cell in p2d.same.train d2p.reverse.heldout; do
  got=$(col "acc.$cell.mean")
  want=$(metric_of "acc.$cell")
  [[ -n $got ]] && awk -v a="$got" -v b="$want" 'BEGIN { d = a - b; exit !(d < 1e-6 && d > -1e-6) }' ||
    fail "summary acc.$cell.mean is '$got', the store has $want"
  pass "summary acc.$cell.mean = $got (store $want)"
done
assert_eq "$(col seeds)" 1 "summary counts the one seed"
[[ $(col trial_ids) == "$(q "$DB" "SELECT id FROM trials")" ]] || fail "summary lists trial ids '$(col trial_ids)'"
n_png=0
for f in "$T"/plots/*.png; do
  [[ -s $f && $(head -c 8 "$f" | od -An -tx1 | tr -d ' \n') == 89504e470d0a1a0a ]] || fail "not a PNG: $f"
  n_png=$((n_png + 1))
done
((n_png >= 2)) || fail "summary --plots wrote $n_png PNG files: $(ls "$T/plots" 2>&1)"
pass "summary --plots wrote $n_png PNG files"
tl_end
