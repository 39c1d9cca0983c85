# shellcheck shell=bash
# Sourced by bench/run.sh: Postfix end to end (issue 8). smtp-source (8 sessions, 2 KB messages, connections
# reused) -> a private Postfix on 127.0.0.1 (smtpd, optionally one milter) -> smtp-sink, which appends every
# message to a dump file. Each run gets a fresh Postfix and sink. One round runs every variant once: no
# milter, the no-op C milter (floor, bench/floor-milter.c), Milter and OpenDKIM over a Unix socket and over
# TCP; the report gives the median of the rounds.
# messages/s runs from the start of smtp-source until the sink has counted every message (queue drained).
#
# Environment: BENCH_POSTFIX_MESSAGES (2000) per run, BENCH_POSTFIX_SLOW_MESSAGES (SLOW_MESSAGES) for
# OpenDKIM over TCP, BENCH_POSTFIX_ROUNDS (3), BENCH_POSTFIX_CORE (CLIENT_CORE): the core for Postfix,
# smtp-source and smtp-sink, or "any" to let them run on both cores; the milter is on DAEMON_CORE as elsewhere.
# BENCH_POSTFIX_PERF (unset): a folder for a `perf record` of Postfix's core during each measured run.

PF_MESSAGES=${BENCH_POSTFIX_MESSAGES:-2000}
PF_SLOW_MESSAGES=${BENCH_POSTFIX_SLOW_MESSAGES:-$SLOW_MESSAGES}
PF_ROUNDS=${BENCH_POSTFIX_ROUNDS:-3}
PF_PERF=${BENCH_POSTFIX_PERF:-}
PF_CORE=${BENCH_POSTFIX_CORE:-$CLIENT_CORE}
[[ $PF_CORE == any ]] && PF_CORE=""
readonly PF_SIZE=2048 PF_FROM="bench@$DOMAIN" PF_TO=rcpt@example.net
PF_DIR="$WORK/postfix"
PF_RESULTS="$WORK/postfix.tsv"

# Run a command on PF_CORE when one is set.
pf_pinned() {
    if [[ -n $PF_CORE ]]; then taskset -c "$PF_CORE" "$@"; else "$@"; fi
}

forget_pid() { # forget_pid PID: drop it from PIDS once stopped, so the exit trap cannot hit a reused PID
    local keep=() p
    for p in "${PIDS[@]}"; do [[ $p == "$1" ]] || keep+=("$p"); done
    PIDS=("${keep[@]}")
}

# ---------- the sink: counts messages (-c) and appends each one to $PF_DIR/sink/dump ----------
pf_start_sink() {
    SINK_PORT=$(free_port)
    rm -rf "$PF_DIR/sink"
    mkdir -p "$PF_DIR/sink"
    chown postfix "$PF_DIR/sink" # smtp-sink writes as user postfix (-u, required as root)
    # not through pf_pinned: a function in the background is a subshell, and $! must be smtp-sink itself
    local pin=()
    [[ -z $PF_CORE ]] || pin=(taskset -c "$PF_CORE")
    "${pin[@]}" smtp-sink -u postfix -c -D "$PF_DIR/sink/dump" "127.0.0.1:$SINK_PORT" 512 >"$PF_DIR/sink/counter" 2>&1 &
    SINK_PID=$!
    PIDS+=("$SINK_PID")
    wait_for "smtp-sink on $SINK_PORT" bash -c "exec 3<>/dev/tcp/127.0.0.1/$SINK_PORT"
}

