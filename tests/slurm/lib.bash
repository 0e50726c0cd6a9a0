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

# ---- the job template ------------------------------------------------------------------------

# Renders deploy/slurm/revsweep.sbatch.tmpl the way scheduler/slurm.cc does, for values without
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
