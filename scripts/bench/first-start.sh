#!/usr/bin/env bash
# A fresh clone's very first `npm start`, timed from the command to /readyz 200: no dist/, no embedded-database
# template, a new DATA_DIR — so the transpile, the template (initdb and migrations, in memory) and the server's
# start are all in it. It removes dist/ and node_modules/.cache/parley of the clone it is given: run it in a clone
# made for it (git clone; npm ci), never in a working tree whose build you want to keep.
#
#   scripts/bench/first-start.sh <clone> [port] [runs] [built]
#
# With `built` as the fourth argument it times an ordinary `npm start` instead: dist/ and the template are kept
# (made by an earlier start), only DATA_DIR is new — what every start after the first costs.
#   farm-bench -n 3 --vs 'scripts/bench/first-start.sh /tmp/old-clone 3912 1' -- scripts/bench/first-start.sh /tmp/new-clone 3911 1
set -euo pipefail
dir=$(cd "${1:?a clone to start}" && pwd); port=${2:-3911}; runs=${3:-1}; mode=${4:-first}
for _ in $(seq 1 "$runs"); do
  data=$(mktemp -d)
  [ "$mode" = built ] || rm -rf "$dir/dist" "$dir/node_modules/.cache/parley"
  start=$(date +%s%N)
  # setsid: npm and the server it starts get a process group of their own (its id is $pid), stopped as one below.
  PORT=$port DATA_DIR=$data setsid bash -c 'cd "$1" && exec npm start' _ "$dir" >"$data.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 1200); do
    curl -sf -o /dev/null "http://127.0.0.1:$port/readyz" && break
    sleep 0.05
  done
  end=$(date +%s%N)
  echo "$mode start → /readyz 200: $(( (end - start) / 1000000 )) ms; $(grep -ho 'template in [0-9]* ms' "$data.log" || echo 'no template made')"
  kill -TERM -- "-$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  rm -rf "$data" "$data.log"
done
