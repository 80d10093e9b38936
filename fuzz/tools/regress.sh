#!/usr/bin/env bash
# Replays every kept finding (fuzz/regressions/<target>/*) and every seed
# (fuzz/corpus/<target>/*) through its target once: a finding that comes
# back, or a seed that now fails, fails the run.
#   fuzz/tools/regress.sh <target>...
set -uo pipefail
fail=0
for target in "$@"; do
  for dir in fuzz/regressions/$target fuzz/corpus/$target; do
    files=("$dir"/*)
    [ -e "${files[0]}" ] || continue
    log=build/fuzz/logs/regress-$target-$(basename "$(dirname "$dir")").log
    mkdir -p build/fuzz/logs
    if build/fuzz/"$target" -runs=1 "${files[@]}" >"$log" 2>&1; then
      echo "fuzz-regress: $target: ${#files[@]} inputs of $dir pass"
    else
      grep -E '==qn-fuzz==|ERROR: |SUMMARY: |runtime error|Running: ' "$log" | tail -4 >&2
      echo "fuzz-regress: $target: an input of $dir fails (log: $log)" >&2
      fail=1
    fi
  done
done
exit $fail
