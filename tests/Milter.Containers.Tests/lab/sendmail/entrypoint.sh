#!/bin/sh
# Makes /etc/mail/sendmail.cf from sendmail.mc with the settings given as environment variables, then runs
# the Sendmail daemon in the foreground. Sendmail logs only to syslog: busybox's syslogd copies it to
# stdout, so `podman logs` shows it.
set -eu
: "${MILTER_SOCKET:?set MILTER_SOCKET, e.g. inet:8891@10.89.1.2}"
: "${SMART_HOST_ADDRESS:?set SMART_HOST_ADDRESS}"
: "${SMART_HOST_PORT:?set SMART_HOST_PORT}"
: "${MAIL_HOSTNAME:?set MAIL_HOSTNAME}"
m4 -D "MILTER_SOCKET=$MILTER_SOCKET" -D "SMART_HOST_ADDRESS=$SMART_HOST_ADDRESS" -D "SMART_HOST_PORT=$SMART_HOST_PORT" \
   -D "MAIL_HOSTNAME=$MAIL_HOSTNAME" /etc/mail/milter-test/sendmail.mc >/etc/mail/sendmail.cf
busybox syslogd -n -O - &
echo "$(sendmail -d0.1 -bt </dev/null 2>/dev/null | sed -n 's/^Version /sendmail /p' | head -n 1) starting, milter $MILTER_SOCKET"
# SENDMAIL_DEBUG: e.g. "-D /tmp/debug.log -d64.10", sendmail's milter trace (the macros it sends) to a file.
exec /usr/sbin/sendmail -bD -q5s ${SENDMAIL_DEBUG:-}
