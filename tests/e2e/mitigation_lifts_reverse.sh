#!/usr/bin/env bash
# e2e tier: a reversal mitigation works, end to end. One sweep trains the same tiny GPT from
# scratch twice on Experiment 1 data, as a grid over dataset.mitigation: `none` (facts stated
# in one order only) and `reverse_entity` (plus a word-reversed copy of every training
# document with each person's name kept whole, Golovneva et al. 2024). Proves, from the store:
#   - both trials memorised the training direction (acc.p2d.same.train, acc.d2p.same.train);
#   - without the mitigation the curse holds: acc.p2d.reverse.heldout ~ 0;
#   - with it, description -> name questions about the name-first (p2d) people are answered:
#     acc.p2d.reverse.heldout rises by a clear margin over `none` and over its chance cell
#     (the same generations scored against a random other person of the subset).
# The cell that rises is p2d.reverse.*: the reversed copy puts the name *after* the
# description's words, so the model learns description -> name. d2p.reverse (name ->
# description) stays near 0, as in the reference measurement (docs/RESULTS.md).
# Held-out description-first templates need many training paraphrases to generalise to, so
# this uses few people (6 per subset) and many paraphrases (24); ~2-3 minutes on 2 busy cores.
source "$(dirname "${BASH_SOURCE[0]}")/../lib/test_lib.bash"
tl_begin mitigation_lifts_reverse

SWEEP=mitigation_lifts_reverse
DB=$T/store.db
TL_DB=$DB
write_config "$T/c.yaml" "$SWEEP" \
  dataset.names_per_subset=6 dataset.train_templates=24 dataset.test_templates=4 \
  tokenizer.vocab_size=500 model.size=tiny \
  train.epochs=15 train.batch_size=16 train.lr=0.002 train.min_lr=0.0002 train.warmup_steps=20 \
  train.checkpoint_every_steps=0 train.eval_max_new_tokens=48 run.progress_every_s=2
cat >>"$T/c.yaml" <<'EOF'
search:
  grid:
    dataset.mitigation: [none, reverse_entity]
EOF

t0=$SECONDS
tl_run 900 "$T/run.log" "$RS" run "$T/c.yaml" --ranks 2
rc=$?
note_timing "mitigation_lifts_reverse run" "$((SECONDS - t0))s"
assert_eq "$rc" 0 "revsweep run exits 0"
assert_sweep_complete "$DB" "$SWEEP" 2

# metric MITIGATION KEY: the value of KEY for the trial trained with that mitigation.
metric() {
  q "$DB" "SELECT r.value FROM results r JOIN trials t ON t.id = r.trial_id
           WHERE json_extract(t.settings, '\$.\"dataset.mitigation\"') = '$1' AND r.key = '$2'
             AND t.state = 'done'"
}
for mit in none reverse_entity; do
  say "$mit: $(q "$DB" "SELECT group_concat(r.key || '=' || printf('%.3f', r.value), ' ')
                        FROM results r JOIN trials t ON t.id = r.trial_id
                        WHERE json_extract(t.settings, '\$.\"dataset.mitigation\"') = '$mit'
                          AND (r.key LIKE 'acc.%' OR r.key LIKE 'chance.p2d.%'
                               OR r.key IN ('likelihood.t', 'likelihood.p', 'loss.final'))")"
done

for mit in none reverse_entity; do
  assert_num "$(metric $mit acc.p2d.same.train)" ">=" 0.9 "$mit memorised: acc.p2d.same.train"
  assert_num "$(metric $mit acc.d2p.same.train)" ">=" 0.9 "$mit memorised: acc.d2p.same.train"
done

none_rev=$(metric none acc.p2d.reverse.heldout)
mit_rev=$(metric reverse_entity acc.p2d.reverse.heldout)
mit_chance=$(metric reverse_entity chance.p2d.reverse.heldout)
assert_num "$none_rev" "<=" 0.05 "reversal curse without mitigation: acc.p2d.reverse.heldout"
margin=$(awk -v a="$mit_rev" -v b="$none_rev" 'BEGIN { printf "%.4f", a - b }')
assert_num "$margin" ">=" 0.1 "reverse_entity lifts acc.p2d.reverse.heldout ($mit_rev vs $none_rev)"
margin=$(awk -v a="$mit_rev" -v b="$mit_chance" 'BEGIN { printf "%.4f", a - b }')
assert_num "$margin" ">=" 0.1 "the lift is the right person, not a guess ($mit_rev vs chance $mit_chance)"

tl_end
