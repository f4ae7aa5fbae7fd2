# tests/cli/slurm_lib.sh - a real single-host Slurm for a test (and bench/slurm_bench.sh):
# slurmctld + slurmd from Debian's slurm-wlm packages on loopback, with a generated
# slurm.conf (auth/none: no munged needed), two fake GPUs in gres.conf and a
# partition "urgent" whose jobs preempt those of the default one, in the
# folder $1, stopped by slurm_stop. SLURM_TEST_CPUS sets the CPUs it claims (default: nproc). Exits 77 (skip) when Slurm is not installed
# or not run as root (slurmd must be), saying why.

slurm_start() {
    local dir=$1 host port
    for cmd in slurmctld slurmd sbatch squeue scontrol scancel sinfo; do
        command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/sbin/$cmd" ] ||
            { echo "SKIP: $cmd not installed (apt-get install slurmctld slurmd slurm-client)"; exit 77; }
    done
    [ "$(id -u)" = 0 ] || { echo "SKIP: a test Slurm needs root (slurmd)"; exit 77; }
    host=$(hostname -s)
    # Away from the default ports (6817/6818) and from another test's.
    port=$((20000 + ($$ % 2000) * 2))
    mkdir -p "$dir/state" "$dir/spool" "$dir/log"
    cat > "$dir/slurm.conf" <<EOF
ClusterName=ikadatest
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/none
CredType=cred/none
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
SlurmctldPort=$port
SlurmdPort=$((port + 1))
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=1
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MinJobAge=3600
ReturnToService=2
# Trust the CPUs given here over the machine's (SLURM_TEST_CPUS may claim more).
SlurmdParameters=config_overrides
MpiDefault=none
KillWait=2
OverTimeLimit=0
GresTypes=gpu
NodeName=$host NodeAddr=127.0.0.1 CPUs=${SLURM_TEST_CPUS:-$(nproc)} RealMemory=1000 Gres=gpu:2 State=UNKNOWN
# A job in "urgent" preempts (cancels: state PREEMPTED) the jobs of "debug" it needs the CPUs of.
PreemptType=preempt/partition_prio
PreemptMode=CANCEL
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP PriorityTier=1
PartitionName=urgent Nodes=$host MaxTime=INFINITE State=UP PriorityTier=10 PreemptMode=off
EOF
    cat > "$dir/gres.conf" <<EOF
AutoDetect=off
NodeName=$host Name=gpu File=/dev/null
NodeName=$host Name=gpu File=/dev/zero
EOF
    export SLURM_CONF="$dir/slurm.conf"
    PATH="$PATH:/usr/sbin"
    slurmctld -f "$SLURM_CONF" -i || { echo "SKIP: slurmctld did not start"; exit 77; }
    slurmd -f "$SLURM_CONF" || { slurm_stop "$dir"; echo "SKIP: slurmd did not start"; exit 77; }
    for _ in $(seq 1 60); do
        sinfo -h -N -o "%T" 2>/dev/null | grep -q '^idle' && return 0
        sleep 0.5
    done
    echo "--- slurmctld.log" >&2; tail -20 "$dir/log/slurmctld.log" >&2
    echo "--- slurmd.log" >&2; tail -20 "$dir/log/slurmd.log" >&2
    slurm_stop "$dir"
    echo "SKIP: the test Slurm node never became idle (logs above)"
    exit 77
}

slurm_stop() {
    local dir=$1 f
    for f in "$dir/slurmd.pid" "$dir/slurmctld.pid"; do
        [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null
    done
    sleep 0.5
}
