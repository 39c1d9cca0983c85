# shellcheck shell=bash
# Shared by the bench scripts (sourced, not run): process helpers, waiting, CPU accounting, target checks.
# The sourcing script sets WORK (its temporary folder), MILTER_DLL and PIDS=() before sourcing.

die() { echo "bench: $*" >&2; exit 1; }
log() { echo "bench: $*" >&2; }

free_port() {
    /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# A daemon and its direct children (rspamd forks its workers), one PID a line.
daemon_pids() { echo "$1"; ps -o pid= --ppid "$1" 2>/dev/null || true; }

# utime+stime in clock ticks of a process and its direct children.
cpu_ticks() {
    local pid=$1 total=0 p stat
    for p in $(daemon_pids "$pid"); do
        stat=$(cat "/proc/$p/stat" 2>/dev/null) || continue
        stat=${stat##*) }
        # after "pid (comm) ": field 3 is state, so utime (14) and stime (15) are the 12th and 13th words
        read -r -a f <<<"$stat"
        total=$((total + f[11] + f[12]))
    done
    echo "$total"
}

wait_for() { # wait_for DESCRIPTION COMMAND...: up to 30 s
    local what=$1 i
    shift
    for ((i = 0; i < 300; i++)); do
        if "$@" >/dev/null 2>&1; then return 0; fi
        sleep 0.1
    done
    die "$what did not come up"
}

milter() { dotnet "$MILTER_DLL" "$@"; }

# A target line: DESCRIPTION VALUE OP THRESHOLD, OP ">=", "<" or "<="; an empty VALUE prints n/a.
target_line() {
    local desc=$1 value=$2 op=$3 threshold=$4
    if [[ -z $value || $value == inf ]]; then
        printf '%-62s %10s  (needs %s %s)  n/a\n' "$desc" "${value:-missing}" "$op" "$threshold"
        return
    fi
    local verdict
    verdict=$(awk -v v="$value" -v t="$threshold" -v op="$op" \
        'BEGIN { ok = (op == "<") ? (v < t) : (op == "<=") ? (v <= t) : (v >= t); print ok ? "MET" : "MISSED" }')
    printf '%-62s %10s  (needs %s %s)  %s\n' "$desc" "$value" "$op" "$threshold" "$verdict"
}
check() { target_line "$1" "$2" ">=" "$3"; }       # check DESCRIPTION VALUE THRESHOLD: VALUE >= THRESHOLD
check_below() { target_line "$1" "$2" "<" "$3"; }  # check_below DESCRIPTION VALUE THRESHOLD: VALUE < THRESHOLD
check_at_most() { target_line "$1" "$2" "<=" "$3"; } # check_at_most DESCRIPTION VALUE THRESHOLD: VALUE <= THRESHOLD

ratio() { # ratio A B -> A/B with 2 decimals, empty when either is missing
    [[ -n $1 && -n $2 && $1 != inf && $2 != inf && $2 != 0 ]] || return 0
    awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'
}
