# shellcheck shell=bash
# Sourced by bench/run.sh: Milter the way Postfix uses it (issue 16). Each smtpd session opens its own milter
# connection, so the first pattern is one message per connection, 8 connections at once; the persistent
# pattern (every message on 8 long-lived connections) and 10 messages per connection are beside it. Each
# pattern is measured in two phases: the first COLD_MESSAGES after a fresh start (nothing before them but
# the start itself), and after WARMUP_SECONDS of traffic. Every figure is daemon CPU (utime+stime of the
# daemon, /proc/PID/stat) per message, the daemon pinned to DAEMON_CORE, with the load average beside it:
# on a shared machine wall-clock figures say little. Also start-up to listening, CPU used by then, and RSS
# at rest (VmRSS after start-up, before any message).
# Environment: BENCH_COLD_MESSAGES (5000), BENCH_PHASE_ROUNDS (1): fresh daemons per transport.

COLD_MESSAGES=${BENCH_COLD_MESSAGES:-5000}
PHASE_ROUNDS=${BENCH_PHASE_ROUNDS:-1}
PHASE_RESULTS="$WORK/phases.tsv" # daemon socket mode phase per-connection messages errors cpu_s ms/msg msg/cpu-s load
START_RESULTS="$WORK/start.tsv"  # daemon socket start_ms start_cpu_ms rss_rest_kb load

