#!/usr/bin/env bash
# Stand-in for `revsweep-train` and `revsweep prepare` in tests/slurm/local_cluster_test.sh, so
# the job template's control flow (signal forwarding, exit 75 -> requeue/resubmit, resume) is
# tested without torch. Plugged in through REVSWEEP_TRAIN_CMD / REVSWEEP_PREPARE_CMD.
#
#   fake_trainer.bash prepare   logs that prepare ran (with the job's REVSWEEP_* values), exit 0
#   fake_trainer.bash train     counts steps from the saved counter up to FAKE_STEPS; exit 0
#                               when done, 75 on USR2 (after saving the counter), like the
#                               real trainer's checkpoint-and-requeue contract
#
# Environment: FAKE_DIR (required: counter + events file), FAKE_STEPS (default 10),
# FAKE_STEP_S (seconds of "work" per step, default 0.1; nothing depends on it),
# FAKE_EXIT75_AT (optional: exit 75 by itself once the counter reaches this step, as if
# preempted without a warning signal), FAKE_CRASH_AT (optional: once the counter reaches this
# step, the first run only, the trainer kills itself with SIGKILL, as an OOM kill or a lost
# node would), FAKE_PAUSE_DIR (optional: pause points, below).
#
# Pause points, like the real trainer's train.fault_pause_dir (worker/fault_pause.h), so a test
# lands a requeue or a signal at a known step instead of hoping to hit a window: after each
# step (counter saved) the trainer looks for FAKE_PAUSE_DIR/pause.step<S> with S the counter.
# If it is there, it writes FAKE_PAUSE_DIR/paused.rank0.step<S> ("pid=P step=S restart=N",
# written under a hidden temporary name and renamed) and waits until the control file is removed
# (then removes the marker and goes on) or USR2 arrives (then exits 75 at step S). A kill
# while paused (SIGTERM from `scontrol requeue`) leaves the marker behind: test for the pid.
set -uo pipefail

: "${FAKE_DIR:?FAKE_DIR must be set}"
STEPS=${FAKE_STEPS:-10}
STEP_S=${FAKE_STEP_S:-0.1}
PAUSE_DIR=${FAKE_PAUSE_DIR:-}
COUNTER="$FAKE_DIR/counter"
RANK=${SLURM_PROCID:-0}

event() {
  echo "$(date +%s) job=${SLURM_JOB_ID:-none} rank=$RANK $*" >>"$FAKE_DIR/events"
}

# Written under a temporary name and renamed: a kill mid-write must not lose the count.
save() {
  echo "$1" >"$COUNTER.tmp.$$"
  mv -f "$COUNTER.tmp.$$" "$COUNTER"
}

case "${1:-}" in
  prepare)
    event "prepare restart=${SLURM_RESTART_COUNT:-unset} config=${REVSWEEP_CONFIG:-} " \
      "store=${REVSWEEP_STORE:-} sweep=${REVSWEEP_SWEEP:-}"
    exit 0
    ;;
  train) ;;
  *)
    echo "usage: $0 prepare|train" >&2
    exit 2
    ;;
esac

# Only rank 0 owns the counter, like the real trainer's coordinator owns the store.
if ((RANK != 0)); then
  exit 0
fi

got_usr2=0
sleeper=0
trap 'got_usr2=1; ((sleeper)) && kill "$sleeper" 2>/dev/null' USR2

# Sleeps $1 seconds in the background so the USR2 trap runs at once instead of after it.
nap() {
  sleep "$1" &
  sleeper=$!
  wait "$sleeper" 2>/dev/null
  sleeper=0
}

# The step in flight is lost; the checkpoint is the last completed step.
stop_on_usr2() {
  event "usr2 counter=$count"
  event "exit code=75 counter=$count"
  exit 75
}

# Pauses at step $1 while PAUSE_DIR/pause.step$1 exists (see the header).
maybe_pause() {
  [[ -n $PAUSE_DIR && -e $PAUSE_DIR/pause.step$1 ]] || return 0
  local name="paused.rank$RANK.step$1"
  echo "pid=$$ step=$1 restart=${SLURM_RESTART_COUNT:-unset}" >"$PAUSE_DIR/.$name.tmp"
  mv -f "$PAUSE_DIR/.$name.tmp" "$PAUSE_DIR/$name"
  event "paused counter=$1"
  while [[ -e $PAUSE_DIR/pause.step$1 ]] && ((!got_usr2)); do nap 0.1; done
  rm -f "$PAUSE_DIR/$name"
  ((got_usr2)) || event "resumed counter=$1"
}

count=$(cat "$COUNTER" 2>/dev/null || echo 0)
event "start restart=${SLURM_RESTART_COUNT:-unset} counter=$count ntasks=${SLURM_NTASKS:-1}"
while ((count < STEPS)); do
  nap "$STEP_S"
  ((got_usr2)) && stop_on_usr2
  count=$((count + 1))
  save "$count"
  if [[ -n ${FAKE_EXIT75_AT:-} ]] && ((count == FAKE_EXIT75_AT)); then
    event "preempted counter=$count"
    event "exit code=75 counter=$count"
    exit 75
  fi
  if [[ -n ${FAKE_CRASH_AT:-} ]] && ((count == FAKE_CRASH_AT)) && [[ ! -e $FAKE_DIR/crashed ]]; then
    : >"$FAKE_DIR/crashed"
    event "crash counter=$count"
    kill -KILL $$
  fi
  maybe_pause "$count"
  ((got_usr2)) && stop_on_usr2
done
event "exit code=0 counter=$count"
exit 0
