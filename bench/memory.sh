# shellcheck shell=bash
# Sourced by bench/run.sh: the memory part of the benchmark (not measured yet).
memory_bench() { log "the memory part is not written yet"; }
memory_report() { echo; echo "(memory: not measured yet)"; }
