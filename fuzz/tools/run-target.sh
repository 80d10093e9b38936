#!/usr/bin/env bash
# Runs one fuzz target for a number of seconds and prints one summary line:
# executions, executions a second, coverage (libFuzzer's cov and ft) and
# the corpus size. New inputs go to build/fuzz/corpus/<target> (the seeds in
# fuzz/corpus/<target> are read, never written); a finding is kept in
# build/fuzz/findings/<target>/ and its report printed, and the exit status
# is then 1. The full log is build/fuzz/logs/<target>.log.
#   fuzz/tools/run-target.sh <target> <seconds> [libFuzzer options...]
set -uo pipefail
target=$1 seconds=$2
shift 2
bin=build/fuzz/$target work=build/fuzz/corpus/$target findings=build/fuzz/findings/$target log=build/fuzz/logs/$target.log
mkdir -p "$work" "$findings" "$(dirname "$log")"
# The longest input worth trying: a journal input carries a whole 16 KiB
# image (and 4 bytes of flags); decode and config a payload and a byte or
# two; a receive target's ops rarely need more than a few dozen frames,
# and shorter inputs run several times faster.
case "$target" in
  journal) max_len=16388 ;;
  decode) max_len=257 ;;
  config) max_len=258 ;;
  *) max_len=1024 ;;
esac
# FUZZ_SMOKE=1 (make fuzz-smoke, CI): a fixed seed and a fixed number of
# runs from the committed seeds alone, so a run finds the same things on
# every machine and every time: CI goes red for the code, never for luck.
# The number of runs is about 5 s of each target here.
smoke=()
if [ "${FUZZ_SMOKE:-0}" = 1 ]; then
  case "$target" in
    journal) runs=50000 ;;
    decode) runs=1000000 ;;
    config) runs=200000 ;;
    *) runs=100000 ;;
  esac
  smoke=(-seed=1 -runs="$runs")
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
fi
start=$SECONDS
"$bin" "${smoke[@]}" -max_total_time="$seconds" -max_len="$max_len" -timeout=10 -print_final_stats=1 \
  -artifact_prefix="$findings/" "$@" "$work" "fuzz/corpus/$target" >"$log" 2>&1
status=$?
elapsed=$((SECONDS - start))
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
last=$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -1)
cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
corp=$(sed -n 's/.* corp: \([0-9]*\/[0-9a-zA-Z]*\).*/\1/p' <<<"$last")
printf 'fuzz: %-17s %11s execs %7s exec/s  cov %5s  ft %6s  corpus %s  %ss\n' \
  "$target" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$elapsed"
if [ "$status" -ne 0 ]; then
  grep -E '==qn-fuzz==|ERROR: |SUMMARY: |runtime error|Test unit written' "$log" | head -8 >&2
  echo "fuzz: $target: FINDING (log: $log)" >&2
  exit 1
fi
