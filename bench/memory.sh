# shellcheck shell=bash
# Sourced by bench/run.sh: the memory targets of issue 8, for every daemon in DAEMONS, over TCP and a Unix
# socket. Each measurement gets a fresh daemon, warmed up with signed and verified 2 KB messages:
# - idle: RSS (VmRSS, /proc/PID/status) before and while bench/idle-connections.py holds IDLE_CONNECTIONS
#   connections in the state of an idle Postfix SMTP session (OPTNEG, CONNECT, HELO);
# - big: one 50 MB message, sign then verify (each on its own daemon): VmHWM is reset (clear_refs 5) just
#   before it, so the rise is the peak VmHWM during the message minus VmRSS before.
# rspamd's figures are the sums over its main process and its worker (daemon_pids).
# Environment: BENCH_IDLE_CONNECTIONS (1000).

IDLE_CONNECTIONS=${BENCH_IDLE_CONNECTIONS:-1000}
readonly BIG_MESSAGE=52428800 SETTLE_SECONDS=3
MEMORY_RESULTS="$WORK/memory.tsv" # daemon, socket, measurement, before kB, during kB, after kB, ok (1/0), note

mem_kb() { # mem_kb PID FIELD(VmRSS|VmHWM): kB summed over the daemon and its children
    local p total=0 v
    for p in $(daemon_pids "$1"); do
        v=$(awk -v f="$2:" '$1 == f { print $2 }' "/proc/$p/status" 2>/dev/null) || continue
        total=$((total + ${v:-0}))
    done
    echo "$total"
}

reset_peak() { # VmHWM := VmRSS for the daemon and its children
    local p
    for p in $(daemon_pids "$1"); do echo 5 >"/proc/$p/clear_refs" 2>/dev/null || true; done
}

socket_fds() { # open sockets of the daemon and its children (listeners included)
    local p n=0
    for p in $(daemon_pids "$1"); do
        n=$((n + $(find "/proc/$p/fd" -lname 'socket:*' 2>/dev/null | wc -l)))
    done
    echo "$n"
}

bench_json() { # bench_json MODE SIZE N CONCURRENCY: one `milter bench` run on the client core, its JSON
    local args
    mapfile -t args < <(bench_args "$@")
    taskset -c "$CLIENT_CORE" dotnet "$MILTER_DLL" "${args[@]}" --timeout-ms 300000 2>"$WORK/bench.err"
}

failure_detail() { # failure_detail NAME CLIENT_ERR: the last words of the client and of the daemon's log
    local client daemon
    client=$(grep -v '^ *at ' "$2" 2>/dev/null | tail -1)
    daemon=$(grep -v -E 'no actions defined|no symbol groups|is loading configuration' "$WORK/$1.log" 2>/dev/null | tail -1)
    echo ", client said: ${client:-nothing}; $1 log: ${daemon:-nothing}" | tr '\t|' '  ' | cut -c1-400
}

# Start NAME over TRANSPORT and warm it up (JIT, pools, DNS cache): 300 signed and 300 verified 2 KB messages.
start_warm() { # start_warm NAME TRANSPORT
    "start_$1" "$2"
    bench_json sign 2048 300 "$CONCURRENCY" >/dev/null || log "$1 $2: warm-up (sign) reported errors"
    bench_json verify 2048 300 "$CONCURRENCY" >/dev/null || log "$1 $2: warm-up (verify) reported errors"
    sleep "$SETTLE_SECONDS"
}

record() { # record NAME TRANSPORT MEASUREMENT BEFORE DURING AFTER OK NOTE
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >>"$MEMORY_RESULTS"
    log "$(printf '%-8s %-4s %-24s RSS before %s kB, during %s kB, after %s kB: %s' "$1" "$2" "$3" "$4" "$5" "$6" "$8")"
}

# ---------- IDLE_CONNECTIONS idle connections ----------
idle_run() { # idle_run NAME TRANSPORT
    local name=$1 transport=$2 out="$WORK/idle.out" before during after sockets client i summary alive
    start_warm "$name" "$transport"
    before=$(mem_kb "$DAEMON_PID" VmRSS)
    : >"$out" # empty before the client starts: the wait below must not see the previous run's line
    taskset -c "$CLIENT_CORE" /usr/bin/python3 "$REPO/bench/idle-connections.py" "$SPEC" "$IDLE_CONNECTIONS" \
        >"$out" 2>"$WORK/idle.err" &
    client=$!
    PIDS+=("$client")
    # the first line comes when every connection has finished its handshake (each step times out at 30 s);
    # without it after 120 s, the SIGTERM below makes the client print how far it got
    for ((i = 0; i < 1200; i++)); do
        [[ -s $out ]] && break
        kill -0 "$client" 2>/dev/null || break
        sleep 0.1
    done
    sleep "$SETTLE_SECONDS"
    during=$(mem_kb "$DAEMON_PID" VmRSS)
    sockets=$(socket_fds "$DAEMON_PID")
    kill -TERM "$client" 2>/dev/null || true
    wait "$client" 2>/dev/null || true
    summary=$(head -1 "$out")
    alive=$(sed -n 2p "$out" | jq -r '.alive // empty' 2>/dev/null)
    sleep "$SETTLE_SECONDS"
    after=$(mem_kb "$DAEMON_PID" VmRSS)
    local note ok=1 optneg helo errors seconds
    optneg=$(jq -r '.optneg // empty' <<<"$summary" 2>/dev/null)
    helo=$(jq -r '.helo // empty' <<<"$summary" 2>/dev/null)
    errors=$(jq -c '.errors // empty' <<<"$summary" 2>/dev/null)
    seconds=$(jq -r 'if .complete then "in \(.seconds) s" else "NOT DONE after \(.seconds) s" end' <<<"$summary" 2>/dev/null)
    note="OPTNEG replies ${optneg:-?}/$IDLE_CONNECTIONS, HELO answered ${helo:-?} ${seconds:-?}, still open at the end ${alive:-?}, daemon sockets while held $sockets"
    [[ $errors && $errors != "{}" ]] && note+=", client errors $errors"
    if ! kill -0 "$DAEMON_PID" 2>/dev/null; then note+=", DAEMON EXITED"; fi
    [[ ${helo:-0} -eq $IDLE_CONNECTIONS && ${alive:-0} -eq $IDLE_CONNECTIONS ]] || ok=0
    ((ok)) || note+=$(failure_detail "$name" "$WORK/idle.err")
    record "$name" "$transport" "$IDLE_CONNECTIONS idle connections" "$before" "$during" "$after" "$ok" "$note"
    stop_daemon
}

