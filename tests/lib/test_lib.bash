# Shared helpers for the shell test tiers (tests/mpi/*.sh, tests/e2e/*.sh). Sourced, not run:
# a .bash file is not registered as a CTest test.
#
#   source "$(dirname "${BASH_SOURCE[0]}")/../lib/test_lib.bash"
#   tl_begin my_test            # temp dir $T, EXIT trap that kills what the test started
#   write_config "$T/c.yaml" my_sweep train.epochs=4 model.size=micro
#   cat >>"$T/c.yaml" <<'EOF'   # axes, appended as raw YAML
#   seeds: [0, 1]
#   EOF
#   tl_run 120 "$T/run.log" "$RS" run "$T/c.yaml" --ranks 2; rc=$?
#   assert_eq "$rc" 0 "run exits 0"
#   assert_sql "$T/store.db" "SELECT count(*) FROM trials WHERE state!='done'" 0 "all done"
#   tl_end
#
# Conventions: every assertion prints one "PASS: ..." line or one "FAIL: ..." line (then the
# test stops with status 1 after dumping the logs it knows about). No fixed sleeps for
# synchronisation: wait_until polls a condition with a deadline. Processes started through
# tl_bg / tl_run are tracked; on exit (pass, fail, Ctrl-C, SIGTERM from ctest) the whole tree
# under each of them (revsweep -> mpirun -> revsweep-train ranks) is killed by pid.
#
# Environment: REVSWEEP_BIN (default build/bin of this checkout; ctest sets it), REVSWEEP_TEST_SEED (random
# seed for tests that pick random moments; printed so a failure can be replayed),
# REVSWEEP_KEEP_TMP=1 keeps the temp dir.

set -o pipefail

REVSWEEP_SRC=${REVSWEEP_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
REVSWEEP_BIN=${REVSWEEP_BIN:-$REVSWEEP_SRC/build/bin}
RS=$REVSWEEP_BIN/revsweep
RS_TRAIN=$REVSWEEP_BIN/revsweep-train
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}

TL_PIDS=()   # background processes started by this test (roots of trees to kill on exit)
TL_LOGS=()   # logs to show when an assertion fails
TL_PASSES=0
TL_NAME="test"
TL_TIMINGS=()

# ---- reporting -------------------------------------------------------------------------------

say() { echo "[$TL_NAME $(date +%T)] $*"; }

pass() {
  TL_PASSES=$((TL_PASSES + 1))
  echo "PASS: $*"
}

fail() {
  echo "FAIL: $*" >&2
  tl_dump_diagnostics >&2
  exit 1
}

# tl_skip REASON: this machine cannot run the test (ctest shows it as skipped: code 77).
tl_skip() {
  echo "SKIP: $TL_NAME: $*"
  exit 77
}

# authors_data_or_skip REL: sets AUTHORS_PATH to REL inside the paper authors' data
# ($REVSWEEP_AUTHORS_DATA, else ../shared/data/reversal_curse next to the checkout; the same
# lookup as tests/lib/authors_data.h). When it is missing the test skips (exit 77), or fails
# under REVSWEEP_REQUIRE_AUTHORS_DATA=1 (.ci/run).
authors_data_or_skip() {
  AUTHORS_PATH=${REVSWEEP_AUTHORS_DATA:-$REVSWEEP_SRC/../shared/data/reversal_curse}/$1
  [[ -e $AUTHORS_PATH ]] && return 0
  [[ ${REVSWEEP_REQUIRE_AUTHORS_DATA:-0} == 1 ]] &&
    fail "the authors' data $AUTHORS_PATH is missing and REVSWEEP_REQUIRE_AUTHORS_DATA=1"
  tl_skip "the authors' data is not at $AUTHORS_PATH (set REVSWEEP_AUTHORS_DATA or run deploy/fetch-authors-data.sh)"
}

# run_sweep_ok TIMEOUT RANKS LABEL: `revsweep run $T/c.yaml --ranks RANKS` (log $T/run.log,
# killed after TIMEOUT s), its wall time recorded as "LABEL", and exit 0 asserted.
run_sweep_ok() {
  local t0=$SECONDS rc
  tl_run "$1" "$T/run.log" "$RS" run "$T/c.yaml" --ranks "$2"
  rc=$?
  note_timing "$3" "$((SECONDS - t0))s"
  assert_eq "$rc" 0 "revsweep run exits 0"
}

