#!/usr/bin/env bash
# Chaos tier (issue 13, item 3): on the 2-node local cluster (deploy/local-slurm/start.sh
# --nodes 2, 2 tasks per node), one uninterrupted reference sweep, then CHAOS_ROUNDS rounds (at
# least 12), each a fresh sweep of the same trials (its own store and run folder) submitted
# with `revsweep submit` through the shipped batch template, with exactly one fault injected:
#   kill_leader     kill -9 of a group leader that is not rank 0 (rank 2, leader of 2,3 on node2)
#   kill_member     kill -9 of a non-leader (rank 1 on node1 or rank 3 on node2, alternating)
#   kill_rank0      kill -9 of rank 0 (the coordinator's rank, leader of 0,1 on node1)
#   exception       a non-leader throws after step PAUSE_STEP (fault hook fail.rank<R>.step<S>)
#   sigstop         SIGSTOP of a non-leader; released only after the job ends, so it stays
#                   silent past run.heartbeat_timeout_s
#   node_gone       node2's slurmd, its slurmstepd and every rank under it killed -9; slurmd is
#                   started again at once so the requeued job can run
#   disk_full       the trials' folder (checkpoints) on a small tmpfs, filled while the ranks wait
#                   at step PAUSE_STEP; the next checkpoint fails with ENOSPC; the retry resumes
#                   from the last good checkpoint once the space is freed (needs root and a
#                   tmpfs mount; skipped visibly otherwise)
# The sweep: three trials, two of 2 ranks (placed inside a node: ranks 0,1 on node1 and 2,3 on
# node2) and one of 4 ranks (spanning both nodes). Every fault lands at an exact step: the
# ranks pause at step PAUSE_STEP (train.fault_pause_dir, worker/fault_pause.h) and the test
# acts on the paused processes; no timing window anywhere, and every wait is a poll with a
# generous deadline that only ends a hang.
# Per round: the job completes (after a requeue, or the coordinator's own retry for
# disk_full); every trial done exactly once; no attempt left running; no result duplicated;
# the metrics identical, to the last digit stored, to the reference sweep of this same test run.
# "Fault to training again": from the fault (the kill, the stop, the throw, the release onto
# the full disk) to the first training step of a new attempt: pause.after1 is armed right after
# the fault, so the first rank of a new attempt to finish a step writes a marker; its mtime is
# the moment (the test releases it at once).
# A summary table goes to stdout and to CHAOS_SUMMARY (default build/tests/chaos_summary.txt).
# Needs root, slurm-wlm (multiple-slurmd), munge, openmpi, sqlite3 and a build with
# revsweep-train.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REVSWEEP_SRC=${REVSWEEP_SRC:-$(cd "$HERE/../.." && pwd)}
REVSWEEP_BIN=${REVSWEEP_BIN:-$REVSWEEP_SRC/build/bin}
# shellcheck source=tests/slurm/lib.bash
source "$REVSWEEP_SRC/tests/slurm/lib.bash"
# shellcheck source=tests/slurm/real_lib.bash
source "$REVSWEEP_SRC/tests/slurm/real_lib.bash"
say() { echo "[chaos $(date +%T)] $*"; }
T0=$SECONDS
PART_TIMES=()
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}

[[ $(id -u) -eq 0 ]] || { echo "chaos_test: needs root (exclude with ctest -LE chaos)" >&2; exit 1; }
for b in revsweep revsweep-train; do
  [[ -x $REVSWEEP_BIN/$b ]] ||
    { echo "chaos_test: $REVSWEEP_BIN/$b missing (set REVSWEEP_BIN)" >&2; exit 1; }
done

# Rounds: the kinds in this order, cycled (2 of each cheap kind, 1 node_gone, 1 disk_full).
KINDS=(kill_member kill_leader kill_rank0 exception sigstop node_gone disk_full
  kill_member kill_leader kill_rank0 exception sigstop)
