#!/usr/bin/env bash
# Replays every kept finding (fuzz/regressions/<target>/*, one process each,
# so every one that fails is named) and every seed (fuzz/corpus/<target>/*,
# one process per target) through its target: a finding that comes back, or
# a seed that now fails, fails the run.
#   fuzz/tools/regress.sh <target>...
set -uo pipefail
fail=0
mkdir -p build/fuzz/logs
for target in "$@"; do
  for input in fuzz/regressions/"$target"/*; do
    [ -e "$input" ] || continue
    log=build/fuzz/logs/regress-$target-$(basename "$input").log
    if build/fuzz/"$target" "$input" >"$log" 2>&1; then
      echo "fuzz-regress: $target: $(basename "$input") passes"
    else
      grep -E '==qn-fuzz==|runtime error|ERROR: AddressSanitizer' "$log" | head -2 >&2
      echo "fuzz-regress: $target: $(basename "$input") FAILS (log: $log)" >&2
      fail=1
    fi
  done
  seeds=(fuzz/corpus/"$target"/*)
  [ -e "${seeds[0]}" ] || continue
  log=build/fuzz/logs/regress-$target-corpus.log
  if build/fuzz/"$target" "${seeds[@]}" >"$log" 2>&1; then
    echo "fuzz-regress: $target: the ${#seeds[@]} seeds pass"
  else
    grep -E '==qn-fuzz==|runtime error|ERROR: AddressSanitizer|Running: ' "$log" | tail -3 >&2
    echo "fuzz-regress: $target: a seed FAILS (log: $log)" >&2
    fail=1
  fi
done
exit $fail
