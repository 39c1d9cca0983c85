# shellcheck shell=bash
# Sourced by bench/run.sh: the postfix part of the benchmark (not measured yet).
postfix_bench() { log "the postfix part is not written yet"; }
postfix_report() { echo; echo "(postfix: not measured yet)"; }