sink_count() { # messages the sink has completed: the last "mesg=N" of its \r-separated counter
    local c
    c=$(<"$PF_DIR/sink/counter")
    [[ $c == *mesg=* ]] || { echo 0; return; }
    c=${c##*mesg=}
    echo "${c%%[!0-9]*}"
}

wait_for_sink() { # wait_for_sink COUNT TIMEOUT_S: 0 once the sink has COUNT messages, 1 on timeout
    local deadline=$((SECONDS + $2))
    while (($(sink_count) < $1)); do
        ((SECONDS < deadline)) || return 1
        sleep 0.02
    done
}

# ---------- Postfix: config and queue under $PF_DIR, smtpd on 127.0.0.1:SMTPD_PORT, relay to the sink ----------
pf_write_config() { # pf_write_config SMTPD_MILTERS
    local etc="$PF_DIR/etc"
    mkdir -p "$etc" "$PF_DIR/queue" "$PF_DIR/data"
    : >"$PF_DIR/maillog"
    chown postfix "$PF_DIR/data" "$PF_DIR/maillog" # start fails when the data directory is not postfix's
    cat >"$etc/main.cf" <<EOF
compatibility_level = 3.6
queue_directory = $PF_DIR/queue
data_directory = $PF_DIR/data
myhostname = bench.localdomain
mydomain = localdomain
syslog_name = postfix-bench
maillog_file = $PF_DIR/maillog
maillog_file_prefixes = $PF_DIR
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mydestination =
local_recipient_maps =
local_transport = error:5.1.1 no local delivery in the bench
alias_maps =
alias_database =
relayhost = [127.0.0.1]:$SINK_PORT
smtp_dns_support_level = disabled
smtpd_peername_lookup = no
smtpd_tls_security_level = none
smtp_tls_security_level = none
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
biff = no
append_dot_mydomain = no
in_flow_delay = 0
delay_warning_time = 0
# delays=a/b/c/d in the log to 0.1 ms: the report shows where a message spends its time
delay_logging_resolution_limit = 4
# a milter failure must show (smtp-source stops on a 4xx), not let unsigned mail through
milter_protocol = 6
milter_default_action = tempfail
smtpd_milters = $1
non_smtpd_milters =
EOF
    # the test Postfix's master.cf (tests/Milter.TestKit), with smtpd on 127.0.0.1:SMTPD_PORT
    sed "s/{SMTPD_PORT}/$SMTPD_PORT/" "$REPO/tests/Milter.TestKit/Postfix/master.cf" >"$etc/master.cf"
}

pf_start() { # pf_start SMTPD_MILTERS: sink, then Postfix; waits for smtpd's 220
    pf_start_sink
    SMTPD_PORT=$(free_port)
    pf_write_config "$1"
    postfix -c "$PF_DIR/etc" check || die "postfix check failed (config in $PF_DIR/etc)"
    # without a terminal and /dev/log, postfix start prints nothing when it fails: script gives it one
    pf_pinned script -qec "postfix -c $PF_DIR/etc start" /dev/null >"$PF_DIR/start.log" 2>&1 ||
        die "postfix start failed: $(cat "$PF_DIR/start.log") $(tail -5 "$PF_DIR/maillog")"
    PF_MASTER_PID=$(cat "$PF_DIR/queue/pid/master.pid")
    PF_MASTER_PID=${PF_MASTER_PID//[!0-9]/}
    PIDS+=("$PF_MASTER_PID")
    wait_for "postfix smtpd on $SMTPD_PORT" bash -c "exec 3<>/dev/tcp/127.0.0.1/$SMTPD_PORT; read -r -t 5 l <&3; [[ \$l == 220* ]]"
}

pf_stop() { # Postfix first (its queue is empty by now), then the sink
    postfix -c "$PF_DIR/etc" stop >/dev/null 2>&1 || kill "$PF_MASTER_PID" 2>/dev/null || true
    local i
    for ((i = 0; i < 100; i++)); do # up to 10 s for the master to exit
        kill -0 "$PF_MASTER_PID" 2>/dev/null || break
        sleep 0.1
    done
    forget_pid "$PF_MASTER_PID"
    kill "$SINK_PID" 2>/dev/null || true
    wait "$SINK_PID" 2>/dev/null || true
    forget_pid "$SINK_PID"
}

# CPU ticks of Postfix: the master with the children it has reaped (cutime, cstime) plus its live children.
# A child that exits during a run moves from the second sum to the first, so before/after deltas hold.
pf_cpu_ticks() {
    local stat total=0 p
    for p in "$PF_MASTER_PID" $(ps -o pid= --ppid "$PF_MASTER_PID" 2>/dev/null); do
        stat=$(cat "/proc/$p/stat" 2>/dev/null) || continue
        stat=${stat##*) }
        read -r -a f <<<"$stat"
        # words 11..14 are utime, stime, cutime, cstime (fields 14 to 17 of proc(5))
        total=$((total + f[11] + f[12] + f[13] + f[14]))
    done
    echo "$total"
}

# smtp-source: 8 sessions, connections reused (-d), From: bench@lab.example, which both milters sign
pf_source() { # pf_source COUNT
    pf_pinned smtp-source -d -s "$CONCURRENCY" -l "$PF_SIZE" -m "$1" -M bench.localdomain -S bench \
        -f "$PF_FROM" -t "$PF_TO" "127.0.0.1:$SMTPD_PORT"
}

# ---------- signed? count DKIM-Signature headers in the dump and verify its last message ----------
sample_message() { # the last message of the dump without smtp-sink's own X-* lines and Received header
    local start
    start=$(grep -n '^X-Client-Addr:' "$PF_DIR/sink/dump" | tail -1 | cut -d: -f1)
    tail -n +"${start:-1}" "$PF_DIR/sink/dump" | awk '
        s == 0 && /^X-(Client-Addr|Client-Proto|Helo-Args|Mail-Args|Rcpt-Args):/ { next }
        s == 0 && /^Received: .*/ { s = 1; next }
        s == 1 && /^[ \t]/ { next }
        { s = 2; print }'
}

# dkimpy's verdict on a message from stdin, its key looked up on the bench's Knot server (independent of Milter)
dkimpy_verify() {
    /usr/bin/python3 -c '
import sys, dkim, dns.resolver
r = dns.resolver.Resolver(configure=False)
r.nameservers, r.port = ["127.0.0.1"], int(sys.argv[1])
def txt(name, timeout=5):
    return b"".join(b"".join(rr.strings) for rr in r.resolve(name.decode().rstrip("."), "TXT"))
sys.exit(0 if dkim.verify(sys.stdin.buffer.read(), dnsfunc=txt) else 1)' "$DNS_PORT"
}

signed_summary() { # signed_summary NAME -> "SIGNED/RECEIVED VERDICT": VERDICT is pass when Milter and dkimpy both
    # verify the sample; the floor's signature is filler of the right size ("filler", not verified)
    local dump="$PF_DIR/sink/dump" got signed sig verdict=-
    [[ -f $dump ]] || { echo "0/0 -"; return; }
    got=$(grep -c '^X-Client-Addr:' "$dump" || true)
    signed=$(grep -ci '^DKIM-Signature:' "$dump" || true)
    if ((signed > 0)); then
        sample_message | sed 's/$/\r/' >"$PF_DIR/sample.eml" # smtp-sink writes LF line ends
        # the sample's signature, unfolded: its d= tag must be the bench domain
        sig=$(awk '{ d = tolower($0) ~ /^dkim-signature:/ } d || (h && /^[ \t]/) { h = 1; print; next } { h = 0 }' \
            "$PF_DIR/sample.eml" | tr -d ' \t\r\n')
        if [[ $1 == floor ]]; then
            verdict=filler
        elif [[ ! $sig =~ [:\;]d=${DOMAIN//./\\.}(\;|$) ]]; then
            verdict="d=?"
        elif ! milter verify --dns "127.0.0.1:$DNS_PORT" <"$PF_DIR/sample.eml" >"$PF_DIR/verify.txt" 2>&1; then
            verdict="milter verify fails"
            log "milter verify of the sample: $(tr '\n' ' ' <"$PF_DIR/verify.txt")"
        elif ! dkimpy_verify <"$PF_DIR/sample.eml" >"$PF_DIR/verify.txt" 2>&1; then
            verdict="dkimpy fails"
            log "dkimpy verify of the sample: $(tr '\n' ' ' <"$PF_DIR/verify.txt")"
        else
            verdict=pass
        fi
    fi
    echo "$signed/$got $verdict"
}

# ---------- one variant ----------
per_ms() { # per_ms TICKS COUNT -> CPU milliseconds per message
    awk -v t="$1" -v n="$2" -v hz="$CLK_TCK" 'BEGIN { if (n > 0) printf "%.2f", 1000 * t / hz / n; else print "-" }'
}

pf_delays() { # pf_delays COUNT: mean "a" (arrival to queue manager: smtpd, milter, cleanup) and total delay, ms,
    # of the last COUNT deliveries in the maillog (the measured run's)
    grep ' status=sent ' "$PF_DIR/maillog" | tail -n "$1" | sed -n 's/.* delay=\([0-9.]*\), delays=\([0-9.]*\)\/.*/\2 \1/p' |
        awk '{ a += $1; t += $2; n++ } END { if (n) printf "%.1f/%.1f", 1000 * a / n, 1000 * t / n; else print "-" }'
}

pf_run() { # pf_run NAME TRANSPORT COUNT: NAME is none, floor, milter or opendkim
    local name=$1 transport=$2 n=$3 milters="" warm status=ok
    if [[ $name != none ]]; then
        "start_$name" "$transport"
        warm_up "$name" "$transport"
        if [[ $SPEC == unix:* ]]; then
            chmod 666 "${SPEC#unix:}" # smtpd connects as user postfix
            milters=$SPEC
        else # inet:PORT@127.0.0.1 in milter syntax is inet:127.0.0.1:PORT in Postfix's
            milters="inet:127.0.0.1:${SPEC#inet:}" milters=${milters%@127.0.0.1}
        fi
    fi
    pf_start "$milters"
    # warm-up, not measured: smtpd and smtp processes, milter connections, JIT
    warm=$((n / 10 + 16))
    pf_source "$warm" >/dev/null 2>&1 || status="warm-up failed"
    wait_for_sink "$warm" 60 || status="warm-up: $(sink_count) of $warm arrived"
    rm -f "$PF_DIR/sink/dump" # no transaction is open: smtp-sink opens the dump per message

    local d0 d1 p0 p1 t0 t1
    d0=$(cpu_ticks "${DAEMON_PID:-$$}") p0=$(pf_cpu_ticks) t0=$(date +%s.%N)
    local perfpid=""
    if [[ -n $PF_PERF ]]; then # profile Postfix's core (every core when unpinned) during the measured run
        local cpus=(-a)
        [[ -z $PF_CORE ]] || cpus=(-C "$PF_CORE")
        perf record "${cpus[@]}" -F 1999 -g -o "$PF_PERF/$name-$transport-$(date +%H%M%S).data" >/dev/null 2>&1 &
        perfpid=$!
        sleep 0.3
    fi
    pf_source "$n" >"$PF_DIR/source.log" 2>&1 || status="smtp-source: $(tr '\r\n' '  ' <"$PF_DIR/source.log" | tail -c 200)"
    # bounded: 30 s plus 20 ms per message (50 messages/s at least)
    wait_for_sink $((warm + n)) $((30 + n / 50)) || status="only $(($(sink_count) - warm)) of $n arrived"
    t1=$(date +%s.%N) d1=$(cpu_ticks "${DAEMON_PID:-$$}") p1=$(pf_cpu_ticks)
    [[ -z $perfpid ]] || { kill -INT "$perfpid"; wait "$perfpid" || true; }

    local got rate dcpu=- dms=- pms delays signed
    got=$(($(sink_count) - warm))
    rate=$(awk -v n="$got" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", n / (b - a) }')
    pms=$(per_ms $((p1 - p0)) "$got")
    delays=$(pf_delays "$got")
    signed=$(signed_summary "$name")
    pf_stop
    if [[ $name != none ]]; then
        dcpu=$(awk -v t=$((d1 - d0)) -v hz="$CLK_TCK" 'BEGIN { printf "%.2f", t / hz }')
        dms=$(per_ms $((d1 - d0)) "$got")
        stop_daemon
    fi
    [[ $status == ok ]] || log "postfix $name $transport: $status; maillog: $(grep -E 'status=(deferred|bounced)|reject|milter' "$PF_DIR/maillog" | tail -3)"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$transport" "$n" "$got" "$rate" "$dcpu" "$dms" "$pms" \
        "$delays" "${signed%% *}" "${signed#* }" "$status" >>"$PF_RESULTS"
    log "$(printf 'postfix %-8s %-4s: %s of %s messages, %s msg/s, daemon CPU %s s, Postfix %s ms/msg, delays a/total %s ms, signed %s' \
        "$name" "$transport" "$got" "$n" "$rate" "$dcpu" "$pms" "$delays" "$signed")"
}

postfix_bench() {
    for tool in postfix smtp-source smtp-sink script; do
        command -v "$tool" >/dev/null || die "$tool is missing (apt-get install -y postfix)"
    done
    # smtpd runs as user postfix and must reach the milter's Unix socket in $WORK (mktemp made it 0700)
    chmod 711 "$WORK"
    mkdir -p "$PF_DIR"
    chmod 755 "$PF_DIR"
    # Queue, sink dump and logs on a tmpfs: on ext4 without a journal (this machine's root) creating a file
    # skips every inode deleted in the last minutes (ext4 recently_deleted), so Postfix's queue files got
    # dearer with every run and whichever variant ran later paid for the ones before it.
    if mount -t tmpfs -o size=1g,mode=755 milter-bench-postfix "$PF_DIR" 2>/dev/null; then
        PF_TMPFS=yes
    else
        PF_TMPFS=no
        log "postfix: could not mount a tmpfs on $PF_DIR (not root?): the queue is on $(stat -f -c %T "$PF_DIR")"
    fi
    PF_LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
    local round
    for ((round = 1; round <= PF_ROUNDS; round++)); do
        log "postfix round $round of $PF_ROUNDS"
        pf_run none - "$PF_MESSAGES"
        pf_run floor unix "$PF_MESSAGES"
        pf_run floor tcp "$PF_MESSAGES"
        pf_run milter unix "$PF_MESSAGES"
        pf_run milter tcp "$PF_MESSAGES"
        pf_run opendkim unix "$PF_MESSAGES"
        pf_run opendkim tcp "$PF_SLOW_MESSAGES"
    done
    PF_LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
    [[ $PF_TMPFS == no ]] || umount "$PF_DIR"
}

# ---------- report ----------
# one line per run: 1 name, 2 socket, 3 sent, 4 received, 5 msg/s, 6 daemon CPU s, 7 daemon CPU ms/msg,
# 8 Postfix CPU ms/msg, 9 delays a/total ms, 10 signed/received, 11 sample verdict, 12 status

# One row per variant: medians over the rounds (messages/s of every round in brackets). A variant is "good"
# when every run was complete, every message arrived signed and every sample verified (none: no signature).
pf_summary() { # NAME SOCKET RUNS MESSAGES MEDIAN_RATE RATES DAEMON_S DAEMON_MS POSTFIX_MS DELAYS SIGNED VERDICT GOOD
    awk -F'\t' '
        function median(list,   v, n, i, j, x) {
            n = split(list, v, " ")
            for (i = 2; i <= n; i++) { x = v[i]; for (j = i - 1; j >= 1 && v[j] + 0 > x + 0; j--) v[j + 1] = v[j]; v[j + 1] = x }
            return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
        }
        {
            k = $1 "\t" $2
            if (!(k in runs)) order[++nk] = k
            runs[k]++; sent[k] += $3; rates[k] = rates[k] " " $5; dcpu[k] = dcpu[k] " " $6; dms[k] = dms[k] " " $7
            pms[k] = pms[k] " " $8; split($9, d, "/"); da[k] = da[k] " " d[1]; dt[k] = dt[k] " " d[2]
            split($10, sg, "/"); signed[k] += sg[1]; got[k] += sg[2]
            if (!(k in verdict) || $11 != "pass") verdict[k] = $11
            bad[k] += ($12 != "ok" || $4 != $3) + ($1 == "none" ? (sg[1] > 0) : (sg[1] != $3 || $11 != ($1 == "floor" ? "filler" : "pass")))
        }
        END {
            for (i = 1; i <= nk; i++) {
                k = order[i]
                printf "%s\t%d\t%d\t%.1f\t%s\t%s\t%s\t%.2f\t%.1f/%.1f\t%d/%d\t%s\t%s\n", k, runs[k], sent[k] / runs[k], median(rates[k]),
                    substr(rates[k], 2), (dcpu[k] ~ /-/ ? "-" : sprintf("%.2f", median(dcpu[k]))),
                    (dms[k] ~ /-/ ? "-" : sprintf("%.2f", median(dms[k]))),
                    median(pms[k]), median(da[k]), median(dt[k]), signed[k], got[k], verdict[k], bad[k] ? "no" : "yes"
            }
        }' "$PF_RESULTS"
}

pf_rate() { # pf_rate NAME SOCKET: the median messages/s, empty unless the variant is good
    pf_summary | awk -F'\t' -v a="$1" -v b="$2" '$1 == a && $2 == b && $13 == "yes" { print $5 }'
}

postfix_report() {
    local base
    base=$(pf_rate none -)
    echo
    echo "Postfix end to end: smtp-source ($CONCURRENCY sessions, $PF_SIZE-byte bodies, connections reused) -> Postfix 3.7 ->" \
        "smtp-sink; Postfix, smtp-source and smtp-sink on ${PF_CORE:+core }${PF_CORE:-any core}, the milter on core $DAEMON_CORE;" \
        "$PF_ROUNDS rounds, medians; load average $PF_LOAD_START at the start, $PF_LOAD_END at the end"
    echo
    echo "| variant | socket | messages | messages/s (each round) | ratio to no milter | daemon CPU s | daemon CPU ms/msg | Postfix CPU ms/msg | delay a / total ms | signed (sample verified) |"
    echo "|---|---|---|---|---|---|---|---|---|---|"
    pf_summary | awk -F'\t' -v base="$base" '{
        r = (base > 0) ? sprintf("%.2f", $5 / base) : "n/a"
        if ($1 == "none") s = ($11 ~ /^0\//) ? "no" : "UNEXPECTED " $11
        else s = ($13 == "yes" ? "yes " : "NO ") $11 " (" $12 ")"
        printf "| %s | %s | %s x %s | %s (%s) | %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6, r, $7, $8, $9, $10, s }'
    echo
    echo "Target of issue 8 (medians; a variant counts only when every run delivered every message signed and verified):"
    check "Postfix + Milter signing (Unix) / Postfix alone" "$(ratio "$(pf_rate milter unix)" "$base")" 0.90
    check "Postfix + Milter signing (TCP) / Postfix alone" "$(ratio "$(pf_rate milter tcp)" "$base")" 0.90
    check "Postfix + OpenDKIM signing (Unix) / Postfix alone (comparison)" "$(ratio "$(pf_rate opendkim unix)" "$base")" 0.90
    check "Postfix + OpenDKIM signing (TCP) / Postfix alone (comparison)" "$(ratio "$(pf_rate opendkim tcp)" "$base")" 0.90
    echo
    echo "Targets of issue 16: Postfix + Milter against Postfix + the no-op C milter (libmilter, same negotiation and edits):"
    check "Postfix + Milter / Postfix + no-op C milter, Unix socket" "$(ratio "$(pf_rate milter unix)" "$(pf_rate floor unix)")" 0.97
    check "Postfix + Milter / Postfix + no-op C milter, TCP" "$(ratio "$(pf_rate milter tcp)" "$(pf_rate floor tcp)")" 0.97
}
