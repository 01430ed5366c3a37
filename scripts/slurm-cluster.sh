#!/usr/bin/env bash
# A one-node Slurm cluster on this machine (munge + slurmctld + slurmd, partition `brd`), for the
# scale-out tests and for trying `brd ... --executor slurm` by hand. Needs root. Idempotent.
#
#   scripts/slurm-cluster.sh up       # install slurm-wlm and munge when missing, start, wait until idle
#   scripts/slurm-cluster.sh status   # prints `sinfo` (exit 1 when the cluster is not up)
#   scripts/slurm-cluster.sh down     # stop the daemons this script started (by their pid files)
#
# State, logs and pid files live in $BRD_SLURM_DIR (default /tmp/brd-slurm). The configuration is
# written to /etc/slurm/slurm.conf, where sbatch and srun look for it, and only when that file is
# absent or was written by this script: a real cluster's configuration is never replaced.
# What a real cluster does differently (partitions, GPUs, shared file systems): docs/scale-out.md.
set -euo pipefail
export PATH="$PATH:/usr/sbin:/sbin"  # slurmctld, slurmd and munged live there

STATE=${BRD_SLURM_DIR:-/tmp/brd-slurm}
CONF=/etc/slurm/slurm.conf
MARK="# written by brd scripts/slurm-cluster.sh"
PARTITION=brd
HOST=$(hostname -s)

say() { echo "slurm-cluster: $*" >&2; }
die() { say "$*"; exit 1; }

alive() { [[ -f $1 ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

install_packages() {
  command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v munged >/dev/null && return
  [[ $(id -u) == 0 ]] || die "slurm-wlm and munge are missing; run this as root to install them"
  say "installing slurm-wlm and munge (about half a minute)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null
}

write_config() {
  if [[ -f $CONF ]] && ! grep -qxF "$MARK" "$CONF"; then
    die "$CONF exists and was not written by this script; not touching it (this machine has a Slurm of its own)"
  fi
  local cpus mem
  cpus=$(nproc)
  # Leave 2 GB to the machine; jobs ask for memory per CPU (datatrove: --mem-per-cpu 2G by default).
  mem=$(awk '/MemTotal/ {m = int($2 / 1024) - 2048; print (m < 1024 ? 1024 : m)}' /proc/meminfo)
  mkdir -p /etc/slurm "$STATE"/{ctld,spool,log}
  cat >"$CONF.tmp" <<EOF
$MARK
ClusterName=brd
SlurmctldHost=$HOST(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
MpiDefault=none
SwitchType=switch/none
ReturnToService=2
# Dependent jobs (a commit after its tasks) start within a second or two of their dependency.
SchedulerParameters=sched_min_interval=500000
MinJobAge=600
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/spool
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=$PARTITION Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
EOF
  mv "$CONF.tmp" "$CONF"
}

start_munge() {
  if munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1; then
    return  # a munged is running already (ours from an earlier `up`, or the machine's)
  fi
  if [[ ! -s /etc/munge/munge.key ]]; then
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
  fi
  chown munge:munge /etc/munge/munge.key
  chmod 400 /etc/munge/munge.key
  mkdir -p /run/munge /var/log/munge /var/lib/munge
  chown munge:munge /run/munge /var/log/munge /var/lib/munge
  runuser -u munge -- /usr/sbin/munged
  touch "$STATE/munged.ours"
  for _ in $(seq 50); do
    munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1 && return
    sleep 0.1
  done
  die "munged did not start (see /var/log/munge/munged.log)"
}

up() {
  install_packages
  mkdir -p "$STATE"
  write_config
  start_munge
  alive "$STATE/slurmctld.pid" || slurmctld
  alive "$STATE/slurmd.pid" || slurmd
  local state=""
  for _ in $(seq 120); do
    state=$(sinfo -h -n "$HOST" -o %t 2>/dev/null | head -1 || true)
    case $state in
      idle|mix|alloc) say "up: partition $PARTITION on $HOST ($(nproc) CPUs), state in $STATE"; return ;;
      down*|drain*) scontrol update nodename="$HOST" state=resume >/dev/null 2>&1 || true ;;
    esac
    sleep 0.5
  done
  die "the node did not come up (state '${state:-none}'); logs: $STATE/log"
}

down() {
  local stopped=0 pid
  for d in slurmd slurmctld; do
    if alive "$STATE/$d.pid"; then
      pid=$(cat "$STATE/$d.pid")
      kill "$pid"
      for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
      stopped=1
    fi
    rm -f "$STATE/$d.pid"
  done
  if [[ -f $STATE/munged.ours ]]; then
    if [[ -f /run/munge/munged.pid ]] && kill -0 "$(cat /run/munge/munged.pid)" 2>/dev/null; then
      kill "$(cat /run/munge/munged.pid)"
    fi
    rm -f "$STATE/munged.ours"
  fi
  if ((stopped)); then say "down"; else say "not running"; fi
}

case ${1:-} in
  up) up ;;
  down) down ;;
  status) sinfo ;;
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
