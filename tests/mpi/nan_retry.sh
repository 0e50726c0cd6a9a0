#!/usr/bin/env bash
# mpi tier: crash retries. Three trials on 2 ranks with train.fault_nan_at_step 3 (test-only
# fault injection) and run.retries_crash 2, differing in train.fault_nan_attempts (zipped with
# train.seed, since fault_* keys are not part of the trial id):
#   fault_nan_attempts 1  -> NaN in the first attempt only: one 'crash' (message names the NaN),
#                            then one 'done' attempt
#   fault_nan_attempts 10 -> NaN in every attempt: exactly 1 + retries_crash 'crash' attempts,
#                            state failed, last_error mentions the NaN
#   fault_nan_attempts 0  -> never: one 'done' attempt
# Proves: a non-finite loss is a crash, retried within the crash budget and no further; the
# sweep still completes every other trial and exits 1 (some failed).
# shellcheck source=tests/lib/test_lib.bash
source "$(dirname "${BASH_SOURCE[0]}")/../lib/test_lib.bash"
tl_begin nan_retry

SWEEP=nan_retry
RETRIES=2
write_config "$T/c.yaml" "$SWEEP" train.epochs=2 train.fault_nan_at_step=3 "run.retries_crash=$RETRIES"
cat >>"$T/c.yaml" <<'EOF'
search:
  zip:
    train.fault_nan_attempts: [1, 10, 0]
    train.seed: [0, 1, 2]
EOF
DB=$T/store.db
TL_DB=$DB

tl_run 60 "$T/validate.log" "$RS" validate "$T/c.yaml"
assert_eq "$?" 0 "train.fault_nan_attempts is a valid zip axis (revsweep validate)"

t0=$SECONDS
tl_run 600 "$T/run.log" "$RS" run "$T/c.yaml" --ranks 2
rc=$?
note_timing "nan_retry sweep (3 trials, 2 ranks)" "$((SECONDS - t0))s"
assert_eq "$rc" 1 "revsweep run exits 1 (one trial failed)"

# trial id for a given value of fault_nan_attempts (the view trial_settings gives each trial's
# full settings JSON).
tid() {
  q "$DB" "SELECT id FROM trial_settings WHERE json_extract(settings, '$.\"train.fault_nan_attempts\"') = $1"
}
ONCE=$(tid 1)
ALWAYS=$(tid 10)
NEVER=$(tid 0)
[[ -n $ONCE && -n $ALWAYS && -n $NEVER ]] ||
  fail "could not find the three trials by train.fault_nan_attempts (ids: '$ONCE' '$ALWAYS' '$NEVER')"
pass "three distinct trials: once=$ONCE always=$ALWAYS never=$NEVER"

outcomes() { q "$DB" "SELECT group_concat(outcome, ',') FROM (SELECT outcome FROM attempts WHERE trial_id='$1' ORDER BY id)"; }

# NaN once: crash, then done.
assert_eq "$(outcomes "$ONCE")" "crash,done" "NaN-once trial: attempts are crash then done"
assert_sql "$DB" "SELECT count(*) FROM attempts WHERE trial_id='$ONCE' AND outcome='crash'
                  AND lower(message) LIKE '%nan%' AND message LIKE '%step 3%'" 1 \
  "NaN-once trial: the crash message names the NaN loss and step 3"
assert_sql "$DB" "SELECT state FROM trials WHERE id='$ONCE'" "done" "NaN-once trial is done"

# NaN always: 1 + retries crashes, then failed.
expected=$(printf 'crash%.0s,' $(seq $((RETRIES + 1))))
assert_eq "$(outcomes "$ALWAYS")" "${expected%,}" "NaN-always trial: exactly 1 + retries_crash = $((RETRIES + 1)) crash attempts"
assert_sql "$DB" "SELECT count(*) FROM attempts WHERE trial_id='$ALWAYS' AND lower(message) NOT LIKE '%nan%'" 0 \
  "NaN-always trial: every crash message names the NaN"
assert_sql "$DB" "SELECT state FROM trials WHERE id='$ALWAYS'" failed "NaN-always trial is failed"
assert_sql "$DB" "SELECT lower(last_error) LIKE '%nan%' FROM trials WHERE id='$ALWAYS'" 1 \
  "NaN-always trial: last_error mentions the NaN ($(q "$DB" "SELECT last_error FROM trials WHERE id='$ALWAYS'"))"
assert_sql "$DB" "SELECT count(*) FROM results WHERE trial_id='$ALWAYS'" 0 "the failed trial has no results"
assert_sql "$DB" "SELECT attempts FROM trials WHERE id='$ALWAYS'" $((RETRIES + 1)) "trials.attempts counts every try"

# Never: one clean attempt.
assert_eq "$(outcomes "$NEVER")" "done" "NaN-never trial: a single done attempt"
assert_sql "$DB" "SELECT count(*) FROM (SELECT trial_id, key FROM results GROUP BY 1, 2 HAVING count(*) != 1)" 0 \
  "results stored once per (trial, key)"
assert_sql "$DB" "SELECT count(DISTINCT trial_id) FROM results" 2 "the two finished trials have results"
assert_sql "$DB" "SELECT count(*) FROM attempts WHERE outcome='running'" 0 "no attempt left running"
assert_grep "$T/run.log" "1 failed" "the final log line counts the failed trial"

tl_end
