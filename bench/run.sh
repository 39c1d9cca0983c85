#!/usr/bin/env bash
# Comparison benchmark of issue 8: Milter, OpenDKIM and rspamd, same RSA-2048 key, same messages, same
# client (`milter bench`), each daemon pinned to core 0, the client on core 1, over TCP and a Unix
# socket, sign and verify, 2 KB and 100 KB. Prints messages/s and messages per CPU-second of the daemon
# (utime+stime from /proc/PID/stat before and after each run) and the targets of issue 8.
# A benchmark, not a test: CI does not run it. Run as root from the repository root: bench/run.sh
#
# Environment: BENCH_MESSAGES (3000) per run (a third at 100 KB, three times it to verify),
# BENCH_SLOW_MESSAGES (400) for OpenDKIM over TCP (it stalls on delayed ACKs, ~60/s), BENCH_SIZES
# ("2048 102400"), BENCH_DAEMONS ("milter opendkim rspamd"),
# BENCH_WARMUP_SECONDS (20) of traffic after each daemon start before any measurement (see warm_up),
# BENCH_SKIP_BUILD=1 to reuse the Release build, BENCH_PARTS ("phases milters postfix memory"): phases is
# Milter as Postfix uses it, one message per connection and persistent, cold and warm (bench/phases.sh),
# milters the table above, postfix the end-to-end runs through a real Postfix (bench/postfix.sh), memory
# the RSS targets (bench/memory.sh). BENCH_MILTER_RUN: the command that starts Milter (default dotnet MILTER_DLL).
set -euo pipefail

readonly DAEMON_CORE=0 CLIENT_CORE=1 CONCURRENCY=8 DOMAIN=lab.example SELECTOR=bench
MESSAGES=${BENCH_MESSAGES:-3000}
SLOW_MESSAGES=${BENCH_SLOW_MESSAGES:-400}
SIZES=${BENCH_SIZES:-"2048 102400"}
DAEMONS=${BENCH_DAEMONS:-"milter opendkim rspamd"}
PARTS=${BENCH_PARTS:-"phases milters postfix memory"}
WARMUP_SECONDS=${BENCH_WARMUP_SECONDS:-20}
REPO=$(cd "$(dirname "$0")/.." && pwd)
MILTER_DLL="$REPO/src/Milter/bin/Release/net10.0/milter.dll"
CLK_TCK=$(getconf CLK_TCK)
WORK=$(mktemp -d /tmp/milter-bench.XXXXXX)
RESULTS="$WORK/results.tsv"
PIDS=()

cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    umount "$WORK/postfix" 2>/dev/null || true # bench/postfix.sh mounts a tmpfs there
    rm -rf "$WORK"
}
trap cleanup EXIT

# shellcheck source=bench/lib/common.sh
source "$REPO/bench/lib/common.sh"
# shellcheck source=bench/lib/daemons.sh
source "$REPO/bench/lib/daemons.sh"

# One pre-signed message through miltertest from 192.0.2.1: the verdict the daemon writes, so a verify
# run that only measured DNS failures shows up (the bench client counts A-R headers, not their verdict).
spot_check() { # spot_check NAME TRANSPORT
    if [[ ! -f $WORK/signed.eml ]]; then
        printf 'From: bench@%s\r\nTo: rcpt@example.net\r\nSubject: spot check\r\nDate: %s\r\nMessage-ID: <spot@%s>\r\n\r\nHello.\r\n' \
            "$DOMAIN" "$(date -R)" "$DOMAIN" >"$WORK/plain.eml"
        milter sign --domain "$DOMAIN" --selector "$SELECTOR" --key "$WORK/bench.private" <"$WORK/plain.eml" >"$WORK/signed.eml"
    fi
    local ar
    ar=$(timeout 30 miltertest -D spec="$SPEC" -D msg="$WORK/signed.eml" -s "$REPO/bench/spot-check.lua" 2>&1 | tr -s ' \t\r\n' ' ') || true
    printf '%s %s: %s\n' "$1" "$2" "$ar" >>"$WORK/verdicts.txt"
    log "$1 $2 spot check: $ar"
}

# ---------- one measured run ----------
bench_args() { # bench_args MODE SIZE N [CONCURRENCY]
    local args=(bench --connect "$SPEC" --messages "$3" --concurrency "${4:-$CONCURRENCY}" --size "$2" --mode "$1" --json)
    if [[ $1 == sign ]]; then
        args+=(--domain "$DOMAIN")
    else
        args+=(--domain "$DOMAIN" --key "$WORK/bench.private" --selector "$SELECTOR" --client-ip 192.0.2.1)
    fi
    printf '%s\n' "${args[@]}"
}

