# Helpers for tests/slurm/real_sweep_test.sh: the real `revsweep submit` / `revsweep-train` on the
# local cluster. Sourced after lib.bash (say, part_begin/part_end, fail, job_state, job_field,
# wait_until). Expects: T (the test's temp dir, everything it creates lives under it), STATE_DIR
# (the cluster's state dir, under T), SLURM_CONF, STORE, RUN_ROOT, WORK, REVSWEEP_BIN.
# Results for the caller come back in globals (SUBMITTED_ID, JOB_FINAL).
# shellcheck disable=SC2034

# ---- store ---------------------------------------------------------------------------------------

# Runs one SQL statement on the store; prints rows as a|b|c. Waits for the coordinator's write lock
# instead of failing with SQLITE_BUSY.
sql() { sqlite3 -batch -noheader -cmd '.timeout 10000' "$STORE" "$1"; }

# "pending running done failed" for a sweep.
sweep_counts() {
  sql "SELECT coalesce(sum(t.state='pending'),0), coalesce(sum(t.state='running'),0),
              coalesce(sum(t.state='done'),0), coalesce(sum(t.state='failed'),0)
       FROM sweep_trials st JOIN trials t ON t.id = st.trial_id WHERE st.sweep='$1'" | tr '|' ' '
}

sweep_trial_count() { sql "SELECT count(*) FROM sweep_trials WHERE sweep='$1'"; }

# Attempts of a sweep, one per line: id|trial|job|restart|outcome|start_step|end_step|message.
sweep_attempts() {
  sql "SELECT a.id, a.trial_id, a.job_id, a.slurm_restart, a.outcome, a.start_step, a.end_step,
              a.message
       FROM attempts a JOIN sweep_trials st ON st.trial_id = a.trial_id
       WHERE st.sweep='$1' ORDER BY a.trial_id, a.id"
}

