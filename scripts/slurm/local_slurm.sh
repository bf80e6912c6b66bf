#!/usr/bin/env bash
# local_slurm.sh — a private, single-node SLURM cluster for testing veiqa's SLURM profiles.
#
# Usage: scripts/slurm/local_slurm.sh {install|up|down|status|env} [--dir DIR]
#
#   install  apt-get install slurmctld slurmd slurm-client munge (Debian; needs root). Idempotent:
#            does nothing when the packages are already installed; runs `apt-get update` first only
#            when the package lists are missing or the first install attempt fails.
#   up       creates DIR (default /tmp/veiqa-slurm, or $VEIQA_SLURM_DIR), a munge key in it if absent,
#            starts munged (as user munge, on its own socket DIR/munge/munge.socket.2), writes
#            DIR/slurm.conf (one node = this machine, partition `debug`), starts slurmctld and slurmd as
#            daemons (PID files DIR/*.pid), waits until `sinfo` shows the node idle, prints the PIDs and
#            the line `export SLURM_CONF=DIR/slurm.conf`. Already up: says so and exits 0.
#   down     cancels the jobs still queued on this private cluster, then stops exactly the daemons that
#            `up` started (by the PIDs recorded in DIR), waiting for them to exit.
#   status   sinfo and squeue of this private cluster, and which recorded daemons are alive.
#   env      prints `export SLURM_CONF=DIR/slurm.conf` (for `eval "$(local_slurm.sh env)"`).
#
# The system's /etc/munge is untouched (munged gets its own key and socket in DIR). SLURM clients
# (sbatch, squeue, snakemake's slurm executor) find this cluster through the SLURM_CONF environment
# variable, which must therefore be exported. One exception to "nothing outside DIR": inside a job,
# snakemake's jobstep plugin (snakemake-executor-plugin-slurm-jobstep 0.6.1) deletes every SLURM_*
# variable, SLURM_CONF included, before its nested `srun`, which then reads the compiled-in default
# /etc/slurm/slurm.conf. So `up` makes /etc/slurm/slurm.conf a symlink to DIR/slurm.conf when (and only
# when) that path does not exist (or is a dangling symlink), and `down` removes the symlink again if it
# still points at DIR/slurm.conf. An existing system slurm.conf is never replaced; `up` then warns that
# Snakemake jobs on this private cluster will fail.
#
# Environment: VEIQA_SLURM_DIR (state directory), VEIQA_SLURM_CTLD_PORT (default 6817),
# VEIQA_SLURM_SLURMD_PORT (default 6818), VEIQA_SLURM_UP_TIMEOUT (seconds, default 90),
# VEIQA_SLURM_ETC_CONF (the clients' compiled-in default config path, default /etc/slurm/slurm.conf).
set -euo pipefail

PROG=$(basename "$0")
die() { echo "$PROG: error: $*" >&2; exit 1; }
log() { echo "$PROG: $*" >&2; }

CMD=${1:-}
[ -n "$CMD" ] || die "usage: $PROG {install|up|down|status|env} [--dir DIR]"
shift
DIR=${VEIQA_SLURM_DIR:-/tmp/veiqa-slurm}
while [ $# -gt 0 ]; do
    case "$1" in
        --dir) [ $# -ge 2 ] || die "--dir needs a value"; DIR=$2; shift 2 ;;
        --dir=*) DIR=${1#--dir=}; shift ;;
        *) die "unknown argument '$1' (usage: $PROG {install|up|down|status|env} [--dir DIR])" ;;
    esac