# ---------- one 50 MB message ----------
big_run() { # big_run NAME TRANSPORT MODE
    local name=$1 transport=$2 mode=$3 before peak after json pids
    start_warm "$name" "$transport"
    reset_peak "$DAEMON_PID"
    before=$(mem_kb "$DAEMON_PID" VmRSS)
    pids=$(daemon_pids "$DAEMON_PID" | xargs)
    json=$(bench_json "$mode" "$BIG_MESSAGE" 1 1) || log "$name $transport $mode 50 MB: errors reported"
    peak=$(mem_kb "$DAEMON_PID" VmHWM)
    sleep "$SETTLE_SECONDS"
    after=$(mem_kb "$DAEMON_PID" VmRSS)
    local completed errors added ok=1 what=dkimSignatureInserted
    [[ $mode == verify ]] && what=authenticationResultsInserted
    completed=$(jq -r '.completed // 0' <<<"$json" 2>/dev/null)
    errors=$(jq -r '.errors // "?"' <<<"$json" 2>/dev/null)
    added=$(jq -r ".$what // 0" <<<"$json" 2>/dev/null)
    [[ $completed == 1 && $errors == 0 && $added == 1 ]] || ok=0
    local note="completed ${completed:-0}, errors ${errors:-?}, ${what%Inserted} added ${added:-0}"
    if ! kill -0 "$DAEMON_PID" 2>/dev/null; then note+=", DAEMON EXITED"; fi
    # a worker that died during the message takes its peak with it: say so
    [[ $(daemon_pids "$DAEMON_PID" | xargs) == "$pids" ]] || note+=", processes changed ($pids -> $(daemon_pids "$DAEMON_PID" | xargs))"
    ((ok)) || note+=$(failure_detail "$name" "$WORK/bench.err")
    record "$name" "$transport" "50 MB message, $mode" "$before" "$peak" "$after" "$ok" "$note"
    stop_daemon
}

memory_bench() {
    # 1,000 Postfix sessions are at Milter's default Server:MaxConnections (1000): allow a margin, so that a
    # health probe or a stray connection does not turn the last ones away. rspamd (3.4) scans a 50 MB message
    # in 2 to 3 s on an idle core; past its task_timeout (8 s by default), e.g. on a busy machine, its proxy
    # worker crashed (SIGSEGV in symcache_runtime::process_symbols) and was not restarted: give it 120 s.
    # shellcheck disable=SC2034 # read by start_milter and start_rspamd (lib/daemons.sh)
    local MILTER_EXTRA_JSON="\"Server\": { \"MaxConnections\": $((IDLE_CONNECTIONS + 500)) }" \
        RSPAMD_EXTRA_OPTIONS="task_timeout = 120s;"
    local daemon transport mode
    for daemon in $DAEMONS; do
        for transport in tcp unix; do
            idle_run "$daemon" "$transport"
            for mode in sign verify; do big_run "$daemon" "$transport" "$mode"; done
        done
    done
}

# ---------- report ----------
mb() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

memory_lookup() { # memory_lookup NAME TRANSPORT MEASUREMENT -> "DURING_MB RISE_MB", empty when not valid
    awk -F'\t' -v a="$1" -v b="$2" -v c="$3" \
        '$1 == a && $2 == b && $3 == c && $7 == 1 { printf "%.1f %.1f", $5 / 1024, ($5 - $4) / 1024 }' "$MEMORY_RESULTS"
}

memory_report() {
    echo
    echo "Memory (VmRSS; during = VmRSS with the connections open, or the peak VmHWM for one message; MB = MiB):"
    echo
    echo "| daemon | socket | measurement | RSS before MB | RSS/peak during MB | rise MB | RSS after MB | valid | notes |"
    echo "|---|---|---|---|---|---|---|---|---|"
    local name transport what before during after ok note
    while IFS=$'\t' read -r name transport what before during after ok note; do
        printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$name" "$transport" "$what" "$(mb "$before")" \
            "$(mb "$during")" "$(mb $((during - before)))" "$(mb "$after")" "$( ((ok)) && echo yes || echo NO)" "$note"
    done <"$MEMORY_RESULTS"
    echo
    echo "Memory targets of issue 8 (Milter; a run that was not valid prints n/a):"
    local transport label v mode
    for transport in unix tcp; do
        label=$([[ $transport == unix ]] && echo "Unix socket" || echo "TCP")
        v=$(memory_lookup milter "$transport" "$IDLE_CONNECTIONS idle connections")
        check_below "Milter RSS with $IDLE_CONNECTIONS idle connections, $label (MB)" "${v%% *}" 100
        for mode in sign verify; do
            v=$(memory_lookup milter "$transport" "50 MB message, $mode")
            check_below "Milter RSS rise for one 50 MB message, $mode, $label (MB)" "${v##* }" 16
        done
    done
}