# Newest checkpoint step on disk for a trial of a sweep (0 when none).
newest_ckpt_step() {
  local dir="$RUN_ROOT/$1/trials/$2/checkpoints" f best=0 n
  for f in "$dir"/ckpt-*.rsck; do
    [[ -f $f ]] || continue
    n=${f##*/ckpt-}
    n=$((10#${n%.rsck}))
    ((n > best)) && best=$n
  done
  echo "$best"
}

# The trial ids of the paused.* markers in pause dir $1 (worker/fault_pause.h: one line
# "pid=P trial=ID step=S start_step=S0 attempt=A" per paused rank), one per line, sorted.
paused_trials() {
  local f
  for f in "$1"/paused.*; do
    [[ -f $f ]] && sed -n 's/.* trial=\([^ ]*\) .*/\1/p' "$f"
  done | sort
}

# Every trial of the sweep is done, exactly once: one 'done' attempt per trial, nothing left
# running, results present and unique per (trial, key), the same keys for every trial.
assert_done_once() {
  local sweep=$1 n counts bad
  n=$(sweep_trial_count "$sweep")
  ((n > 0)) || fail "sweep $sweep has no trials in the store"
  counts=$(sweep_counts "$sweep")
  [[ $counts == "0 0 $n 0" ]] || fail "sweep $sweep: trial states (pending running done failed) = $counts, expected 0 0 $n 0"
  bad=$(sql "SELECT st.trial_id, (SELECT count(*) FROM attempts a WHERE a.trial_id = st.trial_id
                                  AND a.outcome='done')
             FROM sweep_trials st WHERE st.sweep='$sweep'" | awk -F'|' '$2 != 1')
  [[ -z $bad ]] || fail "sweep $sweep: trials without exactly one 'done' attempt (trial|count): $bad"
  bad=$(sql "SELECT count(*) FROM attempts a JOIN sweep_trials st ON st.trial_id = a.trial_id
             WHERE st.sweep='$sweep' AND a.outcome='running'")
  ((bad == 0)) || fail "sweep $sweep: $bad attempt(s) still 'running' after the sweep finished"
  bad=$(sql "SELECT count(*) - count(DISTINCT r.trial_id || '/' || r.key) FROM results r
             JOIN sweep_trials st ON st.trial_id = r.trial_id WHERE st.sweep='$sweep'")
  ((bad == 0)) || fail "sweep $sweep: $bad duplicated result row(s)"
  local per
  per=$(sql "SELECT count(*) FROM results r JOIN sweep_trials st ON st.trial_id = r.trial_id
             WHERE st.sweep='$sweep' GROUP BY r.trial_id" | sort -u)
  [[ -n $per && $per != *$'\n'* && $per -gt 0 ]] ||
    fail "sweep $sweep: result rows per trial differ or are missing: $(tr '\n' ' ' <<<"$per")"
  n=$(sql "SELECT count(DISTINCT r.trial_id) FROM results r JOIN sweep_trials st
           ON st.trial_id = r.trial_id WHERE st.sweep='$sweep'")
  [[ $n == "$(sweep_trial_count "$sweep")" ]] || fail "sweep $sweep: results for $n trials only"
}

# A trial interrupted with a checkpoint continues from it: every attempt that follows a
# 'preempted' attempt of the same trial starts at the step that attempt checkpointed.
assert_resume_chain() {
  local sweep=$1 prev_trial="" prev_outcome="" prev_end=0 id trial outcome start end
  while IFS='|' read -r id trial _ _ outcome start end _; do
    if [[ $trial == "$prev_trial" && $prev_outcome == preempted ]] && ((start != prev_end)); then
      fail "sweep $sweep: trial $trial attempt $id started at step $start, but the attempt before it checkpointed at step $prev_end"
    fi
    prev_trial=$trial prev_outcome=$outcome prev_end=$end
  done < <(sweep_attempts "$sweep")
}

# ---- configs and jobs ------------------------------------------------------------------------------

# write_config FILE NAME EPOCHS SEEDS [GRID_LINE] [PAUSE_DIR]: a tiny Experiment-1 sweep on this
# test's store. 48 training documents, batch 8: 6 steps per epoch; a checkpoint every CKPT_STEPS
# steps. PAUSE_DIR sets train.fault_pause_dir (pause points, worker/fault_pause.h; not part of
# the trial id).
write_config() {
  local file=$1 name=$2 epochs=$3 seeds=$4 grid=${5:-} pause=${6:-}
  {
    echo "name: $name"
    echo "description: tests/slurm/real_sweep_test.sh"
    echo "dataset: {kind: exp1, names_per_subset: 4, train_templates: 3, test_templates: 2, seed: 0}"
    echo "tokenizer: {type: bpe, vocab_size: 600}"
    [[ -n $grid ]] || echo "model: {size: nano}"
    echo "train: {epochs: $epochs, batch_size: 8, lr: 0.002, min_lr: 0.0002, warmup_steps: 2,"
    if [[ -z $pause ]]; then
      echo "        checkpoint_every_steps: $CKPT_STEPS, checkpoint_every_seconds: 0, eval_max_new_tokens: 16}"
    else
      echo "        checkpoint_every_steps: $CKPT_STEPS, checkpoint_every_seconds: 0, eval_max_new_tokens: 16,"
      echo "        fault_pause_dir: $pause}"
    fi
    echo "seeds: [$seeds]"
    [[ -z $grid ]] || printf 'search:\n  grid:\n    %s\n' "$grid"
    echo "run: {store: $STORE, run_root: $RUN_ROOT, progress_every_s: 0.5}"
  } >"$file"
}

# submit_sweep SWEEP CONFIG [submit options...]: runs `revsweep submit` in $WORK, checks the job id
# it prints is recorded in the store's jobs table, and sets SUBMITTED_ID.
submit_sweep() {
  local sweep=$1 config=$2 out rc=0 id
  shift 2
  out=$(cd "$WORK" && "$REVSWEEP_BIN/revsweep" submit "$config" "$@" 2>&1) || rc=$?
  ((rc == 0)) || fail "revsweep submit $config $* exited $rc: $out"
  id=$(sed -n "s/^submitted job \([0-9][0-9]*\) for sweep '$sweep' .*/\1/p" <<<"$out")
  [[ $id =~ ^[0-9]+$ ]] || fail "revsweep submit printed no single job id: $out"
  [[ $(sql "SELECT count(*) FROM jobs WHERE job_id='$id' AND sweep='$sweep' AND kind='slurm'") == 1 ]] ||
    fail "job $id (printed by submit) is not in the jobs table: $(sql 'SELECT * FROM jobs')"
  SUBMITTED_ID=$id
  say "submitted $sweep as job $id ($*)"
}

job_log() { echo "$RUN_ROOT/$1/slurm/slurm-revsweep-$1-$2.out"; }

final_state() {
  case "$1" in
    COMPLETED | FAILED | CANCELLED | TIMEOUT | NODE_FAIL | PREEMPTED | OUT_OF_MEMORY | BOOT_FAIL | DEADLINE) return 0 ;;
  esac
  return 1
}

# wait_sweep_job SWEEP JOB TIMEOUT_S: waits until the job is in a final state (squeue -t all) and,
# if it completed, until the store agrees (nothing pending or running). Sets JOB_FINAL.
wait_sweep_job() {
  local sweep=$1 id=$2 timeout_s=$3 deadline=$((SECONDS + $3)) state="" counts="" p r
  while ((SECONDS < deadline)); do
    state=$(job_state "$id")
    if final_state "$state"; then
      JOB_FINAL=$state
      [[ $state == COMPLETED ]] || return 0
      counts=$(sweep_counts "$sweep")
      read -r p r _ _ <<<"$counts"
      ((p == 0 && r == 0)) && return 0
    fi
    sleep 0.5
  done
  fail "job $id (sweep $sweep) not finished after ${timeout_s}s: state '${state:-unknown}', trials (pending running done failed) ${counts:-$(sweep_counts "$sweep")}"
}

# ---- processes -------------------------------------------------------------------------------------

# Processes this test is responsible for: anything with the test dir in its command line (the
# daemons' -f/--socket arguments, batch scripts in the spool, srun and revsweep-train with the
# store path), and Slurm processes whose environment points at this cluster (slurmstepd, whose
# command line is just "slurmstepd: [12.batch]"). Never this shell.
our_pids() {
  local re pid
  re=$(printf '%s' "$T" | sed 's/[][\.*^$+?(){}|]/\\&/g')
  {
    pgrep -f -- "$re" || true
    for pid in $(pgrep -x slurmstepd; pgrep -x slurmd; pgrep -x slurmctld; pgrep -x munged; pgrep -x srun); do
      { tr '\0' '\n' <"/proc/$pid/environ"; } 2>/dev/null | grep -qxF "SLURM_CONF=$SLURM_CONF" && echo "$pid"
    done
  } | sort -un | grep -vx -e "$$" -e "${BASHPID:-$$}" || true
}

# Our Slurm and munge daemons still alive (slurmctld, slurmd, slurmstepd, munged), as "pid(name)".
our_daemons() {
  local pid name out=""
  for pid in $(our_pids); do
    name=$(ps -o comm= -p "$pid" 2>/dev/null) || continue
    case "$name" in slurmctld | slurmd | slurmstepd | munged) out+=" $pid($name)" ;; esac
  done
  echo "${out# }"
}

# TERM, then KILL after 5 s, every process our_pids names (by pid).
kill_leftovers() {
  local pids pid i
  pids=$(our_pids)
  [[ -n $pids ]] || return 0
  echo "[slurm-test] killing leftover processes: $(tr '\n' ' ' <<<"$pids")" >&2
  for pid in $pids; do kill -TERM "$pid" 2>/dev/null || true; done
  for ((i = 0; i < 50; i++)); do
    pids=$(for pid in $pids; do kill -0 "$pid" 2>/dev/null && echo "$pid"; done)
    [[ -n $pids ]] || return 0
    sleep 0.1
  done
  for pid in $pids; do kill -KILL "$pid" 2>/dev/null || true; done
}

# ---- diagnostics (replaces lib.bash's, which looks for the stand-in trainer's files) ---------------

dump_diagnostics() {
  echo "---- squeue -t all"
  squeue -t all -o "%i %j %T %r %M %l" 2>&1 || true
  local f
  for f in "${RUN_ROOT:-/nonexistent}"/*/slurm/slurm-*.out; do
    [[ -f $f ]] || continue
    echo "---- $f"
    tail -n 40 "$f"
  done
  if [[ -f ${STORE:-/nonexistent} ]]; then
    echo "---- store: trials (sweep|id|state|attempts|last_error)"
    sql "SELECT st.sweep, t.id, t.state, t.attempts, t.last_error FROM trials t
         JOIN sweep_trials st ON st.trial_id = t.id ORDER BY st.sweep, st.ord" 2>&1 || true
    echo "---- store: attempts (id|trial|job|restart|outcome|start|end|message)"
    sql "SELECT id, trial_id, job_id, slurm_restart, outcome, start_step, end_step, message
         FROM attempts ORDER BY id" 2>&1 || true
    echo "---- store: jobs"
    sql "SELECT * FROM jobs" 2>&1 || true
  fi
  dump_controls_and_daemon_logs "${T:-/nonexistent}"/ctl/*
}

# ---- cluster lifecycle shared by the real-binary tests ---------------------------------------

# The EXIT trap: stops the cluster in STATE_DIR (unless STOPPED=1), kills anything of the test
# left running, fails if a daemon survives, and keeps T on failure for a post-mortem.
cluster_cleanup() {
  local rc=$?
  if ((!${STOPPED:-0})); then "$REVSWEEP_SRC/deploy/local-slurm/stop.sh" "$STATE_DIR" >/dev/null 2>&1 || true; fi
  kill_leftovers
  local left
  left=$(our_daemons)
  if [[ -n $left ]]; then
    echo "[slurm-test] FAIL: daemons of this cluster still running after cleanup: $left" >&2
    rc=1
  fi
  if ((rc == 0)); then rm -rf "$T"; else echo "[slurm-test] state kept in $T" >&2; fi
  exit "$rc"
}
install_cluster_cleanup() {
  STOPPED=0
  trap cluster_cleanup EXIT
  # Interrupted (Ctrl-C, ctest timeout): exit through the EXIT trap, which stops the cluster.
  trap 'exit 130' INT
  trap 'exit 143' TERM
}

# start_cluster BASE_PORT [start.sh options]: starts the cluster in STATE_DIR on ports of its
# own (a developer's cluster on the defaults keeps running); a port taken meanwhile by someone
# else makes start.sh fail at once, so it tries three. Sets START_OUT to start.sh's output.
start_cluster() {
  local base=$1 try
  shift
  for try in 1 2 3; do
    export REVSWEEP_SLURMCTLD_PORT=$((base + (RANDOM % 1000) * 4))
    export REVSWEEP_SLURMD_PORT=$((REVSWEEP_SLURMCTLD_PORT + 1))
    if START_OUT=$("$REVSWEEP_SRC/deploy/local-slurm/start.sh" "$@" "$STATE_DIR" 2>&1); then
      grep -qx "export SLURM_CONF=$SLURM_CONF" <<<"$START_OUT" ||
        fail "start.sh printed no export line: $START_OUT"
      return 0
    fi
    say "start.sh failed (try $try, ports $REVSWEEP_SLURMCTLD_PORT/$REVSWEEP_SLURMD_PORT): $(tail -n 3 <<<"$START_OUT")"
  done
  fail "could not start the local cluster: $START_OUT"
}
