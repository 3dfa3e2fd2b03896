#!/usr/bin/env bash
# Starts a single-node Slurm on loopback (munge + slurmctld + slurmd, no accounting daemon) for
# the Slurm executor's tests; prints the node name. Needs root and Debian's slurmctld, slurmd,
# slurm-client and munge. Recipe: ../shared/research/pipeline-anchors.md §2.6.
#   scripts/slurm-local.sh start | stop | status
set -euo pipefail
H=$(hostname -s)
conf=/etc/slurm/slurm.conf
start() {
  mkdir -p /run/munge /var/log/munge /var/lib/munge /etc/munge
  chown -R munge:munge /run/munge /var/log/munge /var/lib/munge /etc/munge
  if [ ! -s /etc/munge/munge.key ]; then
    mungekey --create --keyfile=/etc/munge/munge.key 2>/dev/null || dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key 2>/dev/null
  fi
  chown munge:munge /etc/munge/munge.key && chmod 400 /etc/munge/munge.key
  pgrep -x munged >/dev/null || runuser -u munge -- /usr/sbin/munged
  munge -n | unmunge >/dev/null
  mkdir -p /var/spool/slurmctld /var/spool/slurmd /var/log/slurm /etc/slurm
  cat >"$conf" <<CONF
ClusterName=peftlab
SlurmctldHost=${H}(127.0.0.1)
SlurmUser=root
AuthType=auth/munge
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=/var/log/slurm/jobcomp.log
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
ReturnToService=2
MinJobAge=3600
KillWait=5
InactiveLimit=0
NodeName=${H} NodeAddr=127.0.0.1 CPUs=$(nproc) RealMemory=$(( $(awk '/MemTotal/ {print int($2/1024)}' /proc/meminfo) - 1024 )) State=UNKNOWN
PartitionName=debug Nodes=${H} Default=YES MaxTime=INFINITE State=UP
CONF
  # (Re)start what does not answer; a daemon still shutting down is waited for.
  if ! timeout 5 scontrol ping 2>/dev/null | grep -q UP; then
    pkill -x slurmctld 2>/dev/null || true
    for _ in $(seq 1 20); do pgrep -x slurmctld >/dev/null || break; sleep 0.5; done
    slurmctld
  fi
  if ! pgrep -x slurmd >/dev/null; then slurmd; fi
  for _ in $(seq 1 30); do
    if timeout 5 sinfo -h -o '%T' 2>/dev/null | grep -qE 'idle|mixed|allocated'; then echo "$H"; return 0; fi
    timeout 5 scontrol update nodename="$H" state=resume >/dev/null 2>&1 || true
    sleep 1
  done
  echo "slurm-local: the node did not come up; see /var/log/slurm/*.log" >&2
  sinfo >&2 || true
  return 1
}
stop() {
  pkill -x slurmd || true; pkill -x slurmctld || true
  for _ in $(seq 1 20); do { pgrep -x slurmctld || pgrep -x slurmd; } >/dev/null || break; sleep 0.5; done
}
case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  status) sinfo ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
