#!/usr/bin/env bash
# Stops the cluster that deploy/local-slurm/start.sh started under STATE_DIR: cancels its jobs,
# then stops every slurmd (one per node), slurmctld and munged by their pid files and checks
# that none is left.
# Idempotent: stopping a stopped (or never started) cluster succeeds. State and logs stay in
# STATE_DIR for post-mortems; delete the directory to start from scratch.
#
#   deploy/local-slurm/stop.sh [STATE_DIR]     (default ${REVSWEEP_SLURM_DIR:-/tmp/revsweep-slurm})
set -uo pipefail

STATE_DIR=${1:-${REVSWEEP_SLURM_DIR:-/tmp/revsweep-slurm}}
[[ $STATE_DIR == /* ]] || STATE_DIR="$PWD/$STATE_DIR"
STATE_DIR=${STATE_DIR%/}
CONF="$STATE_DIR/slurm.conf"
export SLURM_CONF="$CONF"

log() { echo "local-slurm: $*"; }

pid_of() { [[ -s $1 ]] && cat "$1"; }
alive() { [[ -n ${1:-} ]] && kill -0 "$1" 2>/dev/null; }

# Processes started with this STATE_DIR in their command line: the daemons (-f CONF,
# --socket=...) whatever their pid files say. Matched on the full path, never on a bare name,
# so another cluster on the same machine is left alone.
STATE_RE=$(printf '%s' "$STATE_DIR" | sed 's/[][\.*^$+?(){}|]/\\&/g')
ours() { pgrep -f -- "$STATE_RE/(slurm\.conf|munge/)" 2>/dev/null || true; }

# Sends TERM, waits up to $2 seconds, then KILL.
stop_pid() {
  local pid=$1 wait_s=$2 name=$3
  alive "$pid" || return 0
  kill -TERM "$pid" 2>/dev/null || true
  local i
  for ((i = 0; i < wait_s * 10; i++)); do
    alive "$pid" || return 0
    sleep 0.1
  done
  log "$name (pid $pid) ignored SIGTERM for ${wait_s}s; sending SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
  sleep 0.2
}

ctld_pid=$(pid_of "$STATE_DIR/run/slurmctld.pid")
if [[ -f $CONF ]] && alive "$ctld_pid"; then
  # Cancel every job first so slurmd kills their steps (slurmstepd outlives slurmd otherwise).
  jobs=$(timeout 10 squeue -h -o %i 2>/dev/null || true)
  if [[ -n $jobs ]]; then
    log "cancelling jobs: ${jobs//$'\n'/ }"
    # shellcheck disable=SC2086
    timeout 10 scancel $jobs 2>/dev/null || true
    for _ in $(seq 100); do
      [[ -z $(timeout 5 squeue -h -t running,completing,configuring -o %i 2>/dev/null) ]] && break
      sleep 0.2
    done
  fi
fi

# slurmd first, so no job step is left without its daemon; slurmctld (saves its state) and
# munged (saves its seed) each take ~2 s to exit, so they are stopped side by side.
for f in "$STATE_DIR"/run/slurmd*.pid; do  # one per node (start.sh --nodes N)
  [[ -e $f ]] && stop_pid "$(pid_of "$f")" 10 "$(basename "$f" .pid)" &
done
wait
stop_pid "$ctld_pid" 10 slurmctld &
stop_pid "$(pid_of "$STATE_DIR/munge/run/munged.pid")" 5 munged &
wait

# Daemons whose pid file was lost (e.g. deleted state) are found by command line.
for pid in $(ours); do
  stop_pid "$pid" 5 "$(ps -o comm= -p "$pid" 2>/dev/null || echo process)"
done
rm -f "$STATE_DIR/run/slurmctld.pid" "$STATE_DIR"/run/slurmd*.pid "$STATE_DIR/munge/run/munged.pid"

left=$(ours)
if [[ -n $left ]]; then
  echo "local-slurm: error: processes still running:" >&2
  ps -o pid,comm,args -p "${left//$'\n'/,}" >&2 || true
  exit 1
fi
log "stopped ($STATE_DIR)"