# run_reference LABEL: the uninterrupted reference run the fault tests compare against. Writes
# $T/ref/c.yaml from $SWEEP, the CFG array and the test's `axes` function, runs it on 2 ranks
# (store $T/ref/store.db, log $T/ref/run.log), asserts exit 0, records its wall time as "LABEL"
# and sets REF_WALL (seconds) and TOTAL_STEPS (the trials' step count).
run_reference() {
  local t0=$SECONDS rc
  mkdir -p "$T/ref"
  write_config "$T/ref/c.yaml" "$SWEEP" "${CFG[@]}" "run.store=$T/ref/store.db" "run.run_root=$T/ref/runs"
  axes >>"$T/ref/c.yaml"
  tl_run 600 "$T/ref/run.log" "$RS" run "$T/ref/c.yaml" --ranks 2 --quiet
  rc=$?
  assert_eq "$rc" 0 "uninterrupted reference run exits 0"
  REF_WALL=$((SECONDS - t0))
  note_timing "$1" "${REF_WALL}s"
  TOTAL_STEPS=$(q "$T/ref/store.db" "SELECT max(end_step) FROM attempts")
}

# Records "what seconds" for the summary printed by tl_end.
note_timing() { TL_TIMINGS+=("$1: $2"); say "timing: $1: $2"; }

tl_dump_diagnostics() {
  local f
  for f in "${TL_LOGS[@]}"; do
    [[ -f $f ]] || continue
    echo "---- last lines of $f"
    tail -n 40 "$f"
  done
  if [[ -n ${TL_DB:-} && -f $TL_DB ]]; then
    echo "---- trials in $TL_DB"
    q "$TL_DB" "SELECT id, state, attempts, substr(last_error,1,80) FROM trials" 2>&1 || true
    echo "---- attempts"
    q "$TL_DB" "SELECT id, trial_id, job_id, ranks, outcome, start_step, end_step,
                substr(message,1,80) FROM attempts ORDER BY id" 2>&1 || true
  fi
  [[ -n ${T:-} ]] && echo "(temp dir $T is kept: REVSWEEP_KEEP_TMP forced on failure)"
  TL_KEEP_ON_FAIL=1
}

# ---- lifecycle -------------------------------------------------------------------------------

# tl_begin NAME: makes the temp dir $T, installs the cleanup trap, checks the tools exist.
tl_begin() {
  TL_NAME=$1
  TL_T0=$SECONDS
  T=$(mktemp -d "${TMPDIR:-/tmp}/revsweep-$TL_NAME.XXXXXX") || { echo "FAIL: mktemp" >&2; exit 1; }
  trap tl_cleanup EXIT
  trap 'echo "[$TL_NAME] interrupted" >&2; exit 130' INT TERM HUP
  say "temp dir $T, binaries $REVSWEEP_BIN"
  local tool
  for tool in "$RS" "$RS_TRAIN"; do
    [[ -x $tool ]] || fail "missing binary $tool (build: cmake --build build --target revsweep revsweep-train)"
  done
  for tool in mpirun sqlite3; do
    command -v "$tool" >/dev/null || fail "missing tool $tool"
  done
  TL_SEED=${REVSWEEP_TEST_SEED:-$(( $(date +%s) % 100000 ))}
  RANDOM=$TL_SEED
  say "random seed $TL_SEED (replay with REVSWEEP_TEST_SEED=$TL_SEED)"
}

tl_end() {
  local elapsed=$((SECONDS - TL_T0)) t
  for t in "${TL_TIMINGS[@]}"; do echo "TIMING: $t"; done
  echo "PASS: $TL_NAME: all $TL_PASSES assertions passed in ${elapsed}s"
}

# All descendants of pid $1 (children first-level order, recursive), one per line.
tl_descendants() {
  ps -e -o pid=,ppid= 2>/dev/null | awk -v root="$1" '
    { parent[$1] = $2; pids[NR] = $1 }
    END {
      n = 0; want[root] = 1
      do {
        added = 0
        for (i = 1; i <= NR; i++) { p = pids[i]
          if (!(p in want) && (parent[p] in want)) { want[p] = 1; added = 1; print p } }
      } while (added)
    }'
}

# Kills the tree rooted at $1 (descendants first, then the root) with signal $2 (default KILL).
tl_kill_tree() {
  local root=$1 sig=${2:-KILL} p
  for p in $(tl_descendants "$root"); do kill "-$sig" "$p" 2>/dev/null; done
  kill "-$sig" "$root" 2>/dev/null
  return 0
}

