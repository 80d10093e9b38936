#!/usr/bin/env bash
# The long fuzz campaign (fuzz/README.md): every target until 10 million
# executions or its time budget, whichever comes first, in two lanes run
# side by side (two targets at once, at the lowest CPU priority, for a
# machine shared with others). Summaries go to build/fuzz/campaign.txt.
# QN_FUZZ_KNOWN (the open findings already reported) is passed through.
#   fuzz/tools/campaign.sh            (make fuzz-build first)
set -uo pipefail
runs=${FUZZ_RUNS:-10000000}
out=build/fuzz/campaign.txt
lane() {
  for spec in "$@"; do
    nice -n 19 fuzz/tools/run-target.sh "${spec%%:*}" "${spec##*:}" -runs="$runs" >>"$out" 2>&1
  done
}
: >"$out"
echo "fuzz campaign: started $(date -u +%FT%TZ), runs $runs, QN_FUZZ_KNOWN=${QN_FUZZ_KNOWN:-}" >>"$out"
lane rx-auth0:1500 rx-auth2-pre:1500 decode:120 config:400 &
a=$!
lane rx-auth2-session:1800 journal:1500 &
b=$!
wait "$a" "$b"
echo "fuzz campaign: ended $(date -u +%FT%TZ)" >>"$out"
cat "$out"
