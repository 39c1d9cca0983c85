#!/bin/sh
# Entrypoint of the Postfix image: renders the postfix-config/ files for the roles in POSTFIX_ROLES from
# environment variables and runs Postfix in the foreground with its log on stdout.
#
#   entrypoint.sh                 configure /etc/postfix, then exec postfix start-fg (the container)
#   entrypoint.sh configure DIR   write DIR/main.cf and DIR/master.cf (base + roles), start nothing
#   entrypoint.sh render DIR      write only the role snippets DIR/main.cf and DIR/master.cf (tests)
#   entrypoint.sh COMMAND...      run any other command (a shell, postqueue -p, ...)
#
# Plain POSIX sh (shellcheck clean): the end-to-end tests run this same script outside Docker.
# Environment (defaults in brackets):
#   POSTFIX_ROLES       relay, inbound, submission; several separated by spaces [relay]
#   POSTFIX_TEMPLATES   folder holding the postfix-config/ role folders [/usr/share/milter-postfix]
#   POSTFIX_BASE_MAIN   the main.cf the role snippets are appended to [$POSTFIX_TEMPLATES/main.cf.base]
#   MYHOSTNAME          the host name in HELO and Received: [output of uname -n]
#   MYDOMAIN            the mail domain [MYHOSTNAME without its first label]
#   MYNETWORKS          clients that may relay [127.0.0.0/8 [::1]/128]
#   RELAYHOST           smarthost, e.g. [smtp.example.net]:587; empty: deliver to MX hosts []
#   POSTFIX_MILTER      how Postfix reaches Milter: inet:HOST:PORT or unix:/run/milter/milter.sock
#                       [inet:milter:8891]
#   SMTPD_LISTEN        the SMTP service: smtp (port 25) or ADDRESS:PORT [smtp]
#   RELAY_DOMAINS       inbound: domains accepted from the internet (required for inbound)
#   INTERNAL_MAILHOST   inbound: where accepted mail goes, e.g. [10.0.0.5]:25 (required for inbound)
#   SUBMISSION_LISTEN   submission: submission (port 587) or ADDRESS:PORT [submission]
#   SUBMISSION_TLS_LEVEL  submission: encrypt, or none for tests without certificates [encrypt]
#   SASL_TYPE, SASL_PATH  submission: dovecot + private/auth, or cyrus + smtpd [dovecot, private/auth]
#   TLS_CERT_FILE, TLS_KEY_FILE  submission: [/etc/postfix/tls/cert.pem, /etc/postfix/tls/key.pem]
set -eu

TEMPLATES=${POSTFIX_TEMPLATES:-/usr/share/milter-postfix}
BASE_MAIN=${POSTFIX_BASE_MAIN:-$TEMPLATES/main.cf.base}
ROLES=${POSTFIX_ROLES:-relay}
MYHOSTNAME=${MYHOSTNAME:-$(uname -n)}
MYDOMAIN=${MYDOMAIN:-${MYHOSTNAME#*.}}
MYNETWORKS=${MYNETWORKS:-127.0.0.0/8 [::1]/128}
RELAYHOST=${RELAYHOST:-}
MILTER=${POSTFIX_MILTER:-inet:milter:8891}
SMTPD_LISTEN=${SMTPD_LISTEN:-smtp}
RELAY_DOMAINS=${RELAY_DOMAINS:-}
INTERNAL_MAILHOST=${INTERNAL_MAILHOST:-}
SUBMISSION_LISTEN=${SUBMISSION_LISTEN:-submission}
SUBMISSION_TLS_LEVEL=${SUBMISSION_TLS_LEVEL:-encrypt}
SASL_TYPE=${SASL_TYPE:-dovecot}
SASL_PATH=${SASL_PATH:-private/auth}
TLS_CERT_FILE=${TLS_CERT_FILE:-/etc/postfix/tls/cert.pem}
TLS_KEY_FILE=${TLS_KEY_FILE:-/etc/postfix/tls/key.pem}

die() {
    echo "entrypoint: $*" >&2
    exit 2
}

# Every value goes into a config line: refuse line breaks (they would inject parameters).
check_value() {
    case $2 in
        *"
"*) die "$1 must be one line" ;;
    esac
}

# Escapes a value for the right-hand side of a sed s||| command.
sed_escape() {
    printf '%s' "$1" | sed -e 's/[\\|&]/\\&/g'
}

# Writes the sed script that fills the @NAME@ tokens of the templates.
write_sed_script() {
    if [ "$SUBMISSION_TLS_LEVEL" = none ]; then auth_only=no; else auth_only=yes; fi
    for pair in \
        "MYHOSTNAME=$MYHOSTNAME" "MYDOMAIN=$MYDOMAIN" "MYNETWORKS=$MYNETWORKS" "RELAYHOST=$RELAYHOST" \
        "MILTER=$MILTER" "SMTPD_LISTEN=$SMTPD_LISTEN" "RELAY_DOMAINS=$RELAY_DOMAINS" \
        "INTERNAL_MAILHOST=$INTERNAL_MAILHOST" "SUBMISSION_LISTEN=$SUBMISSION_LISTEN" \
        "SUBMISSION_TLS_LEVEL=$SUBMISSION_TLS_LEVEL" "SUBMISSION_TLS_AUTH_ONLY=$auth_only" \
        "SASL_TYPE=$SASL_TYPE" "SASL_PATH=$SASL_PATH" "TLS_CERT_FILE=$TLS_CERT_FILE" "TLS_KEY_FILE=$TLS_KEY_FILE"
    do
        name=${pair%%=*}
        value=${pair#*=}
        check_value "$name" "$value"
        printf 's|@%s@|%s|g\n' "$name" "$(sed_escape "$value")"
    done
}

has_role() {
    case " $ROLES " in
        *" $1 "*) return 0 ;;
    esac
    return 1
}

validate_roles() {
    [ -n "$ROLES" ] || die "POSTFIX_ROLES is empty (use relay, inbound and/or submission)"
    if has_role relay && has_role inbound; then
        die "use relay or inbound, not both (each sets smtpd_milters and the smtp service)"
    fi
    if has_role submission && ! has_role relay && ! has_role inbound; then
        die "role submission needs relay or inbound with it (they point Postfix at Milter)"
    fi
    for role in $ROLES; do
        case $role in
            relay | submission) ;;
            inbound)
                [ -n "$RELAY_DOMAINS" ] || die "role inbound needs RELAY_DOMAINS (the domains this MX accepts)"
                [ -n "$INTERNAL_MAILHOST" ] || die "role inbound needs INTERNAL_MAILHOST (e.g. [10.0.0.5]:25)"
                ;;
            *) die "unknown role '$role' in POSTFIX_ROLES (use relay, inbound and/or submission)" ;;
        esac
        [ -f "$TEMPLATES/$role/main.cf" ] || die "$TEMPLATES/$role/main.cf not found (POSTFIX_TEMPLATES)"
        [ -f "$TEMPLATES/$role/master.cf" ] || die "$TEMPLATES/$role/master.cf not found (POSTFIX_TEMPLATES)"
    done
}