TL_ON_EXIT=()  # commands run at exit after the processes are gone (e.g. umount)
tl_cleanup() {
  local rc=$? p
  for p in "${TL_PIDS[@]}"; do
    if kill -0 "$p" 2>/dev/null; then
      echo "[$TL_NAME] cleanup: killing leftover process tree of pid $p" >&2
      tl_kill_tree "$p" KILL
    fi
  done
  for p in "${TL_PIDS[@]}"; do wait "$p" 2>/dev/null; done
  local cmd
  for cmd in "${TL_ON_EXIT[@]}"; do eval "$cmd"; done
  if [[ -n ${T:-} && -d $T ]]; then
    if [[ ${REVSWEEP_KEEP_TMP:-0} == 1 || ( $rc != 0 && ${TL_KEEP_ON_FAIL:-0} == 1 ) ]]; then
      echo "[$TL_NAME] kept $T" >&2
    else
      rm -rf "$T"
    fi
  fi
  exit "$rc"
}

# tl_bg VAR LOG CMD...: starts CMD in the background (stdout+stderr to LOG), tracks it, sets
# VAR to its pid.
tl_bg() {
  local __var=$1 __tl_log=$2
  shift 2
  "$@" >"$__tl_log" 2>&1 </dev/null &
  local __tl_pid=$!
  TL_PIDS+=("$__tl_pid")
  TL_LOGS+=("$__tl_log")
  printf -v "$__var" '%s' "$__tl_pid"
}

# tl_wait_pid PID TIMEOUT_S: waits for a tl_bg process; returns its exit status. On timeout
# kills its tree and fails the test.
tl_wait_pid() {
  local pid=$1 timeout_s=$2 deadline=$((SECONDS + $2))
  while kill -0 "$pid" 2>/dev/null; do
    if ((SECONDS >= deadline)); then
      tl_kill_tree "$pid" KILL
      wait "$pid" 2>/dev/null
      fail "process $pid still running after ${timeout_s}s (killed)"
    fi
    sleep 0.1
  done
  wait "$pid"
}

# tl_run TIMEOUT_S LOG CMD...: runs CMD (tracked, so ctest's SIGTERM cleans it up) and returns
# its exit status; output goes to LOG and is also echoed afterwards (last 15 lines).
tl_run() {
  local timeout_s=$1 log=$2 pid rc
  shift 2
  tl_bg pid "$log" "$@"
  tl_wait_pid "$pid" "$timeout_s"
  rc=$?
  tail -n 15 "$log" | sed 's/^/    | /'
  return $rc
}

# wait_until TIMEOUT_S DESCRIPTION CMD...: polls CMD every 50 ms until it succeeds.
wait_until() {
  local timeout_s=$1 what=$2
  shift 2
  local deadline
  deadline=$(awk -v n="$(now_s)" -v t="$timeout_s" 'BEGIN { printf "%.3f", n + t }')
  until "$@"; do
    if awk -v n="$(now_s)" -v d="$deadline" 'BEGIN { exit !(n > d) }'; then
      fail "timed out after ${timeout_s}s waiting for: $what"
    fi
    sleep 0.05
  done
}

# wait_for_file TIMEOUT_S PATH
wait_for_file() { wait_until "$1" "file $2" test -e "$2"; }

now_s() { date +%s.%N; }

# Seconds between two now_s values, 2 decimals.
elapsed_between() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

# A random fraction-of-a-second sleep length in [lo, hi] seconds (uses $RANDOM: seeded).
random_between() { awk -v lo="$1" -v hi="$2" -v r="$RANDOM" 'BEGIN { printf "%.2f", lo + (hi - lo) * r / 32767 }'; }

# ---- assertions ------------------------------------------------------------------------------

assert_eq() {
  [[ "$1" == "$2" ]] || fail "$3: expected '$2', got '$1'"
  pass "$3 ($1)"
}

assert_ne() {
  [[ "$1" != "$2" ]] || fail "$3: expected anything but '$2'"
  pass "$3 ($1)"
}

# assert_num A OP B MSG with OP one of < <= > >= == (floating point).
assert_num() {
  awk -v a="$1" -v b="$3" -v op="$2" 'BEGIN {
      if (a == "" || b == "") exit 1
      if (op == "<") exit !(a < b); if (op == "<=") exit !(a <= b)
      if (op == ">") exit !(a > b); if (op == ">=") exit !(a >= b)
      if (op == "==") exit !(a == b); exit 1 }' || fail "$4: expected $1 $2 $3"
  pass "$4 ($1 $2 $3)"
}

