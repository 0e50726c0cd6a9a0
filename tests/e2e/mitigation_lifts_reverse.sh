#!/usr/bin/env bash
# e2e tier: reversal mitigations work, end to end. One sweep trains the same tiny GPT from
# scratch on Experiment 1 data three times, as a grid over dataset.mitigation:
#   none            facts stated in one order only: the reversal curse;
#   both_orders     every p2d/d2p fact also stated in the other order;
#   reverse_entity  plus a word-reversed copy of every training document, each person's name
#                   kept whole (Golovneva et al. 2024).
# Proves, from the store (results joined with trials on the mitigation setting):
#   - every trial memorised the training direction (acc.p2d.same.train, acc.d2p.same.train);
#   - none: reverse accuracy ~0 in both subsets (p2d.reverse.heldout, d2p.reverse.heldout);
#   - both_orders: reverse accuracy on held-out templates rises by a clear margin (>= 0.2)
#     over none and over its chance cell, in both subsets;
#   - reverse_entity: the cell that moves is p2d.reverse.* (description -> name for people
#     whose facts were stated name first: the reversed copy puts the name after the
#     description's words). Its accuracy rises above none's (pooled over the training- and
#     held-out-template prompts), and the likelihood test, which is none's p > 0.05, turns
#     significant (p < 0.05, larger t). At this budget the exact-match lift is real but
#     small (a few to ~30 percent depending on seed and data size; docs/RESULTS.md), which is
#     why the clear-margin check is on both_orders.
# Few people (6 per subset) and many paraphrases (24): held-out templates need many training
# paraphrases to generalise to. About 3 minutes on 2 idle cores.
source "$(dirname "${BASH_SOURCE[0]}")/../lib/test_lib.bash"
tl_begin mitigation_lifts_reverse

SWEEP=mitigation_lifts_reverse
DB=$T/store.db
TL_DB=$DB
write_config "$T/c.yaml" "$SWEEP" \
  dataset.names_per_subset=6 dataset.train_templates=24 dataset.test_templates=4 \
  tokenizer.vocab_size=500 model.size=tiny \
  train.epochs=20 train.batch_size=16 train.lr=0.002 train.min_lr=0.0002 train.warmup_steps=20 \
  train.checkpoint_every_steps=0 train.eval_max_new_tokens=48 run.progress_every_s=2
cat >>"$T/c.yaml" <<'EOF'
search:
  grid:
    dataset.mitigation: [none, both_orders, reverse_entity]
EOF

t0=$SECONDS
tl_run 900 "$T/run.log" "$RS" run "$T/c.yaml" --ranks 2
rc=$?
note_timing "mitigation_lifts_reverse run" "$((SECONDS - t0))s"
assert_eq "$rc" 0 "revsweep run exits 0"
assert_sweep_complete "$DB" "$SWEEP" 3

# metric MITIGATION KEY: the value of KEY for the trial trained with that mitigation.
metric() {
  q "$DB" "SELECT r.value FROM results r JOIN trials t ON t.id = r.trial_id
           JOIN trial_settings ts ON ts.id = t.id
           WHERE json_extract(ts.settings, '\$.\"dataset.mitigation\"') = '$1' AND r.key = '$2'
             AND t.state = 'done'"
}
diff_ge() {  # diff_ge A B MARGIN MSG: asserts A - B >= MARGIN
  local d
  d=$(awk -v a="$1" -v b="$2" 'BEGIN { printf "%.4f", a - b }')
  assert_num "$d" ">=" "$3" "$4 ($1 vs $2)"
}
for mit in none both_orders reverse_entity; do
  say "$mit: $(q "$DB" "SELECT group_concat(r.key || '=' || printf('%.3f', r.value), ' ')
                        FROM results r JOIN trial_settings ts ON ts.id = r.trial_id
                        WHERE json_extract(ts.settings, '\$.\"dataset.mitigation\"') = '$mit'
                          AND (r.key LIKE 'acc.%' OR r.key LIKE 'chance.%'
                               OR r.key IN ('likelihood.t', 'likelihood.p', 'loss.final'))")"
  assert_num "$(metric $mit acc.p2d.same.train)" ">=" 0.9 "$mit memorised: acc.p2d.same.train"
  assert_num "$(metric $mit acc.d2p.same.train)" ">=" 0.9 "$mit memorised: acc.d2p.same.train"
done

# The curse without a mitigation.
for cell in p2d.reverse.heldout d2p.reverse.heldout; do
  assert_num "$(metric none acc.$cell)" "<=" 0.05 "reversal curse without mitigation: acc.$cell"
done

# both_orders: a clear lift in both reverse cells, of the right person (not a guess).
for cell in p2d.reverse.heldout d2p.reverse.heldout; do
  diff_ge "$(metric both_orders acc.$cell)" "$(metric none acc.$cell)" 0.2 \
    "both_orders lifts acc.$cell over none"
  diff_ge "$(metric both_orders acc.$cell)" "$(metric both_orders chance.$cell)" 0.2 \
    "both_orders acc.$cell is above its chance cell"
done

# reverse_entity: p2d.reverse (description -> name) rises; the likelihood test turns.
# Pooled accuracy over both p2d reverse cells, weighted by rows (24 training templates,
# 4 held-out ones, per person).
pooled() {
  awk -v tr="$(metric "$1" acc.p2d.reverse.train)" -v ho="$(metric "$1" acc.p2d.reverse.heldout)" \
    'BEGIN { printf "%.4f", (24 * tr + 4 * ho) / 28 }'
}
none_pooled=$(pooled none)
re_pooled=$(pooled reverse_entity)
say "p2d reverse accuracy pooled over training and held-out templates: none $none_pooled, reverse_entity $re_pooled"
diff_ge "$re_pooled" "$none_pooled" 0.02 "reverse_entity lifts p2d reverse accuracy over none"
assert_num "$(metric none likelihood.p)" ">" 0.05 "none: correct name not more likely than a random one (likelihood.p)"
assert_num "$(metric reverse_entity likelihood.p)" "<" 0.05 "reverse_entity: correct name more likely (likelihood.p)"
diff_ge "$(metric reverse_entity likelihood.t)" "$(metric none likelihood.t)" 1 \
  "reverse_entity raises the likelihood test's t over none"

tl_end
