#!/usr/bin/env bash
# Fuzzes every target for SECONDS each, JOBS at a time (default 2: one per core here), with fuzz/run.sh.
# Usage: fuzz/run-all.sh SECONDS [JOBS]
# Prints each target's summary, then "fuzz: N passed, N failed"; exits non-zero when any target failed
# (a crash, a hang, or a run that could not fuzz).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
seconds="${1:?usage: fuzz/run-all.sh SECONDS [JOBS]}"; jobs="${2:-2}"
targets=(frame session dkim spf dmarc authres from)
logs=fuzz/findings/run-all
rm -rf "$logs"; mkdir -p "$logs"

if ! fuzz/run.sh build; then
  echo "fuzz: 0 passed, ${#targets[@]} failed"
  exit 1
fi
for t in "${targets[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n; done
  ( fuzz/run.sh "$t" "$seconds" >"$logs/$t.log" 2>&1; echo $? >"$logs/$t.status" ) &
done
wait

passed=0; failed=0
for t in "${targets[@]}"; do
  cat "$logs/$t.log"
  if [ "$(cat "$logs/$t.status" 2>/dev/null)" = 0 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
