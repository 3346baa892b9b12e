#!/usr/bin/env bash
# A single-node Slurm cluster on this machine, for the Slurm executor's tests (test/data/slurm.test.ts): writes
# slurm.conf for this host, starts munged, slurmctld and slurmd, and waits until `sinfo` shows the node idle.
# Idempotent: a cluster already answering is left as it is. Needs root and Debian's slurm-wlm and munge (.ci/run
# installs them). No cgroups: proctrack/linuxproc and task/none (see shared/notes/slurm-local.md).
# MaxArraySize=1001 mimics the usual site limit, so the executor's splitting of larger arrays is exercised.
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then echo "slurm-up: must run as root" >&2; exit 1; fi
for bin in munged slurmctld slurmd sinfo; do
  command -v "$bin" >/dev/null 2>&1 || [ -x "/usr/sbin/$bin" ] || { echo "slurm-up: $bin is not installed (apt-get install slurm-wlm munge)" >&2; exit 1; }
done

node_idle() { sinfo -h -N -o '%t' 2>/dev/null | grep -qE '^(idle|mix|alloc)'; }
if node_idle; then
  echo "slurm-up: already running: $(sinfo -h -N -o '%N %t' | head -1)"
  exit 0
fi

host=$(hostname -s)
mkdir -p /etc/munge /var/log/munge /run/munge /var/lib/munge /var/spool/slurmctld /var/spool/slurmd /var/log/slurm /etc/slurm
[ -s /etc/munge/munge.key ] || dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key status=none
chown -R munge:munge /etc/munge /var/log/munge /run/munge /var/lib/munge
chmod 400 /etc/munge/munge.key

mem_mb=$(( $(free -m | awk '/Mem/{print $2}') * 8 / 10 ))
conf=$(cat <<CONF
ClusterName=local
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
ReturnToService=2
MaxArraySize=1001
MinJobAge=600
NodeName=$host CPUs=$(nproc) RealMemory=$mem_mb State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
)
# Rewritten only when it changed: a running controller keeps its configuration otherwise.
if [ ! -f /etc/slurm/slurm.conf ] || [ "$(cat /etc/slurm/slurm.conf)" != "$conf" ]; then
  printf '%s\n' "$conf" > /etc/slurm/slurm.conf
fi

pgrep -x munged >/dev/null || runuser -u munge -- /usr/sbin/munged
pgrep -x slurmctld >/dev/null || /usr/sbin/slurmctld -i
# slurmd registers with the controller; give the controller a moment to listen first.
for _ in $(seq 1 20); do scontrol ping 2>/dev/null | grep -q UP && break; sleep 0.5; done
pgrep -x slurmd >/dev/null || /usr/sbin/slurmd

for _ in $(seq 1 60); do
  if node_idle; then
    echo "slurm-up: $(sinfo -h -N -o '%N %P %t')"
    exit 0
  fi
  # A node left down or drained by an earlier run (ReturnToService covers most cases) is brought back.
  state=$(sinfo -h -N -o '%t' 2>/dev/null | head -1 || true)
  case "$state" in down*|drain*) scontrol update NodeName="$host" State=RESUME 2>/dev/null || true ;; esac
  sleep 1
done
echo "slurm-up: the node did not become idle within 60 s:" >&2
sinfo -N -l >&2 || true
tail -n 20 /var/log/slurm/slurmctld.log /var/log/slurm/slurmd.log >&2 || true
exit 1
