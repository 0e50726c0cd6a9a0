#!/usr/bin/env bash
# Starts a Slurm cluster (munged + slurmctld + one slurmd per node) on this machine, for the
# slurm test tier and for trying `revsweep submit` on a laptop. With --nodes N (N > 1) it runs
# N slurmd daemons on this host (Slurm's multiple-slurmd mode: `slurmd -N NAME`), nodes
# node1..nodeN, each with its own port, spool, log, pid file and TmpFS (PMIx makes its per-step
# directory under TmpFS, and two nodes on one host would otherwise collide). Everything it writes lives under
# STATE_DIR, so it never touches /etc/slurm or a system munge, and it needs no systemd or
# cgroups. Idempotent: if the cluster under STATE_DIR already answers, it only prints the export
# line. See deploy/local-slurm/README.md.
#
#   deploy/local-slurm/start.sh [--nodes N] [STATE_DIR]
#                                (default ${REVSWEEP_SLURM_DIR:-/tmp/revsweep-slurm}, N = 1)
#
# Several node names on one host: Open MPI's shared-memory transport cannot tell the "nodes"
# apart, so jobs need OMPI_MCA_btl=self,tcp; start.sh prints that export line too when N > 1.
#
# Environment (all optional):
#   REVSWEEP_SLURMCTLD_PORT  slurmctld port (default 16817; not 6817 so a site Slurm can coexist)
#   REVSWEEP_SLURMD_PORT     slurmd port    (default 16818; node i of N gets this + i - 1)
#   REVSWEEP_SLURM_CPUS      CPUs each node advertises (default 8, whatever the machine has)
#   REVSWEEP_SLURM_START_TIMEOUT  seconds to wait for the node to become idle (default 60)
#   REVSWEEP_SLURM_CRED_EXPIRE    munge credential lifetime, also the wait before a requeued job
#                                 may start again (default 10; the chaos tier uses 5)
#   REVSWEEP_SLURM_KILL_WAIT      seconds between SIGTERM and SIGKILL of a job's processes, and
#                                 how long srun waits for a step on a node that went away
#                                 (default 30; the chaos tier uses 8)
set -euo pipefail

NODES=1
ARGS=()
while (($#)); do
  case $1 in
    --nodes)
      NODES=${2:-}
      shift 2 || { echo "local-slurm: error: --nodes needs a number" >&2; exit 2; }
      ;;
    --nodes=*)
      NODES=${1#--nodes=}
      shift
      ;;
    *)
      ARGS+=("$1")
      shift
      ;;
  esac
done
[[ $NODES =~ ^[1-9][0-9]*$ ]] || { echo "local-slurm: error: --nodes '$NODES' is not a positive number" >&2; exit 2; }
STATE_DIR=${ARGS[0]:-${REVSWEEP_SLURM_DIR:-/tmp/revsweep-slurm}}
CTLD_PORT=${REVSWEEP_SLURMCTLD_PORT:-16817}
SLURMD_PORT=${REVSWEEP_SLURMD_PORT:-16818}
CPUS=${REVSWEEP_SLURM_CPUS:-8}
START_TIMEOUT=${REVSWEEP_SLURM_START_TIMEOUT:-60}
CRED_EXPIRE=${REVSWEEP_SLURM_CRED_EXPIRE:-10}
KILL_WAIT=${REVSWEEP_SLURM_KILL_WAIT:-30}
[[ $KILL_WAIT =~ ^[0-9]+$ ]] || { echo "local-slurm: error: REVSWEEP_SLURM_KILL_WAIT '$KILL_WAIT' is not a number" >&2; exit 2; }
[[ $CRED_EXPIRE =~ ^[0-9]+$ ]] || { echo "local-slurm: error: REVSWEEP_SLURM_CRED_EXPIRE '$CRED_EXPIRE' is not a number" >&2; exit 2; }
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

die() {
  echo "local-slurm: error: $*" >&2
  exit 1
}
log() { echo "local-slurm: $*"; }

[[ $(id -u) -eq 0 ]] || die "run as root (slurmd must launch jobs and munged owns its key)"
for b in munged slurmctld slurmd sinfo scontrol; do
  command -v "$b" >/dev/null || die "$b not found; run deploy/install-deps.sh (slurm-wlm, munge)"
