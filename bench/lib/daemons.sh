# shellcheck shell=bash
# Shared by the bench scripts (sourced, not run): the RSA-2048 key, the Knot server publishing it, and
# starting Milter, OpenDKIM and rspamd pinned to DAEMON_CORE. start_NAME TRANSPORT sets DAEMON_PID and SPEC.
# Needs lib/common.sh, WORK, REPO, DOMAIN, SELECTOR, DAEMON_CORE, MILTER_DLL and PIDS; BENCH_MILTER_RUN (optional) is the
# command that starts Milter (default: dotnet MILTER_DLL).
# Optional extra configuration for one part of the benchmark: MILTER_EXTRA_JSON (members added to Milter's
# JSON object, e.g. '"Server": { "MaxConnections": 1500 }') and RSPAMD_EXTRA_OPTIONS (lines in options {}).

# ---------- key and DNS ----------
setup_key_and_dns() {
    openssl genrsa -traditional -out "$WORK/bench.private" 2048 2>/dev/null
    chmod 600 "$WORK/bench.private"
    local pub
    pub=$(openssl rsa -in "$WORK/bench.private" -pubout -outform DER 2>/dev/null | base64 -w0)
    local txt="v=DKIM1; k=rsa; p=$pub" chunks="" i
    for ((i = 0; i < ${#txt}; i += 200)); do chunks+="\"${txt:i:200}\" "; done
    DNS_PORT=$(free_port)
    mkdir -p "$WORK/knot"
    cat >"$WORK/knot/lab.example.zone" <<EOF
\$ORIGIN $DOMAIN.
\$TTL 3600
@ IN SOA ns.$DOMAIN. hostmaster.$DOMAIN. 1 3600 600 86400 300
@ IN NS ns.$DOMAIN.
ns IN A 127.0.0.1
@ IN TXT "v=spf1 ip4:192.0.2.1 -all"
_dmarc IN TXT "v=DMARC1; p=none"
$SELECTOR._domainkey IN TXT ( $chunks)
EOF
    cat >"$WORK/knot/knot.conf" <<EOF
server:
    rundir: "$WORK/knot"
    listen: 127.0.0.1@$DNS_PORT
log:
  - target: stderr
    any: error
database:
    storage: "$WORK/knot"
zone:
  - domain: $DOMAIN
    file: "$WORK/knot/lab.example.zone"
EOF
    knotc -c "$WORK/knot/knot.conf" conf-check >/dev/null || die "knot config rejected"
    knotd -c "$WORK/knot/knot.conf" 2>"$WORK/knot/knotd.log" &
    PIDS+=($!)
    wait_for "knotd" bash -c "dig +short @127.0.0.1 -p $DNS_PORT $SELECTOR._domainkey.$DOMAIN TXT | grep -q DKIM1"
}

# ---------- daemons: start_X TRANSPORT sets DAEMON_PID and SPEC ----------
listen_spec() { # listen_spec NAME TRANSPORT -> milter socket spec
    if [[ $2 == tcp ]]; then echo "inet:$(free_port)@127.0.0.1"; else echo "unix:$WORK/$1.sock"; fi
}

start_milter() {
    SPEC=$(listen_spec milter "$1")
    mkdir -p "$WORK/milter-data"
    cat >"$WORK/milter.json" <<EOF
{
  "Listen": [ "$SPEC" ],
  "AuthservId": "bench.$DOMAIN",
  "LogLevel": "Warning",
  "Dns": { "Servers": [ "127.0.0.1:$DNS_PORT" ] },
  "Signing": {
    "Keys": [ { "Domain": "$DOMAIN", "Selector": "$SELECTOR", "KeyFile": "$WORK/bench.private" } ],
    "InternalHosts": [ "127.0.0.1" ]
  },
  "Spf": { "Enabled": false },
  "Dmarc": { "Enabled": false },${MILTER_EXTRA_JSON:+
  $MILTER_EXTRA_JSON,}
  "Reports": { "DataDirectory": "$WORK/milter-data" }
}
EOF
    local t0
    t0=$(date +%s%N)
    # shellcheck disable=SC2086 # BENCH_MILTER_RUN is a command line: the published `milter` or `dotnet milter.dll`
    taskset -c "$DAEMON_CORE" ${BENCH_MILTER_RUN:-dotnet $MILTER_DLL} run --config "$WORK/milter.json" >"$WORK/milter.log" 2>&1 &
    DAEMON_PID=$!
    PIDS+=("$DAEMON_PID")
    # start-up to listening (ms) and the daemon's CPU by then, for bench/phases.sh
    # shellcheck disable=SC2034 # read by bench/phases.sh
    {
        DAEMON_START_MS=$("$REPO/bench/wait-listening.py" "$SPEC" "$t0") || die "milter ($SPEC) did not listen within 60 s"
        DAEMON_START_TICKS=$(cpu_ticks "$DAEMON_PID")
    }
    wait_for "milter ($SPEC)" milter health --connect "$SPEC"
}

start_opendkim() {
    SPEC=$(listen_spec opendkim "$1")
    local sock=$SPEC
    [[ $sock == unix:* ]] && sock="local:${sock#unix:}"
    cat >"$WORK/opendkim.conf" <<EOF
Mode sv
Domain $DOMAIN
Selector $SELECTOR
KeyFile $WORK/bench.private
InternalHosts 127.0.0.1
Canonicalization relaxed/relaxed
Socket $sock
PidFile $WORK/opendkim.pid
Background no
Syslog no
RequireSafeKeys no
Nameservers 127.0.0.1@$DNS_PORT
AuthservID bench.$DOMAIN
EOF
    taskset -c "$DAEMON_CORE" opendkim -f -x "$WORK/opendkim.conf" >"$WORK/opendkim.log" 2>&1 &
    DAEMON_PID=$!
    PIDS+=("$DAEMON_PID")
    wait_for "opendkim ($SPEC)" milter health --connect "$SPEC"
}

start_rspamd() {
    SPEC=$(listen_spec rspamd "$1")
    local bind
    if [[ $SPEC == inet:* ]]; then bind="127.0.0.1:${SPEC#inet:}" bind=${bind%@127.0.0.1}; else bind="${SPEC#unix:} mode=0666"; fi
    mkdir -p "$WORK/rspamd/plugins" "$WORK/rspamd/db"
    ln -sf /usr/share/rspamd/plugins/dkim_signing.lua /usr/share/rspamd/plugins/milter_headers.lua "$WORK/rspamd/plugins/"
    cat >"$WORK/rspamd/rspamd.conf" <<EOF
options {
  pidfile = "$WORK/rspamd/rspamd.pid";
  filters = "dkim";
  cache_file = "$WORK/rspamd/db/symbols.cache";
  control_socket = "$WORK/rspamd/db/control.sock mode=0600";
  tempdir = "$WORK/rspamd";
  dns { nameserver = ["127.0.0.1:$DNS_PORT"]; timeout = 1s; retransmits = 2; }
  ${RSPAMD_EXTRA_OPTIONS:-}
}
modules { path = "$WORK/rspamd/plugins"; }
logging { type = "console"; level = "error"; }
worker "rspamd_proxy" {
  bind_socket = "$bind";
  milter = yes;
  timeout = 120s;
  upstream "local" { default = yes; self_scan = yes; }
  count = 1;
}
dkim { }
dkim_signing {
  domain { $DOMAIN { selector = "$SELECTOR"; path = "$WORK/bench.private"; } }
  sign_local = true;
  allow_username_mismatch = true;
  use_esld = false;
  use_redis = false;
}
milter_headers { use = ["authentication-results"]; }
EOF
    taskset -c "$DAEMON_CORE" rspamd -f -i -c "$WORK/rspamd/rspamd.conf" >"$WORK/rspamd.log" 2>&1 &
    DAEMON_PID=$!
    PIDS+=("$DAEMON_PID")
    wait_for "rspamd ($SPEC)" milter health --connect "$SPEC"
}

# The no-op C milter (bench/floor-milter.c, Debian's libmilter-dev): what Milter negotiates and the same header
# edits, no crypto. Compiled into WORK at its first start.
start_floor() {
    SPEC=$(listen_spec floor "$1")
    if [[ ! -x $WORK/floor-milter ]]; then
        [[ -f /usr/include/libmilter/mfapi.h ]] || die "libmilter-dev is missing (apt-get install -y libmilter-dev)"
        cc -O2 -Wall -o "$WORK/floor-milter" "$REPO/bench/floor-milter.c" -lmilter -lpthread || die "floor-milter did not compile"
    fi
    taskset -c "$DAEMON_CORE" "$WORK/floor-milter" "$SPEC" >"$WORK/floor.log" 2>&1 &
    DAEMON_PID=$!
    PIDS+=("$DAEMON_PID")
    wait_for "floor-milter ($SPEC)" milter health --connect "$SPEC"
}

stop_daemon() {
    kill "$DAEMON_PID" 2>/dev/null || true
    wait "$DAEMON_PID" 2>/dev/null || true
    rm -f "$WORK"/*.sock
}