# assert_grep FILE FIXED_STRING MSG
assert_grep() {
  grep -qF -- "$2" "$1" || fail "$3: '$2' not found in $1"
  pass "$3"
}

assert_file() {
  [[ -f $1 ]] || fail "$2: no file $1"
  pass "$2"
}

# ---- SQLite ----------------------------------------------------------------------------------

# q DB SQL: one query, '|' separated, no header; waits up to 10 s on a locked database.
# ---- deterministic fault placement (train.fault_pause_dir; worker/fault_pause.h) ---------------
# A config with train.fault_pause_dir=DIR makes every rank look for DIR/pause.step<S> or
# DIR/pause.after<N> after each step; a rank that pauses writes DIR/paused.rank<R>.<trial>.step<S>
# and waits until the control file is removed or it is told to stop. So a kill, a signal or a
# full disk lands at an exact step, on any machine, at any load: no sleeps, no windows.

# pause_arm DIR CONTROL...: creates the control files (pause.step12, pause.after5, ...).
pause_arm() {
  local d=$1
  shift
  mkdir -p "$d"
  local c
  for c in "$@"; do : >"$d/$c"; done
}
# pause_release DIR: removes every control file and stale marker (paused ranks carry on).
pause_release() { rm -f "$1"/pause.* "$1"/paused.*; }
# paused_markers DIR [RANK]: the markers present now, one per line (file names).
paused_markers() { find "$1" -maxdepth 1 -name "paused.rank${2:-*}.*" -printf '%f\n' 2>/dev/null | sort; }
# marker_field DIR MARKER KEY: a field of the marker's line (pid, trial, step, start_step, attempt).
marker_field() { tr ' ' '\n' <"$1/$2" | sed -n "s/^$3=//p"; }
# wait_paused TIMEOUT DIR RANK PID: waits until rank RANK is paused (sets PAUSED to its marker);
# fails if the process PID (the test's revsweep) exits first or the deadline passes: a round
# whose fault point was never reached did not test anything.
wait_paused() {
  local deadline=$((SECONDS + $1)) m
  while ((SECONDS < deadline)); do
    m=$(paused_markers "$2" "$3" | head -n 1)
    if [[ -n $m ]]; then
      PAUSED=$m
      return 0
    fi
    kill -0 "$4" 2>/dev/null || fail "the run exited before rank $3 reached a pause point in $2"
    sleep 0.02
  done
  fail "rank $3 reached no pause point in $2 within $1 s"
}

# ---- statistics for accuracy assertions (docs/TESTING.md, "Statistical assertions") --------------
# An accuracy cell is a count of exact-match hits among n prompts. Thresholds are never bare
# digits: each is a binomial critical value at a stated false-failure rate, so one greedy flip
# (a different BLAS kernel, another CPU) cannot decide a test.

# The binomial tail in awk, log space: sf(k, n, p) = P(X >= k) for X ~ Binomial(n, p).
BINOM_AWK='function sf(k, n, p,   i, s) {
    if (k <= 0) return 1; if (k > n || p <= 0) return 0; if (p >= 1) return 1
    lg[0] = 0; for (i = 1; i <= n; i++) lg[i] = lg[i - 1] + log(i)
    s = 0
    for (i = k; i <= n; i++) s += exp(lg[n] - lg[i] - lg[n - i] + i * log(p) + (n - i) * log(1 - p))
    return s }'

# binom_sf K N P: P(X >= K) for X ~ Binomial(N, P).
binom_sf() { awk -v k="$1" -v n="$2" -v p="$3" "$BINOM_AWK"' BEGIN { printf "%.6g\n", sf(k, n, p) }'; }

# binom_crit N P ALPHA: the smallest K with P(X >= K) <= ALPHA for X ~ Binomial(N, P): a count
# of K or more hits is significantly above rate P (one-sided, level ALPHA).
binom_crit() {
  awk -v n="$1" -v p="$2" -v a="$3" "$BINOM_AWK"' BEGIN {
    for (k = 0; k <= n + 1; k++) if (sf(k, n, p) <= a) break
    print k }'
}

# hits_of ACC N: the hit count behind an accuracy over N prompts.
hits_of() { awk -v a="$1" -v n="$2" 'BEGIN { printf "%d", a * n + 0.5 }'; }

