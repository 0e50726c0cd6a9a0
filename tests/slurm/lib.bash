# Helpers for the slurm test tier (tests/slurm/*.sh). Sourced, not run: a .bash file is not
# registered as a CTest test. Expects SLURM_CONF to point at a running cluster (start.sh) and
# T0_PART to be set by part_begin.

# ---- reporting -----------------------------------------------------------------------------

say() { echo "[slurm-test $(date +%T)] $*"; }

part_begin() {
  PART_NAME=$1
  T0_PART=$SECONDS
  say "---- part $PART_NAME"
}

part_end() {
  local elapsed=$((SECONDS - T0_PART))
  say "---- part $PART_NAME passed in ${elapsed}s"
  PART_TIMES+=("$PART_NAME ${elapsed}s")
}

# Prints why, then whatever helps a post-mortem, and exits 1 (the EXIT trap stops the cluster).
fail() {
  echo "[slurm-test] FAIL${PART_NAME:+ in part $PART_NAME}: $*" >&2
  dump_diagnostics >&2
  exit 1
}

dump_diagnostics() {
  echo "---- squeue -t all"
  squeue -t all -o "%i %j %T %r %M %l" 2>&1 || true
  local f
  for f in "${WORK:-/nonexistent}"/*/events "${WORK:-/nonexistent}"/*/slurm-*.out; do
    [[ -f $f ]] || continue
    echo "---- $f"
    tail -n 40 "$f"
  done
  dump_controls_and_daemon_logs "${WORK:-/nonexistent}"/*/ctl
}

# dump_controls_and_daemon_logs DIR...: the pause/hold control files and markers in each DIR,
# and the last lines of the cluster's daemon logs (STATE_DIR).
dump_controls_and_daemon_logs() {
  local f
  for f in "$@"; do
    [[ -d $f ]] || continue
    echo "---- control files in $f (pause.*, hold.*) and markers (paused.*, held.*)"
    (cd "$f" && grep -H . ./* 2>/dev/null; ls -A)
  done
  for f in "${STATE_DIR:-/nonexistent}"/log/slurmctld.log "${STATE_DIR:-/nonexistent}"/log/slurmd.log; do
    [[ -f $f ]] || continue
    echo "---- last lines of $f"
    tail -n 30 "$f"
  done
}

# ---- Slurm queries --------------------------------------------------------------------------

job_state() { squeue -h -t all -j "$1" -o %T 2>/dev/null | head -n1; }

# One Key=Value field of `scontrol -o show job`.
job_field() {
  scontrol -o show job "$1" 2>/dev/null | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n1
}

# Waits until the job is in a final state; prints it. Fails after $2 seconds.
wait_job_done() {
  local id=$1 timeout_s=$2 deadline=$((SECONDS + $2)) state=""
  while ((SECONDS < deadline)); do
    state=$(job_state "$id")
    case "$state" in
      COMPLETED | FAILED | CANCELLED | TIMEOUT | NODE_FAIL | PREEMPTED | OUT_OF_MEMORY | BOOT_FAIL)
        echo "$state"
        return 0
        ;;
    esac
    sleep 0.5
  done
  fail "job $id not finished after ${timeout_s}s (state '${state:-unknown}')"
}

# Waits until command "$@" succeeds, up to $1 seconds; fails with message $2.
wait_until() {
  local timeout_s=$1 what=$2
  shift 2
  local deadline=$((SECONDS + timeout_s))
  until "$@"; do
    ((SECONDS < deadline)) || fail "timed out after ${timeout_s}s waiting for: $what"
    sleep 0.2
  done
}

# ---- deterministic hooks ---------------------------------------------------------------------
# Tests never hope to land a requeue, a signal or a cancel mid-trial by sleeping: the trainer
# pauses at a step the test chose (pause.step<S> in a pause dir: worker/fault_pause.h for
# revsweep-train, FAKE_PAUSE_DIR for the stand-in) and writes a marker paused.*; the job script
# stops before requeueing while REVSWEEP_TEST_HOLD_DIR/hold.requeue exists and writes a marker
# held.requeue.* (deploy/slurm/revsweep.sbatch.tmpl, test_hold). Both markers hold "pid=P ...".

# Number of files in $1 matching glob $2 (e.g. 'paused.*').
count_markers() {
  local f n=0
  for f in "$1"/$2; do [[ -f $f ]] && n=$((n + 1)); done
  echo "$n"
}

# Succeeds once dir $1 holds at least $3 files matching glob $2. With a job id $4, fails the
# test at once if that job has ended: the markers will never come.
markers_at_least() {
  (($(count_markers "$1" "$2") >= $3)) && return 0
  [[ -n ${4:-} ]] || return 1
  local state
  state=$(job_state "$4")
  case "$state" in
    COMPLETED | FAILED | CANCELLED | TIMEOUT | NODE_FAIL | PREEMPTED | OUT_OF_MEMORY | BOOT_FAIL | DEADLINE)
      fail "job $4 ended $state before $3 marker(s) $1/$2 appeared"
      ;;
  esac
  return 1
}

# wait_markers DIR GLOB N TIMEOUT_S [JOB]: waits for N markers matching GLOB in DIR (while JOB,
# if given, has not ended). Run it in the test's shell, not in $(...): its fail must end the test.
wait_markers() {
  wait_until "$4" "$3 marker(s) $1/$2" markers_at_least "$1" "$2" "$3" "${5:-}"
}

# The pids named by markers matching glob $2 in dir $1, one per line.
marker_pids() {
  local f
  for f in "$1"/$2; do
    [[ -f $f ]] && sed -n 's/^pid=\([0-9]*\) .*/\1/p' "$f"
  done
  return 0
}