done
[[ $STATE_DIR == /* ]] || STATE_DIR="$PWD/$STATE_DIR"
STATE_DIR=${STATE_DIR%/}

CONF="$STATE_DIR/slurm.conf"
MUNGE_SOCKET="$STATE_DIR/munge/run/munge.socket.2"
# Short host name: slurmd looks itself up by it. The address is pinned to loopback so a host
# name that does not resolve (containers, CI) still works.
NODE=$(hostname -s 2>/dev/null || true)
[[ -n $NODE ]] || NODE=localhost
# srun and slurmstepd reach each other by host name; one that does not resolve breaks job I/O.
if ! getent hosts "$NODE" >/dev/null 2>&1; then
  echo "local-slurm: warning: host name '$NODE' does not resolve; if srun hangs or loses" \
    "output, add '127.0.0.1 $NODE' to /etc/hosts" >&2
fi
export SLURM_CONF="$CONF"
# The node names: the host itself for one node, node1..nodeN for several (all on this host).
if ((NODES == 1)); then
  NODE_NAMES=("$NODE")
else
  NODE_NAMES=()
  for ((i = 1; i <= NODES; i++)); do NODE_NAMES+=("node$i"); done
fi
# Per-node files: slurmd.pid and slurmd.log for one node (as before), slurmd-<node>.* for more.
slurmd_file() { # slurmd_file DIR EXT NODE
  if ((NODES == 1)); then echo "$STATE_DIR/$1/slurmd.$2"; else echo "$STATE_DIR/$1/slurmd-$3.$2"; fi
}

pid_alive() { [[ -s $1 ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

node_state() { sinfo -h -n "$1" -o %t 2>/dev/null | head -n1 || true; }

responsive() {
  [[ -f $CONF ]] || return 1
  # A cluster started with another node count is not this one.
  [[ $(grep -c '^NodeName=' "$CONF") == "$NODES" ]] || return 1
  pid_alive "$STATE_DIR/munge/run/munged.pid" || return 1
  pid_alive "$STATE_DIR/run/slurmctld.pid" || return 1
  local n
  for n in "${NODE_NAMES[@]}"; do pid_alive "$(slurmd_file run pid "$n")" || return 1; done
  timeout 10 scontrol ping 2>/dev/null | grep -q UP || return 1
  # A trailing * means "not responding"; idle, mix and alloc are all usable.
  for n in "${NODE_NAMES[@]}"; do
    [[ $(node_state "$n") =~ ^(idle|mix|alloc|comp)$ ]] || return 1
  done
}

print_env() {
  log "up: $NODES node(s) ${NODE_NAMES[*]}, partition debug, state in $STATE_DIR"
  echo "export SLURM_CONF=$CONF"
  if ((NODES > 1)); then echo "export OMPI_MCA_btl=self,tcp"; fi
}

if responsive; then
  print_env
  exit 0
fi

# Anything left over from a half-started or crashed cluster is stopped first, so the config
# below can be regenerated and every daemon starts from the same one.
"$HERE/stop.sh" "$STATE_DIR" >/dev/null 2>&1 || true

# A port taken by another cluster makes the daemons exit at once; say so up front.
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
port_busy "$CTLD_PORT" && die "port $CTLD_PORT is in use: set REVSWEEP_SLURMCTLD_PORT"
for ((i = 0; i < NODES; i++)); do
  port_busy $((SLURMD_PORT + i)) && die "port $((SLURMD_PORT + i)) is in use: set REVSWEEP_SLURMD_PORT"
done

mkdir -p "$STATE_DIR"/{state,spool,log,run,tmp,munge/etc,munge/run,munge/log,munge/lib}
if ((NODES > 1)); then
  for n in "${NODE_NAMES[@]}"; do mkdir -p "$STATE_DIR/spool/$n" "$STATE_DIR/tmp/$n"; done
fi
SPOOL=$STATE_DIR/spool
TMPFS=$STATE_DIR/tmp
if ((NODES > 1)); then SPOOL+=/%n; TMPFS+=/%n; fi
NODE_LINES=""
for ((i = 0; i < NODES; i++)); do
  NODE_LINES+="NodeName=${NODE_NAMES[i]} NodeHostname=$NODE NodeAddr=127.0.0.1 Port=$((SLURMD_PORT + i))"
  NODE_LINES+=" CPUs=$CPUS RealMemory=__MEM__ State=UNKNOWN"$'\n'
done
PARTITION_NODES=$(IFS=,; echo "${NODE_NAMES[*]}")
# munged refuses to start unless its key directory is private and its socket directory is not
# writable by others; /tmp itself (sticky, 1777) is accepted.
chmod 0755 "$STATE_DIR" "$STATE_DIR/munge" "$STATE_DIR/munge/run"
chmod 0700 "$STATE_DIR/munge/etc" "$STATE_DIR/munge/lib" "$STATE_DIR/munge/log"
KEY="$STATE_DIR/munge/etc/munge.key"
if [[ ! -s $KEY ]]; then
  dd if=/dev/urandom of="$KEY" bs=1024 count=1 status=none
fi
chmod 0400 "$KEY"

# Memory the node advertises; with config_overrides Slurm trusts slurm.conf, so this only has to
# be plausible (jobs asking --mem above it are rejected).
MEM_MB=$(awk '/^MemTotal:/ {print int($2 / 1024)}' /proc/meminfo)

cat >"$CONF" <<EOF
# Generated by deploy/local-slurm/start.sh; regenerated on every cold start.
ClusterName=revsweep-local
SlurmctldHost=$NODE(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=root
SlurmdUser=root
# munged for this cluster listens under STATE_DIR. cred_expire is also how long a requeued job
# waits before it may start again (Slurm's default 120 s; REVSWEEP_SLURM_CRED_EXPIRE, default 10).
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$MUNGE_SOCKET,cred_expire=$CRED_EXPIRE
StateSaveLocation=$STATE_DIR/state
SlurmdSpoolDir=$SPOOL
SlurmctldPidFile=$STATE_DIR/run/slurmctld.pid
SlurmdPidFile=$(slurmd_file run pid %n)
SlurmctldLogFile=$STATE_DIR/log/slurmctld.log
SlurmdLogFile=$(slurmd_file log log %n)
# Where PMIx puts its per-step directory: one per node, or two nodes on one host collide.
TmpFS=$TMPFS
SlurmctldDebug=info
SlurmdDebug=info
# An empty plugin stack: no site SPANK plugins from /etc/slurm leak in.
PlugStackConfig=$STATE_DIR/plugstack.conf
# No systemd, no cgroups, no accounting daemon.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SwitchType=switch/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
# Latency: schedule a job as soon as it is submitted (batch_sched_delay, default 3 s), and run
# the full scheduling pass every second (sched_interval, default 60 s) so a requeued job starts
# as soon as its cred_expire delay is over instead of waiting up to a minute.
SchedulerType=sched/builtin
SchedulerParameters=batch_sched_delay=0,sched_interval=1
MessageTimeout=10
# No mail on a laptop; the default /bin/mail is usually missing and logs an error.
MailProg=/bin/true
# Seconds between SIGTERM and SIGKILL when a job is cancelled or requeued (Slurm's default): room
# for trainers to checkpoint on a busy machine. Jobs whose processes exit at once end at once.
# srun also waits KillWait + 2 s for the tasks of a node that went away (REVSWEEP_SLURM_KILL_WAIT).
KillWait=$KILL_WAIT
InactiveLimit=0
Waittime=0
# Finished jobs stay visible to squeue/scontrol for 10 minutes (there is no sacct here).
MinJobAge=600
JobRequeue=1
ReturnToService=2
# The node may advertise more CPUs than the machine has, so 4-rank jobs fit on a laptop.
SlurmdParameters=config_overrides
${NODE_LINES//__MEM__/$MEM_MB}PartitionName=debug Nodes=$PARTITION_NODES Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
EOF
: >"$STATE_DIR/plugstack.conf"

tail_logs() {
  local f
  for f in "$STATE_DIR/munge/log/munged.log" "$STATE_DIR/log/slurmctld.log" \
    "$STATE_DIR"/log/slurmd*.log; do
    [[ -f $f ]] || continue
    echo "---- last lines of $f" >&2
    tail -n 20 "$f" >&2
  done
}
fail() {
  echo "local-slurm: error: $*" >&2
  tail_logs
  exit 1
}

rm -f "$STATE_DIR/run/slurmctld.pid" "$STATE_DIR"/run/slurmd*.pid "$STATE_DIR/munge/run/munged.pid"
log "starting munged"
munged --socket="$MUNGE_SOCKET" --key-file="$KEY" \
  --pid-file="$STATE_DIR/munge/run/munged.pid" --log-file="$STATE_DIR/munge/log/munged.log" \
  --seed-file="$STATE_DIR/munge/lib/munged.seed" ||
  fail "munged did not start"
for _ in $(seq 50); do [[ -S $MUNGE_SOCKET ]] && break; sleep 0.1; done
[[ -S $MUNGE_SOCKET ]] || fail "munged socket $MUNGE_SOCKET did not appear"

log "starting slurmctld (port $CTLD_PORT)"
# -i: ignore unreadable state left by an older run rather than refusing to start.
slurmctld -f "$CONF" -i || fail "slurmctld did not start"
for ((i = 0; i < NODES; i++)); do
  log "starting slurmd (node ${NODE_NAMES[i]}, port $((SLURMD_PORT + i)))"
  slurmd -f "$CONF" -N "${NODE_NAMES[i]}" || fail "slurmd for ${NODE_NAMES[i]} did not start"
done

deadline=$((SECONDS + START_TIMEOUT))
declare -A resumed=()
ready=0
while ((SECONDS < deadline)); do
  # A daemon that died (bad config, port race) will not come back: fail now, with its log.
  # (Its pid file appears a moment after the daemon forks, so a missing one is not death.)
  for f in "$STATE_DIR/run/slurmctld.pid" "$STATE_DIR"/run/slurmd*.pid; do
    if [[ -s $f ]] && ! pid_alive "$f"; then fail "$(basename "$f" .pid) exited"; fi
  done
  ready=0
  for n in "${NODE_NAMES[@]}"; do
    state=$(node_state "$n")
    case "$state" in
      idle | mix | alloc) ready=$((ready + 1)) ;;
      down* | drain* | drng*)
        # A node marked down by a previous run's state file: bring it back once.
        if [[ -z ${resumed[$n]:-} ]]; then
          scontrol update NodeName="$n" State=RESUME >/dev/null 2>&1 || true
          resumed[$n]=1
        fi
        ;;
    esac
  done
  ((ready == NODES)) && break
  sleep 0.5
done
((ready == NODES)) ||
  fail "$((NODES - ready)) of $NODES node(s) not idle after ${START_TIMEOUT}s; sinfo: $(sinfo -N 2>&1)"
print_env