done
case "$DIR" in /*) ;; *) DIR="$(pwd)/$DIR" ;; esac
DIR=${DIR%/}

CTLD_PORT=${VEIQA_SLURM_CTLD_PORT:-6817}
SLURMD_PORT=${VEIQA_SLURM_SLURMD_PORT:-6818}
UP_TIMEOUT=${VEIQA_SLURM_UP_TIMEOUT:-90}
PACKAGES=(slurmctld slurmd slurm-client munge)
CONF="$DIR/slurm.conf"
ETC_CONF=${VEIQA_SLURM_ETC_CONF:-/etc/slurm/slurm.conf}
MUNGE_DIR="$DIR/munge"
MUNGE_SOCKET="$MUNGE_DIR/munge.socket.2"
# daemon name -> pid file; the name is also the expected /proc/PID/comm
declare -A PIDFILE=(
    [munged]="$DIR/munged.pid"
    [slurmctld]="$DIR/slurmctld.pid"
    [slurmd]="$DIR/slurmd.pid"
)
DAEMONS_START_ORDER=(munged slurmctld slurmd)
DAEMONS_STOP_ORDER=(slurmd slurmctld munged)

# ---------------------------------------------------------------------------------------------- helpers
pid_of() {  # pid_of NAME -> prints the recorded PID if that process is alive and is NAME; else fails
    local name=$1 f=${PIDFILE[$1]} pid comm
    [ -s "$f" ] || return 1
    pid=$(tr -dc '0-9' <"$f")
    [ -n "$pid" ] || return 1
    [ -r "/proc/$pid/comm" ] || return 1
    comm=$(cat "/proc/$pid/comm" 2>/dev/null) || return 1
    [ "$comm" = "$name" ] || return 1
    echo "$pid"
}

wait_for_pidfile() {  # wait_for_pidfile NAME SECONDS
    local name=$1 t=$2 i
    for ((i = 0; i < t * 10; i++)); do
        pid_of "$name" >/dev/null && return 0
        sleep 0.1
    done
    return 1
}

show_log() {  # show_log FILE: last lines of a daemon log, for error messages
    [ -f "$1" ] && { echo "--- last lines of $1:" >&2; tail -n 20 "$1" >&2; }
    return 0
}

need_root() {
    [ "$(id -u)" -eq 0 ] || die "'$CMD' must run as root (it starts munged as user munge and SLURM daemons as root)"
}

need_binaries() {
    local b missing=()
    for b in munged mungekey slurmctld slurmd sinfo squeue sbatch scancel runuser; do
        command -v "$b" >/dev/null 2>&1 || missing+=("$b")
    done
    [ ${#missing[@]} -eq 0 ] || die "missing programs: ${missing[*]} (run '$PROG install' first)"
}

export_line() { echo "export SLURM_CONF=$CONF"; }

# ---------------------------------------------------------------------------------------------- install
do_install() {
    local p missing=()
    for p in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    if [ ${#missing[@]} -eq 0 ]; then
        log "packages already installed: ${PACKAGES[*]}"
        return 0
    fi
    need_root
    command -v apt-get >/dev/null 2>&1 || die "apt-get not found: this script installs SLURM on Debian/Ubuntu only"
    export DEBIAN_FRONTEND=noninteractive
    local aptlog
    aptlog=$(mktemp)
    if ! ls /var/lib/apt/lists/*_Packages* >/dev/null 2>&1; then
        log "apt package lists missing: apt-get update"
        apt-get update -qq >"$aptlog" 2>&1 || { cat "$aptlog" >&2; die "apt-get update failed"; }
    fi
    log "installing ${missing[*]}"
    if ! apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" >"$aptlog" 2>&1; then
        log "apt-get install failed; retrying after apt-get update"
        apt-get update -qq >>"$aptlog" 2>&1 || true
        apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" >>"$aptlog" 2>&1 ||
            { tail -n 30 "$aptlog" >&2; die "apt-get install ${PACKAGES[*]} failed"; }
    fi
    rm -f "$aptlog"
    log "installed: ${PACKAGES[*]}"
}

# ---------------------------------------------------------------------------------------------- up
etc_conf_state() {  # prints: ours | absent | foreign
    if [ -L "$ETC_CONF" ] && [ "$(readlink "$ETC_CONF")" = "$CONF" ]; then echo ours
    elif [ -L "$ETC_CONF" ] && [ ! -e "$ETC_CONF" ]; then echo absent   # dangling symlink
    elif [ ! -e "$ETC_CONF" ] && [ ! -L "$ETC_CONF" ]; then echo absent
    else echo foreign
    fi
}

link_etc_conf() {
    case "$(etc_conf_state)" in
        ours) ;;
        absent)
            mkdir -p "$(dirname "$ETC_CONF")"
            ln -sfn "$CONF" "$ETC_CONF"
            log "linked $ETC_CONF -> $CONF (for srun inside jobs; removed again by 'down')" ;;
        foreign)
            log "WARNING: $ETC_CONF exists and is not ours; left untouched. Jobs submitted by Snakemake's slurm" \
                "executor run a nested srun without SLURM_CONF, which will read $ETC_CONF, not $CONF." ;;
    esac
}

unlink_etc_conf() {
    if [ "$(etc_conf_state)" = ours ]; then
        rm -f "$ETC_CONF"
        echo "removed symlink $ETC_CONF"
    fi
}

write_conf() {
    local host cpus mem_total margin mem
    host=$(hostname -s)
    cpus=$(nproc)
    mem_total=$(free -m | awk '/^Mem:/ {print $2}')
    # leave 10% (at least 512 MB) to the OS and the daemons; slurmd drains a node whose
    # configured RealMemory exceeds what it measures.
    margin=$((mem_total / 10)); [ "$margin" -ge 512 ] || margin=512
    mem=$((mem_total - margin)); [ "$mem" -ge 256 ] || mem=256
    cat >"$CONF.tmp" <<EOF
# Written by scripts/slurm/local_slurm.sh — private single-node test cluster. Clients need:
#   export SLURM_CONF=$CONF
ClusterName=veiqa
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$MUNGE_SOCKET
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool/slurmd.%n
SlurmctldPidFile=${PIDFILE[slurmctld]}
SlurmdPidFile=${PIDFILE[slurmd]}
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
PlugStackConfig=$DIR/plugstack.conf
ProctrackType=proctrack/linuxproc
TaskPlugin=task/affinity
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1024
MinJobAge=300
ReturnToService=2
SlurmctldTimeout=30
SlurmdTimeout=60
InactiveLimit=0
KillWait=5
Waittime=0
NodeName=$host CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
EOF
    mv "$CONF.tmp" "$CONF"
    : >"$DIR/plugstack.conf"
}

start_munged() {
    if pid_of munged >/dev/null; then return 0; fi
    id munge >/dev/null 2>&1 || die "user 'munge' does not exist (is the munge package installed? '$PROG install')"
    mkdir -p "$MUNGE_DIR"
    if [ ! -s "$MUNGE_DIR/munge.key" ]; then
        mungekey --create --keyfile="$MUNGE_DIR/munge.key" --force >/dev/null 2>&1 ||
            dd if=/dev/urandom of="$MUNGE_DIR/munge.key" bs=1024 count=1 status=none
        log "created munge key $MUNGE_DIR/munge.key"
    fi
    chown -R munge:munge "$MUNGE_DIR"
    chmod 0755 "$MUNGE_DIR"
    chmod 0600 "$MUNGE_DIR/munge.key"
    rm -f "$MUNGE_SOCKET" "$MUNGE_SOCKET.lock" "${PIDFILE[munged]}"
    # munged writes its own pid file (it lives in DIR, which root owns, so munged writes it in
    # MUNGE_DIR and we link it).
    runuser -u munge -- munged --force \
        --socket="$MUNGE_SOCKET" --key-file="$MUNGE_DIR/munge.key" \
        --log-file="$MUNGE_DIR/munged.log" --pid-file="$MUNGE_DIR/munged.pid" \
        --seed-file="$MUNGE_DIR/munged.seed" ||
        { show_log "$MUNGE_DIR/munged.log"; die "munged failed to start"; }
    ln -sf "$MUNGE_DIR/munged.pid" "${PIDFILE[munged]}"
    wait_for_pidfile munged 10 || { show_log "$MUNGE_DIR/munged.log"; die "munged did not come up (no live PID in ${PIDFILE[munged]})"; }
    # the socket must answer before slurmctld starts
    local i
    for ((i = 0; i < 50; i++)); do
        munge -n --socket="$MUNGE_SOCKET" 2>/dev/null | unmunge --socket="$MUNGE_SOCKET" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    show_log "$MUNGE_DIR/munged.log"
    die "munged is running but does not answer on $MUNGE_SOCKET"
}

start_slurmctld() {
    if pid_of slurmctld >/dev/null; then return 0; fi
    rm -f "${PIDFILE[slurmctld]}"
    # -c: start from a clean job state (this is a throw-away test cluster)
    SLURM_CONF=$CONF slurmctld -c -f "$CONF" ||
        { show_log "$DIR/log/slurmctld.log"; die "slurmctld failed to start"; }
    wait_for_pidfile slurmctld 20 ||
        { show_log "$DIR/log/slurmctld.log"; die "slurmctld did not come up (no live PID in ${PIDFILE[slurmctld]}; port $CTLD_PORT in use by another SLURM? set VEIQA_SLURM_CTLD_PORT)"; }
}

start_slurmd() {
    if pid_of slurmd >/dev/null; then return 0; fi
    rm -f "${PIDFILE[slurmd]}"
    SLURM_CONF=$CONF slurmd -f "$CONF" -N "$(hostname -s)" ||
        { show_log "$DIR/log/slurmd.log"; die "slurmd failed to start"; }
    wait_for_pidfile slurmd 20 ||
        { show_log "$DIR/log/slurmd.log"; die "slurmd did not come up (no live PID in ${PIDFILE[slurmd]}; port $SLURMD_PORT in use? set VEIQA_SLURM_SLURMD_PORT)"; }
}

wait_idle() {
    local host state i
    host=$(hostname -s)
    for ((i = 0; i < UP_TIMEOUT * 2; i++)); do
        state=$(SLURM_CONF=$CONF sinfo -h -N -n "$host" -o '%t' 2>/dev/null | head -n 1 || true)
        case "$state" in
            idle | mix | alloc) return 0 ;;
            drain* | down* | fail*)
                # a node left down by an earlier run: resume it once
                SLURM_CONF=$CONF scontrol update NodeName="$host" State=RESUME >/dev/null 2>&1 || true ;;
        esac
        sleep 0.5
    done
    SLURM_CONF=$CONF sinfo -N -l >&2 || true
    show_log "$DIR/log/slurmctld.log"
    show_log "$DIR/log/slurmd.log"
    die "timed out after ${UP_TIMEOUT}s waiting for node '$host' to be idle in sinfo (last state: '${state:-none}')"
}

do_up() {
    need_root
    need_binaries
    if pid_of munged >/dev/null && pid_of slurmctld >/dev/null && pid_of slurmd >/dev/null; then
        log "already up in $DIR"
    else
        mkdir -p "$DIR" "$DIR/state" "$DIR/spool" "$DIR/log"
        chmod 0755 "$DIR"
        write_conf
        start_munged
        start_slurmctld
        start_slurmd
    fi
    link_etc_conf
    wait_idle
    local d
    for d in "${DAEMONS_START_ORDER[@]}"; do
        echo "$d pid $(pid_of "$d")"
    done
    echo "etc_conf $(etc_conf_state) $ETC_CONF"
    export_line
}

# ---------------------------------------------------------------------------------------------- down
do_down() {
    local d pid i alive
    if [ -f "$CONF" ] && pid_of slurmctld >/dev/null; then
        # cancel jobs of this private cluster (all were submitted to it by its users' tests)
        local jobs
        jobs=$(SLURM_CONF=$CONF squeue -h -o '%i' 2>/dev/null || true)
        if [ -n "$jobs" ]; then
            # shellcheck disable=SC2086
            SLURM_CONF=$CONF scancel $jobs 2>/dev/null || true
            for ((i = 0; i < 40; i++)); do
                [ -z "$(SLURM_CONF=$CONF squeue -h -t R,CG -o '%i' 2>/dev/null || true)" ] && break
                sleep 0.25
            done
        fi
    fi
    for d in "${DAEMONS_STOP_ORDER[@]}"; do
        if pid=$(pid_of "$d"); then
            kill -TERM "$pid" 2>/dev/null || true
            alive=1
            for ((i = 0; i < 150; i++)); do
                if ! kill -0 "$pid" 2>/dev/null || [ "$(cat "/proc/$pid/comm" 2>/dev/null)" != "$d" ]; then
                    alive=0; break
                fi
                sleep 0.1
            done
            if [ "$alive" -eq 1 ]; then
                log "$d (pid $pid) did not exit after SIGTERM; sending SIGKILL"
                kill -KILL "$pid" 2>/dev/null || true
                for ((i = 0; i < 50; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
            fi
            echo "stopped $d (pid $pid)"
        else
            echo "$d not running (no live PID in ${PIDFILE[$d]})"
        fi
        rm -f "${PIDFILE[$d]}"
    done
    rm -f "$MUNGE_DIR/munged.pid" "$MUNGE_SOCKET" "$MUNGE_SOCKET.lock"
    unlink_etc_conf
}

# ---------------------------------------------------------------------------------------------- status
do_status() {
    local d rc=0
    for d in "${DAEMONS_START_ORDER[@]}"; do
        if pid=$(pid_of "$d"); then echo "$d running (pid $pid)"; else echo "$d not running"; rc=3; fi
    done
    if [ -f "$CONF" ] && [ $rc -eq 0 ]; then
        SLURM_CONF=$CONF sinfo -N -l || rc=$?
        SLURM_CONF=$CONF squeue || rc=$?
        echo "etc_conf $(etc_conf_state) $ETC_CONF"
        export_line
    fi
    return $rc
}

case "$CMD" in
    install) do_install ;;
    up) do_up ;;
    down) do_down ;;
    status) do_status ;;
    env) export_line ;;
    -h | --help | help) sed -n '2,31p' "$0" | sed 's/^# \{0,1\}//' ;;
    *) die "unknown command '$CMD' (usage: $PROG {install|up|down|status|env} [--dir DIR])" ;;
esac