measure() { # measure NAME TRANSPORT MODE SIZE N
    local name=$1 transport=$2 mode=$3 size=$4 n=$5 args warm before after json
    mapfile -t args < <(bench_args "$mode" "$size" "$n")
    # warm-up, not measured (JIT, connection set-up, DNS cache)
    mapfile -t warm < <(bench_args "$mode" "$size" $((n / 10 + 8)))
    taskset -c "$CLIENT_CORE" dotnet "$MILTER_DLL" "${warm[@]}" >/dev/null 2>&1 || true
    before=$(cpu_ticks "$DAEMON_PID")
    json=$(taskset -c "$CLIENT_CORE" dotnet "$MILTER_DLL" "${args[@]}") || log "$name $transport $mode $size: errors reported"
    after=$(cpu_ticks "$DAEMON_PID")
    local rate completed errors signed ar cpu per_cpu
    rate=$(jq -r .messagesPerSecond <<<"$json")
    completed=$(jq -r .completed <<<"$json")
    errors=$(jq -r .errors <<<"$json")
    signed=$(jq -r .dkimSignatureInserted <<<"$json")
    ar=$(jq -r .authenticationResultsInserted <<<"$json")
    cpu=$(awk -v t=$((after - before)) -v hz="$CLK_TCK" 'BEGIN { printf "%.2f", t / hz }')
    per_cpu=$(awk -v d="$completed" -v c="$cpu" 'BEGIN { if (c > 0) printf "%.0f", d / c; else print "inf" }')
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$transport" "$mode" "$size" "$completed" "$errors" \
        "$rate" "$cpu" "$per_cpu" "$signed" "$ar" >>"$RESULTS"
    log "$(printf '%-8s %-4s %-6s %6s: %s msg/s, %s msg/CPU-s (%s errors)' "$name" "$transport" "$mode" "$size" "$rate" "$per_cpu" "$errors")"
}

# Traffic before any measured run, for WARMUP_SECONDS: half verify, half sign, 2 KB. A .NET daemon runs
# its first calls in quickly compiled code and recompiles the hot methods optimized only after their
# calls are counted, which starts once no new method has been compiled for 100 ms, ten times that when
# the process sees a single core (as taskset makes it): a short warm-up measures the compiler, not the
# daemon (Milter verified at ~0.43 ms of CPU a message after 1,000 messages, ~0.15 ms after 20,000).
# rspamd's Lua code is compiled by LuaJIT the same way. Every daemon gets the same warm-up; a long-running
# daemon is warm.
warm_up() { # warm_up NAME TRANSPORT
    local mode half=$((WARMUP_SECONDS / 2)) args
    ((half > 0)) || return 0
    for mode in verify sign; do
        mapfile -t args < <(bench_args "$mode" 2048 100000000)
        timeout "$half" taskset -c "$CLIENT_CORE" dotnet "$MILTER_DLL" "${args[@]}" >/dev/null 2>&1 || true
    done
    log "$1 $2: warmed up for ${WARMUP_SECONDS}s"
}

run_daemon() { # run_daemon NAME
    local name=$1 transport mode size n
    for transport in tcp unix; do
        "start_$name" "$transport"
        spot_check "$name" "$transport"
        warm_up "$name" "$transport"
        for size in $SIZES; do
            for mode in sign verify; do
                n=$MESSAGES
                [[ $name == opendkim && $transport == tcp ]] && n=$SLOW_MESSAGES
                ((size > 10000)) && n=$((n / 3))
                # verifying costs a fraction of signing: three times the messages, so no run lasts under a second
                [[ $mode == verify ]] && n=$((n * 3))
                measure "$name" "$transport" "$mode" "$size" "$n"
            done
        done
        stop_daemon
    done
}

# ---------- the single-core RSA-2048 limit of this machine, now ----------
rsa_speed() { # prints "SIGN_PER_S VERIFY_PER_S" from openssl speed on the daemon core
    taskset -c "$DAEMON_CORE" openssl speed -seconds 3 rsa2048 2>/dev/null | awk '$1 == "rsa" && $2 == "2048" { print $(NF-1), $NF }'
}

# ---------- report ----------
lookup() { # lookup NAME TRANSPORT MODE SIZE COLUMN(7 rate, 9 per-cpu)
    awk -F'\t' -v a="$1" -v b="$2" -v c="$3" -v d="$4" -v col="$5" \
        '$1 == a && $2 == b && $3 == c && $4 == d { print $col }' "$RESULTS"
}