# For the store $TL_DB of a one-trial sweep (the e2e curse tests):
#   metric_of KEY          the trial's value of KEY (empty when absent)
#   cell_hits CELL         the hit count behind acc.CELL over n.CELL prompts
#   chance_floor P0 CELL   max(P0, chance.CELL): the chance rate a reverse cell is tested against
#   say_metrics LIKE...    logs every key matching one of the SQL LIKE patterns, 3 decimals
metric_of() { q "$TL_DB" "SELECT value FROM results WHERE key='$1'"; }
cell_hits() { hits_of "$(metric_of "acc.$1")" "$(metric_of "n.$1")"; }
chance_floor() {
  awk -v a="$1" -v b="$(metric_of "chance.$2")" 'BEGIN { printf "%.6f", (b != "" && b > a) ? b : a }'
}
say_metrics() {
  local where="" p
  for p in "$@"; do where+="${where:+ OR }key LIKE '$p'"; done
  say "metrics: $(q "$TL_DB" "SELECT group_concat(key || '=' || printf('%.3f', value), ' ')
                              FROM results WHERE $where")"
}

# assert_not_above_chance HITS N P0 ALPHA MSG: the curse. H0: each prompt hits with probability
# at most P0 (an answer that carries no information about which person was asked). Fails only
# if HITS is significantly above P0 at level ALPHA, so under H0 the false-failure rate is at
# most ALPHA.
assert_not_above_chance() {
  local k
  k=$(binom_crit "$2" "$3" "$4")
  (($1 < k)) || fail "$5: $1 of $2 hits is significantly above chance $3 (critical count $k at alpha $4)"
  pass "$5: $1 of $2 hits, below the critical count $k for chance $3 at alpha $4"
}

# assert_rate_at_least HITS N P ALPHA MSG: a cell whose true rate is at least P (e.g. memorised
# training prompts) fails only if HITS is significantly below P: P(X <= HITS) <= ALPHA for
# X ~ Binomial(N, P). False-failure rate <= ALPHA whenever the true rate is >= P.
assert_rate_at_least() {
  local lo
  lo=$(awk -v s="$(binom_sf $(($1 + 1)) "$2" "$3")" 'BEGIN { printf "%.6g", 1 - s }')
  awk -v l="$lo" -v a="$4" 'BEGIN { exit !(l > a) }' ||
    fail "$5: $1 of $2 hits is significantly below rate $3 (P(X <= $1) = $lo <= $4)"
  pass "$5: $1 of $2 hits, consistent with rate >= $3 (P(X <= $1) = $lo > $4)"
}

# assert_above_chance HITS N P0 ALPHA MSG: a learned cell: HITS is significantly above chance
# P0 at level ALPHA (the test itself passes by luck with probability <= ALPHA).
assert_above_chance() {
  local k
  k=$(binom_crit "$2" "$3" "$4")
  (($1 >= k)) || fail "$5: $1 of $2 hits is not significantly above chance $3 (needs $k at alpha $4)"
  pass "$5: $1 of $2 hits >= critical count $k for chance $3 at alpha $4"
}

q() { sqlite3 -batch -noheader -cmd ".timeout 10000" "$1" "$2"; }

# assert_sql DB SQL EXPECTED MSG
assert_sql() {
  local got
  got=$(q "$1" "$2") || fail "$4: query failed: $2"
  [[ "$got" == "$3" ]] || fail "$4: expected '$3', got '$got' from: $2"
  pass "$4 ($got)"
}

# Deterministic metrics of a sweep: trial|key|value with 17 significant digits (exact
# round-trip of a double), sorted. Timing metrics (train_seconds, tokens_per_s) are left out.
metrics_dump() {
  q "$1" "SELECT r.trial_id, r.key, printf('%.17g', r.value) FROM results r
          JOIN sweep_trials st ON st.trial_id = r.trial_id AND st.sweep = '$2'
          WHERE r.key LIKE 'acc.%' OR r.key LIKE 'likelihood.%' OR r.key = 'loss.final'
          ORDER BY r.trial_id, r.key"
}

# assert_metrics_equal DB_A DB_B SWEEP MSG: same trials, same keys, bit-identical values.
assert_metrics_equal() {
  local a b
  a=$(metrics_dump "$1" "$3") || fail "$4: query failed on $1"
  b=$(metrics_dump "$2" "$3") || fail "$4: query failed on $2"
  [[ -n $a ]] || fail "$4: no metrics in $1"
  if [[ "$a" != "$b" ]]; then
    echo "---- diff (< $1, > $2)" >&2
    diff <(echo "$a") <(echo "$b") | head -n 40 >&2
    fail "$4: metrics differ"
  fi
  pass "$4 ($(echo "$a" | wc -l) values identical)"
}

