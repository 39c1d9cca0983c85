#!/usr/bin/env bash
# Runs every test. Installs the Debian packages the tests need when they are missing
# (a real Postfix with Cyrus SASL modules, a real DNS server, miltertest, dkimpy, OpenDKIM, shellcheck, AFL++,
# podman with podman-compose and debootstrap for the container stage, lintian for the Debian package, Prometheus to scrape the metrics endpoint), then runs dotnet test: first every
# project but the container stage, then the container stage (tests/Milter.Containers.Tests) on its own, so
# its image builds never compete with the rest for the CPU; then fuzzes every parser target for
# FUZZ_SECONDS (default 30) with fuzz/run-all.sh.
# Usage: [FUZZ_SECONDS=N] ./test.sh [extra dotnet test arguments]    (FUZZ_SECONDS=0 skips the fuzz stage, saying so)
set -euo pipefail
cd "$(dirname "$0")"

need_pkgs=()
have() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
for p in postfix knot knot-dnsutils miltertest python3-dkim python3-authres python3-dnspython opendkim opendkim-tools swaks shellcheck libsasl2-modules afl++ \
         podman buildah podman-compose runc debootstrap fuse-overlayfs lintian prometheus postgresql; do
  have "$p" || need_pkgs+=("$p")
done
if [ ${#need_pkgs[@]} -gt 0 ]; then
  echo "test.sh: installing ${need_pkgs[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
  # "No configuration" leaves /etc/postfix/main.cf absent; some postfix commands read it first.
  [ -f /etc/postfix/main.cf ] || $SUDO touch /etc/postfix/main.cf
  # The Debian packages start daemons of their own; the tests start private instances instead. Only the
  # daemons of packages installed just now are stopped: a service that was already there (a live Postfix
  # on a real mail host) is never touched.
  for svc in postfix opendkim knot prometheus postgresql; do
    if [[ " ${need_pkgs[*]} " == *" $svc "* ]]; then
      $SUDO systemctl stop "$svc" >/dev/null 2>&1 || true
    fi
  done
fi
[ -f /etc/postfix/main.cf ] || touch /etc/postfix/main.cf

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
figures="${TMPDIR:-/tmp}/milter-container-figures.txt"
rm -f "$figures"
containers=tests/Milter.Containers.Tests
set +e
dotnet test Milter.sln -c Release --logger "console;verbosity=normal" --filter "FullyQualifiedName!~Milter.Containers.Tests" "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
dotnet test "$containers" -c Release --no-build --logger "console;verbosity=normal" "$@" 2>&1 | tee -a "$log"
container_status=${PIPESTATUS[0]}
[ "$status" -ne 0 ] || status=$container_status
# The container stage's measurements (image sizes, build times, time to healthy, the standby drill).
if [ -f "$figures" ]; then
  echo "container stage figures:"
  sed 's/^/  /' "$figures"
fi
# Fuzz stage (fuzz/README.md): a short AFL++ run of every target; each target counts as one test below.
fuzz_seconds="${FUZZ_SECONDS:-30}"
if [[ ! "$fuzz_seconds" =~ ^[0-9]+$ ]]; then
  echo "fuzz: FAILED: FUZZ_SECONDS must be a number of seconds, not '$fuzz_seconds'"
  echo "fuzz: 0 passed, 1 failed" >>"$log"
  [ "$status" -eq 0 ] && status=2
elif [ "$fuzz_seconds" -gt 0 ]; then
  echo "fuzz: AFL++ with SharpFuzz, ${fuzz_seconds}s per target"
  fuzz/run-all.sh "$fuzz_seconds" 2>&1 | tee -a "$log"
  fuzz_status=${PIPESTATUS[0]}
  if [ "$fuzz_status" -ne 0 ]; then
    echo "fuzz: FAILED (a crash, a hang or a run that could not fuzz; inputs and logs under fuzz/findings/)"
    [ "$status" -eq 0 ] && status=$fuzz_status
  fi
else
  echo "fuzz: stage skipped (FUZZ_SECONDS=0)"
fi
set -e
# One closing line for CI: the sums of every test project's summary and the fuzz targets.
passed=$(awk '/^ +Passed: [0-9]+$/ {s+=$2} /^fuzz: [0-9]+ passed, [0-9]+ failed$/ {s+=$2} END {print s+0}' "$log")
failed=$(awk '/^ +Failed: [0-9]+$/ {s+=$2} /^fuzz: [0-9]+ passed, [0-9]+ failed$/ {s+=$4} END {print s+0}' "$log")
skipped=$(awk '/^ +Skipped: [0-9]+$/ {s+=$2} END {print s+0}' "$log")
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
# CI keeps only the end of this output: repeat the failed tests here, bounded so that the list never pushes
# the summary line out (the first 10 with up to 12 lines of their message, then names only, then a count).
if [ "$failed" -gt 0 ]; then
  echo "failed tests (the first lines of each message; the full text is above):"
  awk '/^  Failed / {count++; n=0; on = count <= 10; if (!on && count <= 60) print "  " $0}
       on && /^  (Passed|Skipped) |^\[xUnit/ {on=0}
       on && n < 12 {print "  " $0; n++}
       /^fuzz: [a-z]+: .*(crashes|hangs) [1-9]|^fuzz: .*FAILED/ {print "  " $0}
       END {if (count > 60) print "  ... and " count - 60 " more failed tests"}' "$log"
fi
echo "tests: $passed passed, $failed failed, $skipped skipped"
exit "$status"