# CHAOS_KINDS="k1 k2 ..." replaces the list (to try one kind while debugging).
[[ -z ${CHAOS_KINDS:-} ]] || read -r -a KINDS <<<"$CHAOS_KINDS"
CHAOS_ROUNDS=${CHAOS_ROUNDS:-${#KINDS[@]}}
SUMMARY_FILE=${CHAOS_SUMMARY:-$(dirname "$REVSWEEP_BIN")/tests/chaos_summary.txt}
HB_TIMEOUT=5
CKPT_STEPS=5
PAUSE_STEP=7 # after the step-5 checkpoint, before the step-10 one
JOB_TIMEOUT=300

T=$(mktemp -d /tmp/revsweep-chaos.XXXXXX)
chmod 0755 "$T" # munged refuses a socket below a directory others cannot search
STATE_DIR="$T/slurm"
export SLURM_CONF="$STATE_DIR/slurm.conf"
MNT=""
install_cluster_cleanup
# The cleanup trap: stop the cluster and kill what is left (SIGSTOPped ranks included: TERM,
# then KILL), then unmount the small disk, then cluster_cleanup's checks and temp dir removal.
chaos_cleanup() {
  local rc=$?
  if ((!${STOPPED:-0})); then "$REVSWEEP_SRC/deploy/local-slurm/stop.sh" "$STATE_DIR" >/dev/null 2>&1 || true; fi
  STOPPED=1
  kill_leftovers
  if [[ -n $MNT ]]; then umount "$MNT" 2>/dev/null || umount -l "$MNT" 2>/dev/null || true; fi
  (exit "$rc")
  cluster_cleanup
}
trap chaos_cleanup EXIT

now_s() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
mtime() { stat -c %.3Y "$1" 2>/dev/null; }
ctime() { stat -c %.3Z "$1" 2>/dev/null; } # a rename sets it

# ---- 1. the cluster --------------------------------------------------------------------------
part_begin "1 (start a 2-node cluster)"
# 4 CPUs a node: two jobs of 2 nodes x 2 tasks run side by side (CHAOS_PARALLEL).
export REVSWEEP_SLURM_CPUS=4
# A requeued job may start again after cred_expire (+1) seconds: 5 instead of start.sh's 10.
export REVSWEEP_SLURM_CRED_EXPIRE=5
# srun waits KillWait + 2 s for a step on a node that is gone (default 30): 8 here. The nano
# trainers checkpoint on SIGTERM in well under a second.
export REVSWEEP_SLURM_KILL_WAIT=8
start_cluster 23000 --nodes 2
export OMPI_MCA_btl=self,tcp
[[ $(sinfo -h -N -o '%N %t' | sort | tr '\n' ' ') == "node1 idle node2 idle " ]] ||
  fail "expected node1 and node2 idle: $(sinfo -N)"
part_end

# ---- helpers ---------------------------------------------------------------------------------

# new_sweep DIR: per-round globals (store, run root, pause dir, work dir) and the config.
new_sweep() {
  R=$1
  STORE=$R/store.db
  RUN_ROOT=$R/runs
  WORK=$R/work
  PAUSE=$R/pause
  mkdir -p "$WORK" "$PAUSE" "$RUN_ROOT"
  cat >"$WORK/chaos.yaml" <<EOF
name: chaos
description: tests/chaos/chaos_test.sh
dataset: {kind: exp1, names_per_subset: 4, train_templates: 3, test_templates: 2, seed: 0}
tokenizer: {type: bpe, vocab_size: 400}
model: {size: nano}
train: {epochs: 3, batch_size: 8, lr: 0.002, min_lr: 0.0002, warmup_steps: 2,
        checkpoint_every_steps: $CKPT_STEPS, checkpoint_every_seconds: 0, eval_max_new_tokens: 16,
        fault_pause_dir: $PAUSE}
resources: {group_size: 2}
search:
  zip: {resources.group_size: [2, 2, 4], train.lr: [0.002, 0.003, 0.004]}
run: {store: $STORE, run_root: $RUN_ROOT, progress_every_s: 0.5,
      heartbeat_timeout_s: $HB_TIMEOUT, retries_crash: 3}
EOF
}

submit() {
  submit_sweep chaos "$WORK/chaos.yaml" --partition debug --nodes 2 --ntasks-per-node 2 \
    --cpus-per-task 1 --time 20 --max-requeues 4
  ID=$SUBMITTED_ID
}

# paused_rank_pid RANK: pid of the rank paused (marker in PAUSE) with that world rank.
paused_rank_pid() {
  local m
  for m in "$PAUSE"/paused.rank"$1".*; do
    [[ -f $m ]] && { tr ' ' '\n' <"$m" | sed -n 's/^pid=//p'; return 0; }
  done
  return 1
}
pid_node() { tr '\0' '\n' <"/proc/$1/environ" 2>/dev/null | sed -n 's/^SLURMD_NODENAME=//p'; }

# Metrics of the sweep in store $1: trial|key|value, 17 significant digits (a double's exact
# round trip), timing metrics left out.
metrics_dump() {
  sqlite3 -batch -noheader -cmd '.timeout 10000' "$1" \
    "SELECT r.trial_id, r.key, printf('%.17g', r.value) FROM results r
     JOIN sweep_trials st ON st.trial_id = r.trial_id AND st.sweep = 'chaos'
     WHERE r.key LIKE 'acc.%' OR r.key LIKE 'likelihood.%' OR r.key = 'loss.final'
     ORDER BY r.trial_id, r.key"
}

# wait_job_watching ROUND: waits for the job to end; meanwhile the first marker of
# pause.after1 (a new attempt's first step) sets T_TRAIN and is released at once.
wait_job_watching() {
  local deadline=$((SECONDS + JOB_TIMEOUT)) state="" m t p r
  T_TRAIN=""
  while ((SECONDS < deadline)); do
    if [[ -e $PAUSE/pause.after1 ]]; then
      for m in "$PAUSE"/paused.*; do
        [[ -f $m ]] || continue
        # Only a new attempt's first step (pause.after1): step = start_step + 1.
        awk '{ for (i = 1; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] } }
             END { exit !(f["step"] == f["start_step"] + 1) }' "$m" 2>/dev/null || continue
        t=$(mtime "$m") || continue
        [[ -z $T_TRAIN ]] || awk -v a="$t" -v b="$T_TRAIN" 'BEGIN { exit !(a < b) }' && T_TRAIN=$t
      done
      if [[ -n $T_TRAIN ]]; then
        rm -f "$PAUSE/pause.after1"
        say "round $1: training again ($(elapsed "$T_FAULT" "$T_TRAIN") s after the fault)"
      fi
    fi
    state=$(job_state "$ID")
    if final_state "$state"; then
      read -r p r _ _ <<<"$(sweep_counts chaos)"
      ((p == 0 && r == 0)) && break
      [[ $state == COMPLETED ]] || break
    fi
    sleep 0.2
  done
  ((SECONDS < deadline)) || fail "round $1: job $ID not finished after ${JOB_TIMEOUT}s (state '$state')"
  JOB_FINAL=$state
}

# check_round ROUND KIND: the invariants, then one summary row.
check_round() {
  local round=$1 kind=$2 restarts n_trials lost dup running outcomes ttrain
  [[ $JOB_FINAL == COMPLETED ]] ||
    fail "round $round ($kind): job $ID ended $JOB_FINAL: $(grep revsweep-job "$(job_log chaos "$ID")" | tail -n 5)"
  assert_done_once chaos
  n_trials=$(sweep_trial_count chaos)
  # Lost: trials of the sweep without a done attempt or without results. Duplicated: more than
  # one done attempt for a trial, or a (trial, key) result stored twice.
  lost=$(sql "SELECT count(*) FROM sweep_trials st WHERE st.sweep='chaos' AND
              ((SELECT count(*) FROM attempts a WHERE a.trial_id=st.trial_id AND a.outcome='done') = 0
               OR (SELECT count(*) FROM results r WHERE r.trial_id=st.trial_id) = 0)")
  dup=$(sql "SELECT (SELECT count(*) FROM (SELECT trial_id FROM attempts WHERE outcome='done'
                     GROUP BY trial_id HAVING count(*) > 1))
                  + (SELECT count(*) - count(DISTINCT trial_id || '/' || key) FROM results)")
  running=$(sql "SELECT count(*) FROM attempts WHERE outcome='running'")
  ((lost == 0 && dup == 0 && running == 0)) ||
    fail "round $round ($kind): lost $lost, duplicated $dup, left running $running"
  local got
  got=$(metrics_dump "$STORE")
  if [[ $got != "$REF_METRICS" ]]; then
    diff <(echo "$REF_METRICS") <(echo "$got") | head -n 20 >&2
    fail "round $round ($kind): metrics differ from the uninterrupted reference run"
  fi
  restarts=$(job_field "$ID" Restarts)
  # Every kind but disk_full ends the job's step (a requeue); a second requeue is allowed (a late
  # signal meant for the killed run can reach the next one: tests/slurm/multi_node_test.sh).
  # disk_full requeues too as things are (the failing leader's peer is left in a collective),
  # but a retry inside the same job would be just as right.
  [[ $kind == disk_full ]] || ((restarts >= 1)) || fail "round $round ($kind): job $ID was never requeued (Restarts=$restarts)"
  outcomes=$(sql "SELECT group_concat(outcome || '=' || n, ',') FROM
                  (SELECT outcome, count(*) n FROM attempts GROUP BY outcome ORDER BY outcome)")
  if [[ -n $T_TRAIN ]]; then ttrain=$(elapsed "$T_FAULT" "$T_TRAIN"); else ttrain="-"; fi
  # Where the time went: fault -> the job script logs "requeueing (restart 1)" (the step has
  # ended; whole seconds), the rest is Slurm's requeue wait and the new run's start-up.
  local line tq="-"
  line=$(grep -m1 'requeueing (restart 1)' "$(job_log chaos "$ID")" || true)
  if [[ $line =~ \[([0-9-]+\ [0-9:]+)\] ]]; then
    tq=$(elapsed "$T_FAULT" "$(date -d "${BASH_REMATCH[1]}" +%s)")
  fi
  say "round $round ($kind): job $ID COMPLETED, restarts $restarts, $n_trials trials done once, metrics identical ($(wc -l <<<"$got") values), attempts $outcomes, fault to training ${ttrain}s"
  # One row per round (read back by the main shell): round kind restarts train_s requeue_s lost
  # dup wall attempts detail.
  echo "$round $kind $restarts $ttrain $tq $lost $dup $((SECONDS - ROUND_T0)) $outcomes ${DETAIL// /_}" \
    >"$T/rows/$round"
}

# ---- 2. the uninterrupted reference ------------------------------------------------------------
part_begin "2 (uninterrupted reference sweep)"
# The reference must not be requeued: a long heartbeat timeout (not part of the trial id) keeps
# a rank starved by a busy machine from breaking its group.
HB_TIMEOUT=60 new_sweep "$T/ref"
ROUND_T0=$SECONDS
submit
T_FAULT=$(now_s)
wait_job_watching ref
[[ $JOB_FINAL == COMPLETED ]] || fail "reference job $ID ended $JOB_FINAL"
assert_done_once chaos
[[ $(job_field "$ID" Restarts) == 0 ]] || fail "the reference job was requeued"
REF_METRICS=$(metrics_dump "$STORE")
[[ -n $REF_METRICS ]] || fail "the reference sweep stored no metrics"
REF_WALL=$((SECONDS - ROUND_T0))
grep -q 'on ranks 0,1,2,3' "$(job_log chaos "$ID")" || fail "the 4-rank trial did not span both nodes"
bad=$(grep -oE 'start [0-9a-f]+ on ranks? [0-9,]+' "$(job_log chaos "$ID")" | awk '{print $NF}' |
  sort -u | grep -vxE '0,1|2,3|0,1,2,3' || true)
[[ -z $bad ]] || fail "groups placed across node boundaries: $bad"
say "reference: $(wc -l <<<"$REF_METRICS") metric values, ${REF_WALL}s"
part_end

# ---- 3. the rounds ---------------------------------------------------------------------------
# pause_all: arms pause.step PAUSE_STEP, submits, waits until all 4 ranks (both 2-rank trials)
# wait there.
pause_all() {
  : >"$PAUSE/pause.step$PAUSE_STEP"
  submit
  wait_markers "$PAUSE" "paused.*" 4 "$JOB_TIMEOUT" "$ID"
}
# after_fault: the fault is in; from now on a new attempt's first step is "training again".
after_fault() {
  T_FAULT=${1:-$(now_s)}
  : >"$PAUSE/pause.after1"
  rm -f "$PAUSE/pause.step$PAUSE_STEP"
  # Markers of ranks that paused at PAUSE_STEP (a killed one never removes its own).
  rm -f "$PAUSE"/paused.*.step"$PAUSE_STEP"
}

kill_rank() {
  local rank=$1 pid node
  pid=$(paused_rank_pid "$rank") || fail "no paused rank $rank: $(ls "$PAUSE")"
  node=$(pid_node "$pid")
  kill -KILL "$pid"
  after_fault
  DETAIL="rank $rank on $node"
  say "round $ROUND: killed rank $rank (pid $pid on $node) paused at step $PAUSE_STEP"
}

# Node2's step processes: the ranks there (SLURMD_NODENAME=node2, this cluster's SLURM_CONF)
# and the slurmstepd above them.
node2_step_pids() {
  local pid env
  for pid in $(pgrep -x revsweep-train || true); do
    env=$(tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null) || continue
    grep -qxF "SLURM_CONF=$SLURM_CONF" <<<"$env" || continue
    grep -qx "SLURMD_NODENAME=node2" <<<"$env" || continue
    echo "$pid"
    ps -o ppid= -p "$pid" | tr -d ' '
  done | sort -u
}

STOPPED_PIDS=()
inject() {
  local round=$1 kind=$2 victim pid pids
  case $kind in
    kill_member)
      pause_all
      if ((round % 2)); then victim=1; else victim=3; fi
      kill_rank "$victim"
      ;;
    kill_leader)
      pause_all
      kill_rank 2
      ;;
    kill_rank0)
      pause_all
      kill_rank 0
      ;;
    exception)
      if ((round % 2)); then victim=1; else victim=3; fi
      # The rank throws after step PAUSE_STEP (fail.* is checked before pause.*): its peer
      # waits in the next collective; everyone else pauses at that step.
      : >"$PAUSE/fail.rank$victim.step$PAUSE_STEP"
      : >"$PAUSE/pause.step$PAUSE_STEP"
      submit
      wait_until "$JOB_TIMEOUT" "fault hook fail.rank$victim.step$PAUSE_STEP fired" \
        test -e "$PAUSE/fired.fail.rank$victim.step$PAUSE_STEP"
      after_fault "$(ctime "$PAUSE/fired.fail.rank$victim.step$PAUSE_STEP")"
      DETAIL="rank $victim"
      say "round $ROUND: rank $victim threw after step $PAUSE_STEP"
      ;;
    sigstop)
      pause_all
      if ((round % 2)); then victim=1; else victim=3; fi
      pid=$(paused_rank_pid "$victim") || fail "no paused rank $victim"
      DETAIL="rank $victim on $(pid_node "$pid")"
      kill -STOP "$pid"
      STOPPED_PIDS+=("$pid")
      after_fault
      say "round $ROUND: stopped rank $victim (pid $pid) at step $PAUSE_STEP; its peer trains on into the all-reduce"
      ;;
    node_gone)
      pause_all
      pids=$(node2_step_pids)
      [[ -n $pids ]] || fail "no step processes on node2"
      kill -KILL "$(cat "$STATE_DIR/run/slurmd-node2.pid")"
      # shellcheck disable=SC2086
      kill -KILL $pids 2>/dev/null || true
      after_fault
      DETAIL="node2"
      say "round $ROUND: node2 gone: slurmd and step processes $(tr '\n' ' ' <<<"$pids")killed"
      # The node comes back (as a rebooted node would): slurmd registers again.
      # A killed slurmstepd leaves its PMIx files behind (the step's server socket
      # spool/node2/stepd.slurm.pmix.J.0, spool/node2/pmix.J.0, tmp/node2/spmix_appdir_*); the
      # requeued job has the same job id and step 0, and Slurm 22.05's pmix plugin then fails
      # every launch on that node ("Cannot bind() UNIX socket ...: Address already in use")
      # until the requeues run out. A rebooted node starts clean: so does this one.
      rm -rf "$STATE_DIR"/spool/node2/stepd.slurm.pmix.* "$STATE_DIR"/spool/node2/pmix.* \
        "$STATE_DIR"/tmp/node2/spmix_appdir_*
      slurmd -f "$SLURM_CONF" -N node2
      say "slurmd for node2 started again"
      ;;
    disk_full)
      # The trials' folder (checkpoints) on a small tmpfs; filled while all ranks wait at
      # PAUSE_STEP (each trial has its step-5 checkpoint), so the step-10 one fails.
      mkdir -p "$RUN_ROOT/chaos"
      ln -s "$MNT/trials" "$RUN_ROOT/chaos/trials"
      rm -rf "${MNT:?}/trials" && mkdir -p "$MNT/trials"
      pause_all
      dd if=/dev/zero of="$MNT/filler" bs=64k status=none 2>/dev/null || true
      # The retry resumes from the step-5 checkpoint: hold it at its first step (6) until the
      # space is back; pause.step6 does not stop the paused attempts (past step 6).
      : >"$PAUSE/pause.step$((CKPT_STEPS + 1))"
      after_fault
      rm -f "$PAUSE/pause.after1"
      DETAIL="trials folder on a ${DISK_MB} MiB tmpfs"
      say "round $ROUND: disk full ($(df --output=avail -B1 "$MNT" | tail -n 1 | tr -d ' ') bytes free); released"
      wait_until "$JOB_TIMEOUT" "a retry resumed from the step-$CKPT_STEPS checkpoint" \
        markers_at_least "$PAUSE" "paused.*.step$((CKPT_STEPS + 1))" 1 "$ID"
      local m
      for m in "$PAUSE"/paused.*.step$((CKPT_STEPS + 1)); do T_TRAIN=$(mtime "$m"); break; done
      n=$(sql "SELECT count(*) FROM attempts WHERE outcome='crash' AND message LIKE '%No space left on device%'")
      ((n >= 1)) || fail "no attempt crashed on the full disk: $(sql 'SELECT outcome, message FROM attempts')"
      rm -f "$MNT/filler"
      rm -f "$PAUSE/pause.step$((CKPT_STEPS + 1))"
      say "round $ROUND: space freed; the retry trains on"
      ;;
    *) fail "unknown fault kind $kind" ;;
  esac
}