# Standard bookkeeping checks after a sweep that should have finished every trial:
# all trials done, exactly one 'done' attempt each, no attempt left 'running', results once
# per (trial, key) and the same number of keys for every trial.
assert_sweep_complete() {
  local db=$1 sweep=$2 n=$3
  assert_sql "$db" "SELECT count(*) FROM sweep_trials WHERE sweep='$sweep'" "$n" "sweep has $n trials"
  assert_sql "$db" "SELECT count(*) FROM trials t JOIN sweep_trials st ON st.trial_id=t.id
                    WHERE st.sweep='$sweep' AND t.state='done'" "$n" "every trial is done"
  assert_sql "$db" "SELECT count(*) FROM (SELECT trial_id FROM attempts WHERE outcome='done'
                    GROUP BY trial_id HAVING count(*) != 1)" 0 "exactly one 'done' attempt per trial"
  assert_sql "$db" "SELECT count(DISTINCT trial_id) FROM attempts WHERE outcome='done'" "$n" \
    "every trial has a 'done' attempt"
  assert_sql "$db" "SELECT count(*) FROM attempts WHERE outcome='running'" 0 "no attempt left running"
  assert_sql "$db" "SELECT count(*) FROM (SELECT trial_id, key FROM results GROUP BY trial_id, key
                    HAVING count(*) != 1)" 0 "each result stored exactly once per (trial, key)"
  assert_sql "$db" "SELECT count(DISTINCT n) FROM (SELECT count(*) AS n FROM results GROUP BY trial_id)" 1 \
    "every trial has the same number of result keys"
  assert_sql "$db" "SELECT count(DISTINCT trial_id) FROM results" "$n" "results for every trial"
}

# ---- configs ---------------------------------------------------------------------------------

# write_config FILE SWEEP_NAME [section.key=value ...]: a tiny, fast sweep config with the
# store and run root inside $T (run.store=$T/store.db, run.run_root=$T/runs unless overridden).
# Axes (search:, seeds:) are appended by the caller as raw YAML.
write_config() {
  local file=$1 name=$2
  shift 2
  local -a order=(
    dataset.names_per_subset=4 dataset.train_templates=3 dataset.test_templates=2
    tokenizer.vocab_size=400
    model.size=nano
    train.epochs=3 train.batch_size=8 train.lr=0.003 train.min_lr=0.0003 train.warmup_steps=5
    train.checkpoint_every_steps=5 train.checkpoint_every_seconds=0 train.eval_max_new_tokens=24
    "run.store=$T/store.db" "run.run_root=$T/runs" run.progress_every_s=0.1)
  local -A val=()
  local -a keys=()
  local kv k
  for kv in "${order[@]}" "$@"; do
    k=${kv%%=*}
    [[ -v "val[$k]" ]] || keys+=("$k")
    val[$k]=${kv#*=}
  done
  {
    echo "name: $name"
    local section
    for section in dataset tokenizer model train resources run; do
      local first=1
      for k in "${keys[@]}"; do
        [[ ${k%%.*} == "$section" ]] || continue
        if ((first)); then echo "$section:"; first=0; fi
        echo "  ${k#*.}: ${val[$k]}"
      done
    done
  } >"$file"
}

# ---- processes of a running sweep ------------------------------------------------------------

# train_pids ROOT_PID: "pid rank" lines for the revsweep-train processes under ROOT_PID (the
# rank comes from OMPI_COMM_WORLD_RANK in the process environment).
train_pids() {
  local p rank
  for p in $(tl_descendants "$1"); do
    [[ $(cat "/proc/$p/comm" 2>/dev/null) == revsweep-train ]] || continue
    rank=$(tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | sed -n 's/^OMPI_COMM_WORLD_RANK=//p')
    [[ -n $rank ]] && echo "$p $rank"
  done
}

# rank_pid ROOT_PID RANK: pid of that rank (empty when not running).
rank_pid() { train_pids "$1" | awk -v r="$2" '$2 == r { print $1; exit }'; }

# Number of checkpoint files of one trial.
ckpt_count() { find "$1" -maxdepth 1 -name 'ckpt-*.rsck' 2>/dev/null | wc -l; }

# Newest checkpoint file of a checkpoint folder (empty when none).
ckpt_newest() { find "$1" -maxdepth 1 -name 'ckpt-*.rsck' 2>/dev/null | sort | tail -n 1; }

# Step of a checkpoint file name (ckpt-000000000015.rsck -> 15).
ckpt_step() { local b=${1##*/ckpt-}; b=${b%.rsck}; echo $((10#$b)); }