report() {
    echo
    echo "| daemon | socket | mode | size | messages | errors | messages/s | daemon CPU s | messages/CPU-s | DKIM-Signature added | A-R added |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|"
    awk -F'\t' '{ printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11 }' "$RESULTS"
    echo
    echo "Verdict of one pre-signed message per daemon (miltertest, from 192.0.2.1):"
    sed 's/^/    /' "$WORK/verdicts.txt"
    echo
    echo "Targets of issue 8 (2 KB, RSA-2048; per CPU-second of the daemon unless said otherwise):"
    local m_sign_unix m_sign_tcp m_ver_unix m_ver_tcp
    m_sign_unix=$(lookup milter unix sign 2048 9)
    m_ver_unix=$(lookup milter unix verify 2048 9)
    check "Milter sign, Unix socket, messages/s on one core" "$(lookup milter unix sign 2048 7)" 3000
    check "Milter sign, Unix socket, messages per CPU-second" "$m_sign_unix" 3000
    check "Milter sign per CPU-second / openssl RSA-2048 sign/s (core 0)" "$(ratio "$m_sign_unix" "${RSA_SIGN%% *}")" 0.80
    check "Milter/OpenDKIM sign (Unix socket)" "$(ratio "$m_sign_unix" "$(lookup opendkim unix sign 2048 9)")" 5
    check "Milter/rspamd sign (Unix socket)" "$(ratio "$m_sign_unix" "$(lookup rspamd unix sign 2048 9)")" 2
    check "Milter/OpenDKIM verify (Unix socket)" "$(ratio "$m_ver_unix" "$(lookup opendkim unix verify 2048 9)")" 10
    check "Milter/rspamd verify (Unix socket)" "$(ratio "$m_ver_unix" "$(lookup rspamd unix verify 2048 9)")" 3
    m_sign_tcp=$(lookup milter tcp sign 2048 7)
    m_ver_tcp=$(lookup milter tcp verify 2048 7)
    check "Milter sign, TCP/Unix messages/s" "$(ratio "$m_sign_tcp" "$(lookup milter unix sign 2048 7)")" 0.90
    check "Milter verify, TCP/Unix messages/s" "$(ratio "$m_ver_tcp" "$(lookup milter unix verify 2048 7)")" 0.90
}

# ---------- main ----------
[[ $(id -u) -eq 0 ]] || die "run as root (rspamd and OpenDKIM are started as root here)"
for tool in dotnet taskset knotd knotc dig jq openssl opendkim miltertest; do
    command -v "$tool" >/dev/null || die "$tool is missing"
done
if [[ " $DAEMONS " == *" rspamd "* ]] && ! command -v rspamd >/dev/null; then
    log "rspamd is not installed (apt-get install -y rspamd): skipping it"
    DAEMONS=${DAEMONS//rspamd/}
fi
if [[ ${BENCH_SKIP_BUILD:-0} != 1 ]]; then
    (cd "$REPO" && dotnet build -c Release src/Milter/Milter.csproj -v quiet -nologo >/dev/null) || die "build failed"
fi
[[ -f $MILTER_DLL ]] || die "$MILTER_DLL is missing"

RSA_BEFORE=$(rsa_speed)
setup_key_and_dns
has_part() { [[ " $PARTS " == *" $1 "* ]]; }
# shellcheck source=bench/postfix.sh
source "$REPO/bench/postfix.sh"
# shellcheck source=bench/memory.sh
source "$REPO/bench/memory.sh"
# shellcheck source=bench/phases.sh
source "$REPO/bench/phases.sh"
if has_part phases; then phases_bench; fi
if has_part milters; then
    for daemon in $DAEMONS; do
        run_daemon "$daemon"
    done
fi
if has_part postfix; then postfix_bench; fi
if has_part memory; then memory_bench; fi
RSA_AFTER=$(rsa_speed)
# the faster of the two openssl runs: the limit, the other one saw more of the noise
RSA_SIGN=$(printf '%s\n%s\n' "$RSA_BEFORE" "$RSA_AFTER" | sort -g -r | head -1)
echo "openssl speed rsa2048 on core $DAEMON_CORE (sign/s verify/s): before $RSA_BEFORE, after $RSA_AFTER"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load average $(cut -d' ' -f1-3 /proc/loadavg) at the end"
echo "command: bench/run.sh (BENCH_MESSAGES=$MESSAGES BENCH_SLOW_MESSAGES=$SLOW_MESSAGES BENCH_SIZES=\"$SIZES\"), $CONCURRENCY connections"
if has_part phases; then phases_report; fi
if has_part milters; then report; fi
if has_part postfix; then postfix_report; fi
if has_part memory; then memory_report; fi
