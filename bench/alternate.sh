#!/usr/bin/env bash
# Start-up configurations of Milter compared in alternation (issue 16): for each round, each variant in turn
# gets a fresh daemon over a Unix socket (core 0, client on core 1, 8 connections, one 2 KB message per
# connection) and is measured cold (the first COLD verified messages, then COLD/5 signed) and, after
# WARMUP seconds of traffic, warm (COLD verified, COLD/5 signed). Daemon CPU per message from /proc/PID/stat
# with the load average beside it (bench/phases.sh's phase_run), start-up to listening and RSS at rest.
# A benchmark, not a test. As root from the repository root, after a Release build of src/Milter (the client):
#   AB_VARIANTS="jit=dotnet /opt/a/milter.dll|r2r=dotnet /opt/b/milter.dll" bench/alternate.sh
# Environment: AB_VARIANTS (name=command|...), AB_ROUNDS (2), AB_COLD (5000), AB_WARMUP (16),
# AB_TEN=1 adds a warm run at 10 messages per connection (the cost of a connection is the difference).
# AB_IDLE=N (0: off) then holds N idle connections (bench/idle-connections.py, as an idle Postfix session) and
# prints the RSS while they are held (the daemons get Server:MaxConnections N + 500, as bench/memory.sh does).
set -euo pipefail
readonly DAEMON_CORE=0 CLIENT_CORE=1 CONCURRENCY=8 DOMAIN=lab.example SELECTOR=bench
REPO=$(cd "$(dirname "$0")/.." && pwd)
MILTER_DLL="$REPO/src/Milter/bin/Release/net10.0/milter.dll"
CLK_TCK=$(getconf CLK_TCK)
WORK=$(mktemp -d /tmp/milter-alternate.XXXXXX)
PIDS=()
WARMUP_SECONDS=${AB_WARMUP:-16}
DAEMONS=milter
COLD=${AB_COLD:-5000}
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT
# shellcheck source=bench/lib/common.sh
source "$REPO/bench/lib/common.sh"
# shellcheck source=bench/lib/daemons.sh
source "$REPO/bench/lib/daemons.sh"
# shellcheck source=bench/phases.sh
source "$REPO/bench/phases.sh"
[[ -n ${AB_VARIANTS:-} ]] || die "AB_VARIANTS is empty (name=command|name=command)"
[[ -f $MILTER_DLL ]] || die "$MILTER_DLL is missing (dotnet build -c Release src/Milter)"

bench_args() { # bench_args MODE SIZE N
    local args=(bench --connect "$SPEC" --messages "$3" --concurrency "$CONCURRENCY" --size "$2" --mode "$1" --json)
    if [[ $1 == sign ]]; then args+=(--domain "$DOMAIN"); else
        args+=(--domain "$DOMAIN" --key "$WORK/bench.private" --selector "$SELECTOR" --client-ip 192.0.2.1)
    fi
    printf '%s\n' "${args[@]}"
}
warm_up() { # WARMUP_SECONDS of one-message connections, half verify, half sign
    local mode args
    for mode in verify sign; do
        mapfile -t args < <(bench_args "$mode" 2048 100000000)
        timeout $((WARMUP_SECONDS / 2)) taskset -c "$CLIENT_CORE" dotnet "$MILTER_DLL" "${args[@]}" --per-connection 1 >/dev/null 2>&1 || true
    done
}

idle_rss() { # idle_rss N: VmRSS (kB) of the daemon while N idle connections are held, with the client's summary
    local out="$WORK/idle.out" client i rss
    : >"$out"
    taskset -c "$CLIENT_CORE" /usr/bin/python3 "$REPO/bench/idle-connections.py" "$SPEC" "$1" >"$out" 2>"$WORK/idle.err" &
    client=$!
    PIDS+=("$client")
    for ((i = 0; i < 1200; i++)); do
        [[ -s $out ]] && break
        kill -0 "$client" 2>/dev/null || break
        sleep 0.1
    done
    sleep 3
    rss=$(awk '$1 == "VmRSS:" { print $2 }' "/proc/$DAEMON_PID/status")
    kill -TERM "$client" 2>/dev/null || true
    wait "$client" 2>/dev/null || true
    echo "$rss kB ($(head -1 "$out"))"
}

if ((${AB_IDLE:-0} > 0)); then
    # shellcheck disable=SC2034 # read by start_milter (lib/daemons.sh); not exported: milter reads MILTER_* as config
    MILTER_EXTRA_JSON="\"Server\": { \"MaxConnections\": $((AB_IDLE + 500)) }"
fi
setup_key_and_dns
IFS='|' read -r -a VARIANTS <<<"$AB_VARIANTS"
for ((r = 1; r <= ${AB_ROUNDS:-2}; r++)); do
    for v in "${VARIANTS[@]}"; do
        name=${v%%=*} BENCH_MILTER_RUN=${v#*=}
        start_milter unix
        sleep 1
        rss=$(awk '$1 == "VmRSS:" { print $2 }' "/proc/$DAEMON_PID/status")
        echo "start $name round $r: listening after $DAEMON_START_MS ms, CPU $((DAEMON_START_TICKS * 1000 / CLK_TCK)) ms, RSS at rest $rss kB, load $(cut -d' ' -f1 /proc/loadavg)"
        phase_run "$name" unix verify cold 1 "$COLD"
        phase_run "$name" unix sign cold 1 $((COLD / 5))
        warm_up
        phase_run "$name" unix verify warm 1 "$COLD"
        if [[ ${AB_TEN:-0} == 1 ]]; then phase_run "$name" unix verify warm 10 "$COLD"; fi
        phase_run "$name" unix sign warm 1 $((COLD / 5))
        if ((${AB_IDLE:-0} > 0)); then
            echo "idle $name round $r: RSS after the warm runs $(awk '$1 == "VmRSS:" { print $2 }' "/proc/$DAEMON_PID/status") kB, with ${AB_IDLE} idle connections $(idle_rss "$AB_IDLE")"
        fi
        stop_daemon
    done
done
echo "openssl speed rsa2048 on core $DAEMON_CORE (sign/s verify/s): $(taskset -c "$DAEMON_CORE" openssl speed -seconds 3 rsa2048 2>/dev/null | awk '$1 == "rsa" && $2 == "2048" { print $(NF-1), $NF }')"
echo "variant socket mode phase per-connection messages errors cpu_s ms/msg msg/cpu-s load"
cat "$PHASE_RESULTS"