# render DIR: the role snippets, filled, into DIR/main.cf and DIR/master.cf.
render() {
    out=$1
    validate_roles
    mkdir -p "$out"
    script="$out/.fill.sed"
    write_sed_script >"$script"
    : >"$out/main.cf"
    : >"$out/master.cf"
    for role in $ROLES; do
        sed -f "$script" "$TEMPLATES/$role/main.cf" >>"$out/main.cf"
        sed -f "$script" "$TEMPLATES/$role/master.cf" >>"$out/master.cf"
    done
    rm -f "$script"
    if grep -n '@[A-Z][A-Z0-9_]*@' "$out/main.cf" "$out/master.cf" >&2; then
        die "a template names a value this script does not know (above)"
    fi
}

# configure DIR: DIR/main.cf = base + roles; DIR/master.cf = the stock master.cf (kept as master.cf.dist)
# with its smtp service commented out, chroot off everywhere, then the role services.
configure() {
    dir=$1
    [ -f "$BASE_MAIN" ] || die "$BASE_MAIN not found (POSTFIX_BASE_MAIN)"
    [ -f "$dir/master.cf.dist" ] || cp "$dir/master.cf" "$dir/master.cf.dist"
    render "$dir/roles"
    cat "$BASE_MAIN" "$dir/roles/main.cf" >"$dir/main.cf"
    sed -e 's/^smtp[[:space:]][[:space:]]*inet[[:space:]]/#&/' "$dir/master.cf.dist" >"$dir/master.cf"
    cat "$dir/roles/master.cf" >>"$dir/master.cf"
    # No chroot tree in a container: every service runs unchrooted.
    postconf -c "$dir" -F '*/*/chroot = n'
}

case ${1:-} in
    render)
        [ $# -eq 2 ] || die "usage: entrypoint.sh render DIR"
        render "$2"
        ;;
    configure)
        [ $# -eq 2 ] || die "usage: entrypoint.sh configure DIR"
        configure "$2"
        ;;
    "")
        configure /etc/postfix
        if [ ! -f "$TLS_CERT_FILE" ] && [ "$SUBMISSION_TLS_LEVEL" != none ]; then
            if has_role submission; then die "submission needs $TLS_CERT_FILE and $TLS_KEY_FILE (mount them, see docker/README.md)"; fi
        fi
        postfix -c /etc/postfix check
        # postfix start-fg keeps the master in the foreground (PID 1's child); maillog_file = /dev/stdout
        # in main.cf.base sends the log through postlogd to the container's stdout.
        exec postfix -c /etc/postfix start-fg
        ;;
    *)
        exec "$@"
        ;;
esac