# Succeeds when none of the pids is alive.
# job_requeued JOB: Slurm counts at least one restart of JOB (what shows a requeue; a log line
# after `scontrol requeue` may never be written).
job_requeued() {
  local r
  r=$(job_field "$1" Restarts)
  [[ $r =~ ^[0-9]+$ ]] && ((r >= 1))
}

pids_gone() {
  local p
  for p in "$@"; do kill -0 "$p" 2>/dev/null && return 1; done
  return 0
}

# A job's RunTime ([D-]HH:MM:SS) in seconds.
job_run_s() {
  local t d=0 h m s
  t=$(job_field "$1" RunTime)
  if [[ $t == *-* ]]; then
    d=${t%%-*}
    t=${t#*-}
  fi
  IFS=: read -r h m s <<<"$t"
  echo $((((10#$d * 24 + 10#$h) * 60 + 10#$m) * 60 + 10#$s))
}

# Makes slurmctld send job $1 its --signal warning (B:USR2@$2) now instead of $2 s before its
# submitted limit: lowers the time limit to the most whole minutes that leave at most $2 s to
# run. slurmctld checks limits every 30 s and warns once `now + $2 + 30 s` passes the end, so
# the warning arrives within 30 s, with at least $2 - 90 s left before the new limit: for the
# test to raise the limit again (scontrol update TimeLimit=...) before the job is requeued,
# so that the next run is not warned at once. No window: whatever the machine's speed, the
# trainer waits at its pause point until the warning comes.
warn_job_now() {
  local id=$1 before_s=$2 run limit
  run=$(job_run_s "$id")
  limit=$(((run + before_s) / 60))
  ((limit * 60 - run >= 120)) ||
    fail "job $id: run time ${run}s leaves no minute limit with 120+ s to spare (--signal ${before_s}s)"
  scontrol update JobId="$id" TimeLimit="$limit" || fail "scontrol update JobId=$id TimeLimit=$limit failed"
  say "job $id: time limit lowered to $limit min after ${run}s of run time (warning due now)"
}

# ---- the job template ------------------------------------------------------------------------

# Renders deploy/slurm/revsweep.sbatch.tmpl the way scheduler/slurm/slurm.cc does, for values without
# special characters (the C++ renderer and its quoting are unit-tested in slurm_test). Lets this
# tier test the template's control flow before the `revsweep submit` CLI exists.
#   render_job OUT JOB_NAME WORK_DIR SIGNAL_BEFORE_S MAX_REQUEUES [SBATCH_OPTION...]
render_job() {
  local out=$1 name=$2 work=$3 signal=$4 max=$5
  shift 5
  local opts="$out.options" o
  : >"$opts"
  for o in "$@"; do echo "#SBATCH $o" >>"$opts"; done
  sed -e "/^{{sbatch_options}}\$/{r $opts" -e 'd}' \
    -e "s|{{job_name}}|$name|g" \
    -e "s|{{work_dir}}|$work|g" \
    -e "s|{{log_dir}}|$work|g" \
    -e "s|{{signal_before_s}}|$signal|g" \
    -e "s|{{max_requeues}}|$max|g" \
    -e "s|{{revsweep_bin}}|${REVSWEEP_BIN:-/nonexistent/bin}|g" \
    -e "s|{{config}}|$work/sweep.yaml|g" \
    -e "s|{{store}}|$work/store.sqlite|g" \
    -e "s|{{sweep}}|$name|g" \
    "$REVSWEEP_SRC/deploy/slurm/revsweep.sbatch.tmpl" >"$out"
  rm -f "$opts"
  if grep -q '{{' "$out"; then
    fail "placeholder left in rendered $out: $(grep -n '{{' "$out")"
  fi
}

# Last value of key=... in the events file lines matching a word: `event_value FILE WORD KEY`.
event_values() { grep " $2 " "$1" | sed -n "s/.* $3=\([^ ]*\).*/\1/p"; }