# phase_run NAME TRANSPORT MODE PHASE PER_CONNECTION N: one measured `milter bench` run, one row
phase_run() {
    local name=$1 transport=$2 mode=$3 phase=$4 per=$5 n=$6 args before after json
    mapfile -t args < <(bench_args "$mode" 2048 "$n")
    before=$(cpu_ticks "$DAEMON_PID")
    json=$(taskset -c "$CLIENT_CORE" dotnet "$MILTER_DLL" "${args[@]}" --per-connection "$per" --progress 0) ||
        log "$name $transport $mode $phase: errors reported"
    after=$(cpu_ticks "$DAEMON_PID")
    local completed errors cpu ms per_cpu load
    completed=$(jq -r .completed <<<"$json")
    errors=$(jq -r .errors <<<"$json")
    cpu=$(awk -v t=$((after - before)) -v hz="$CLK_TCK" 'BEGIN { printf "%.2f", t / hz }')
    ms=$(awk -v d="$completed" -v c="$cpu" 'BEGIN { if (d > 0) printf "%.3f", c * 1000 / d }')
    per_cpu=$(awk -v d="$completed" -v c="$cpu" 'BEGIN { if (c > 0) printf "%.0f", d / c; else print "inf" }')
    load=$(cut -d' ' -f1 /proc/loadavg)
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$transport" "$mode" "$phase" "${per/#0/all}" \
        "$completed" "$errors" "$cpu" "$ms" "$per_cpu" "$load" >>"$PHASE_RESULTS"
    log "$(printf '%-8s %-4s %-6s %-4s %3s/conn: %s ms CPU/msg, %s msg/CPU-s (%s errors, load %s)' \
        "$name" "$transport" "$mode" "$phase" "${per/#0/all}" "$ms" "$per_cpu" "$errors" "$load")"
}

# A fresh daemon: start-up figures, the cold phase of MODE, WARMUP_SECONDS of traffic, then the warm runs.
phase_daemon() { # phase_daemon NAME TRANSPORT COLD_MODE
    local name=$1 transport=$2 cold_mode=$3 rss
    "start_$name" "$transport"
    sleep 1
    rss=$(awk '$1 == "VmRSS:" { print $2 }' "/proc/$DAEMON_PID/status")
    if [[ $name == milter ]]; then
        printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$transport" "$DAEMON_START_MS" $((DAEMON_START_TICKS * 1000 / CLK_TCK)) \
            "$rss" "$(cut -d' ' -f1 /proc/loadavg)" >>"$START_RESULTS"
        log "milter $transport: listening after ${DAEMON_START_MS} ms, CPU $((DAEMON_START_TICKS * 1000 / CLK_TCK)) ms, RSS at rest $rss kB"
    fi
    local n=$COLD_MESSAGES
    [[ $cold_mode == sign ]] && n=$((COLD_MESSAGES / 3))
    phase_run "$name" "$transport" "$cold_mode" cold 1 "$n"
}

phases_bench() {
    local round transport
    for ((round = 1; round <= PHASE_ROUNDS; round++)); do
        for transport in unix tcp; do
            # cold sign on a daemon of its own: the first messages after a start are signed ones on a relay
            phase_daemon milter "$transport" sign
            stop_daemon
            phase_daemon milter "$transport" verify
            warm_up milter "$transport"
            phase_run milter "$transport" verify warm 1 "$COLD_MESSAGES"
            phase_run milter "$transport" verify warm 10 "$COLD_MESSAGES"
            phase_run milter "$transport" verify warm 0 "$COLD_MESSAGES"
            phase_run milter "$transport" sign warm 1 $((COLD_MESSAGES / 3))
            phase_run milter "$transport" sign warm 0 $((COLD_MESSAGES / 3))
            stop_daemon
        done
    done
    if [[ " $DAEMONS " == *" opendkim "* ]]; then
        # the comparison for the per-connection verify target: OpenDKIM, warm, one message per connection
        "start_opendkim" unix
        warm_up opendkim unix
        phase_run opendkim unix verify warm 1 $((COLD_MESSAGES / 5))
        stop_daemon
    fi
}

# phase_value NAME SOCKET MODE PHASE PER COLUMN(9 ms/msg, 10 msg/cpu-s): the median over the rounds
phase_value() {
    awk -F'\t' -v a="$1" -v b="$2" -v c="$3" -v d="$4" -v e="$5" -v col="$6" \
        '$1 == a && $2 == b && $3 == c && $4 == d && $5 == e { print $col }' "$PHASE_RESULTS" |
        sort -g | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'
}

phases_report() {
    echo
    echo "Milter as Postfix uses it: daemon CPU per 2 KB message, 8 connections at once, $PHASE_ROUNDS round(s)"
    echo "(cold: the first messages after a fresh start; warm: after ${WARMUP_SECONDS}s of traffic; load: 1-minute load average at the end of the run)"
    echo
    echo "| daemon | socket | mode | phase | messages/connection | messages | errors | daemon CPU s | CPU ms/msg | messages/CPU-s | load |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|"
    awk -F'\t' '{ printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11 }' "$PHASE_RESULTS"
    echo
    echo "| socket | start-up to listening ms | CPU by then ms | RSS at rest MB | load |"
    echo "|---|---|---|---|---|"
    awk -F'\t' '{ printf "| %s | %s | %s | %.1f | %s |\n", $2, $3, $4, $5 / 1024, $6 }' "$START_RESULTS"
    echo
    echo "Targets of issue 16 (2 KB, RSA-2048, daemon CPU; medians over the rounds):"
    local v_warm v_cold s_warm rss
    v_warm=$(phase_value milter unix verify warm 1 10)
    v_cold=$(phase_value milter unix verify cold 1 10)
    s_warm=$(phase_value milter unix sign warm 1 10)
    check_at_most "verify, 1 msg/connection, Unix, CPU ms/msg (warm)" "$(phase_value milter unix verify warm 1 9)" 0.15
    check "verify, 1 msg/connection, Milter/OpenDKIM per CPU-second" "$(ratio "$v_warm" "$(phase_value opendkim unix verify warm 1 10)")" 8
    check "verify, cold (first $COLD_MESSAGES) / warm, per CPU-second" "$(ratio "$v_cold" "$v_warm")" 0.80
    check "sign, cold (first $((COLD_MESSAGES / 3))) / warm, per CPU-second" \
        "$(ratio "$(phase_value milter unix sign cold 1 10)" "$s_warm")" 0.80
    check "sign, 1 msg/connection, msgs per CPU-s / openssl sign/s" "$(ratio "$s_warm" "${RSA_SIGN%% *}")" 0.90
    check "verify, 1 msg/connection, TCP/Unix per CPU-second" "$(ratio "$(phase_value milter tcp verify warm 1 10)" "$v_warm")" 0.90
    check "sign, 1 msg/connection, TCP/Unix per CPU-second" "$(ratio "$(phase_value milter tcp sign warm 1 10)" "$s_warm")" 0.90
    rss=$(awk -F'\t' '{ print $5 }' "$START_RESULTS" | sort -g | awk '{ v[NR] = $1 } END { if (NR) printf "%.1f", v[int((NR + 1) / 2)] / 1024 }')
    check_at_most "RSS at rest (MB)" "$rss" 40
}