DISK_OK=1
DISK_MB=16
if ! {
  MNT=$T/small && mkdir -p "$MNT" && mount -t tmpfs -o size=${DISK_MB}m tmpfs "$MNT" 2>/dev/null
}; then
  MNT=""
  DISK_OK=0
  say "SKIP disk_full rounds: cannot mount a tmpfs here"
fi

# run_round ROUND KIND: one round, in a subshell of its own (globals are per round there);
# its row lands in $T/rows/ROUND, its output in $T/round-ROUND.log (shown as it ends).
run_round() {
  ROUND=$1
  local kind=$2 pid
  ROUND_T0=$SECONDS
  DETAIL=""
  new_sweep "$T/round$ROUND"
  T_TRAIN=""
  inject "$ROUND" "$kind"
  DISK_T_TRAIN=$T_TRAIN
  wait_job_watching "$ROUND"
  [[ $kind == disk_full ]] && T_TRAIN=$DISK_T_TRAIN
  for pid in "${STOPPED_PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  check_round "$ROUND" "$kind"
}

# Rounds run CHAOS_PARALLEL at a time (default 2: the nodes advertise 4 CPUs, so two 2x2 jobs
# fit side by side; a requeue wait of one overlaps training of the other). node_gone runs
# alone: it kills every step on node2.
CHAOS_PARALLEL=${CHAOS_PARALLEL:-2}
mkdir -p "$T/rows"
BATCH=()
run_batch() {
  ((${#BATCH[@]})) || return 0
  local -a pids=() names=()
  local b r k rc=0 i
  for b in "${BATCH[@]}"; do
    r=${b% *} k=${b#* }
    say "---- round $r: $k"
    (run_round "$r" "$k") >"$T/round-$r.log" 2>&1 &
    pids+=($!)
    names+=("$r")
  done
  for i in "${!pids[@]}"; do
    if wait "${pids[i]}"; then cat "$T/round-${names[i]}.log"
    else rc=1; cat "$T/round-${names[i]}.log" >&2; fi
  done
  BATCH=()
  ((rc == 0)) || fail "round(s) ${names[*]} failed (see above)"
}

part_begin "3 ($CHAOS_ROUNDS rounds, $CHAOS_PARALLEL at a time)"
for ((i = 0; i < CHAOS_ROUNDS; i++)); do
  round=$((i + 1))
  kind=${KINDS[i % ${#KINDS[@]}]}
  if [[ $kind == disk_full ]] && ((!DISK_OK)); then
    echo "$round $kind - - - - - - SKIPPED_(no_tmpfs_mount) -" >"$T/rows/$round"
    continue
  fi
  if [[ $kind == node_gone ]]; then
    run_batch
    BATCH=("$round $kind")
    run_batch
    continue
  fi
  BATCH+=("$round $kind")
  ((${#BATCH[@]} < CHAOS_PARALLEL)) || run_batch
done
run_batch
part_end

# ---- 4. stop ---------------------------------------------------------------------------------
part_begin "4 (stop.sh)"
"$REVSWEEP_SRC/deploy/local-slurm/stop.sh" "$STATE_DIR" >/dev/null || fail "stop.sh failed"
STOPPED=1
left=$(our_daemons)
[[ -z $left ]] || fail "daemons left after stop.sh: $left"
part_end

WALL=$((SECONDS - T0))
declare -A KIND_N=() KIND_T=()
TOTAL_LOST=0
TOTAL_DUP=0
{
  echo "chaos tier: $CHAOS_ROUNDS rounds ($CHAOS_PARALLEL at a time) on 2 nodes x 2 tasks, $(date -u '+%F %T UTC'), load $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "reference sweep (3 trials, uninterrupted): ${REF_WALL}s"
  printf '%-5s %-12s %-8s %-8s %-9s %-5s %-4s %-7s %-32s %s\n' round kind restarts train_s requeue_s \
    lost dup wall_s attempts fault
  for ((i = 1; i <= CHAOS_ROUNDS; i++)); do
    [[ -f $T/rows/$i ]] || fail "round $i left no row"
    read -r r k rs tt tq lo du wa ou de <"$T/rows/$i"
    printf '%-5s %-12s %-8s %-8s %-9s %-5s %-4s %-7s %-32s %s\n' "$r" "$k" "$rs" "$tt" "$tq" "$lo" "$du" "$wa" "$ou" "${de//_/ }"
    if [[ $lo != - ]]; then
      KIND_N[$k]=$((${KIND_N[$k]:-0} + 1))
      KIND_T[$k]="${KIND_T[$k]:-}${KIND_T[$k]:+ }$tt"
      TOTAL_LOST=$((TOTAL_LOST + lo))
      TOTAL_DUP=$((TOTAL_DUP + du))
    fi
  done
  echo "train_s: fault to the first training step of a new attempt; requeue_s: fault to the job"
  echo "script's 'requeueing' line (the step has ended; whole seconds)"
  echo "per kind: rounds, fault to training again (s)"
  for k in kill_member kill_leader kill_rank0 exception sigstop node_gone disk_full; do
    echo "  $(printf '%-12s' "$k") ${KIND_N[$k]:-0} round(s): ${KIND_T[$k]:-skipped}"
  done
  echo "lost $TOTAL_LOST, duplicated $TOTAL_DUP; wall time ${WALL}s (${PART_TIMES[*]/%/;})"
} >"$T/summary.txt"
cat "$T/summary.txt"
mkdir -p "$(dirname "$SUMMARY_FILE")" && cp "$T/summary.txt" "$SUMMARY_FILE" && say "summary written to $SUMMARY_FILE"
say "all parts passed in ${WALL}s"
