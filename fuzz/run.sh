#!/usr/bin/env bash
# Fuzzes one target with AFL++ and SharpFuzz (see fuzz/README.md).
# Usage: fuzz/run.sh TARGET SECONDS      targets: frame session dkim spf dmarc authres from
#        fuzz/run.sh build                builds and instruments only
# Builds fuzz/Milter.Fuzz, copies its output to fuzz/build/bin and instruments our assemblies there (only
# when the sources changed since the last build), fuzzes from fuzz/corpus/TARGET for SECONDS into
# fuzz/findings/TARGET (the previous run's folder is kept as TARGET.prev), prints executions, coverage,
# crashes and hangs. Exit status: 0 clean, 1 a crash or hang (inputs left in fuzz/findings/TARGET/default/),
# 2 the run itself failed (build, afl-fuzz error, no execution).
set -euo pipefail
cd "$(dirname "$0")/.."
targets="frame session dkim spf dmarc authres from"
target="${1:-}"; seconds="${2:-}"
if [ "$target" = build ]; then seconds=0
elif [[ ! " $targets " == *" $target "* ]] || [[ ! "$seconds" =~ ^[0-9]+$ ]] || [ "$seconds" -lt 1 ]; then
  echo "usage: fuzz/run.sh TARGET SECONDS (TARGET: $targets)" >&2
  exit 2
fi
command -v afl-fuzz >/dev/null || { echo "fuzz: afl-fuzz not found (apt-get install afl++)" >&2; exit 2; }

build=fuzz/build
bin="$build/bin"
# Every input of the build: when none changed since the last instrumented build, reuse it.
stamp=$(find src/Milter.Protocol src/Milter.MailAuth fuzz/Milter.Fuzz -type f \( -name '*.cs' -o -name '*.csproj' -o -name '*.dat' \) \
          -not -path '*/bin/*' -not -path '*/obj/*' -print0 | sort -z \
        | xargs -0 sha256sum | cat - Directory.Build.props Directory.Packages.props global.json .config/dotnet-tools.json | sha256sum | cut -c1-16)
(
  # One build at a time when several targets start together (fuzz/run-all.sh).
  flock 9
  if [ "$(cat "$build/stamp" 2>/dev/null)" != "$stamp" ] || [ ! -f "$bin/Milter.Fuzz.dll" ]; then
    echo "fuzz: building and instrumenting into $bin"
    rm -rf "$bin" "$build/stamp"
    dotnet tool restore >/dev/null
    dotnet build fuzz/Milter.Fuzz/Milter.Fuzz.csproj -c Release -nologo -v quiet >"$build/build.log" 2>&1 \
      || { cat "$build/build.log"; echo "fuzz: build failed" >&2; exit 2; }
    cp -r fuzz/Milter.Fuzz/bin/Release/net10.0 "$bin"
    for asm in Milter.Protocol Milter.MailAuth; do
      dotnet sharpfuzz "$bin/$asm.dll" >>"$build/build.log" 2>&1 || { cat "$build/build.log"; echo "fuzz: instrumenting $asm failed" >&2; exit 2; }
    done
    echo "$stamp" >"$build/stamp"
  fi
) 9>"$(mkdir -p "$build" && echo "$build/lock")"

[ "$target" = build ] && exit 0

out="fuzz/findings/$target"
mkdir -p fuzz/findings
rm -rf "$out.prev"
[ -d "$out" ] && mv "$out" "$out.prev"
dict=()
[ -f "fuzz/dict/$target.dict" ] && dict=(-x "fuzz/dict/$target.dict")

# Container settings: no CPU governor, no core_pattern, no CPU pinning; dotnet is not an AFL-compiled
# binary (SharpFuzz talks the fork-server protocol from managed code) and needs more than AFL's memory limit.
# A run longer than 2 s counts as a hang only when it also exceeds AFL_HANG_TMOUT (10 s) when re-run.
echo "fuzz: $target for ${seconds}s"
set +e
AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_AFFINITY=1 AFL_SKIP_BIN_CHECK=1 \
AFL_NO_UI=1 AFL_FORKSRV_INIT_TMOUT=120000 AFL_HANG_TMOUT=10000 AFL_SHUFFLE_QUEUE=0 \
  timeout --kill-after=30 $((seconds + 300)) \
  afl-fuzz -i "fuzz/corpus/$target" -o "$out" -m none -t 2000 -V "$seconds" "${dict[@]}" \
    -- dotnet "$bin/Milter.Fuzz.dll" "$target" >"$out.log" 2>&1
afl_status=$?
set -e
mv "$out.log" "$out/afl.log" 2>/dev/null || true
stats="$out/default/fuzzer_stats"
if [ ! -f "$stats" ]; then
  tail -n 30 "$out/afl.log" 2>/dev/null || true
  echo "fuzz: $target FAILED: afl-fuzz did not start (exit $afl_status), log in $out/afl.log" >&2
  exit 2
fi
stat() { awk -F' *: *' -v k="$1" '$1 == k {print $2}' "$stats"; }
execs=$(stat execs_done); crashes=$(stat saved_crashes); hangs=$(stat saved_hangs)
echo "fuzz: $target: $execs executions ($(stat execs_per_sec)/s) in $(( $(stat last_update) - $(stat start_time) ))s," \
  "corpus $(stat corpus_count) inputs ($(stat corpus_found) found), edges $(stat edges_found) (bitmap $(stat bitmap_cvg))," \
  "stability $(stat stability), crashes $crashes, hangs $hangs"
if [ "${crashes:-0}" -gt 0 ] || [ "${hangs:-0}" -gt 0 ]; then
  find "$out"/default/crashes "$out"/default/hangs -type f -name 'id*' | sort | head -n 5 | while read -r f; do
    echo "fuzz: $target finding: $f (replay: dotnet fuzz/Milter.Fuzz/bin/Release/net10.0/Milter.Fuzz.dll $target '$f')"
  done
  echo "fuzz: $target FAILED: $crashes crash(es), $hangs hang(s)"
  exit 1
fi
if [ "$afl_status" -ne 0 ] || [ "${execs:-0}" -eq 0 ]; then
  tail -n 30 "$out/afl.log"
  echo "fuzz: $target FAILED: afl-fuzz exit $afl_status after $execs executions, log in $out/afl.log" >&2
  exit 2
fi
