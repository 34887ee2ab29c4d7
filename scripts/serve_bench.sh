#!/usr/bin/env bash
# Load test of trm serve (docs/SERVING.md "Measured"): wrk POSTs /v1/solve with 4x4 Sudoku
# puzzles (scripts/serve_bench.lua cycles through 64 of them) for DURATION seconds at 1, 8 and 64
# connections, with batching on and off; prints requests/s, p50/p99 latency and errors, the
# server's RSS before and after, and the load average.
#   scripts/serve_bench.sh TRM CHECKPOINT [DURATION=60]
# HALTING=reference in the environment makes every request run all supervision steps;
# LEAK_ROUNDS=N adds N rounds at 64 connections with the RSS after each; MODES="on" skips "off".
set -euo pipefail
trm=$1 ckpt=$2 dur=${3:-60}
here=$(cd "$(dirname "$0")" && pwd)
port=18631
rss() { awk '/VmRSS/ {print $2 " kB"}' "/proc/$1/status"; }
echo "# $(date -u +%FT%TZ) $(nproc) cores; halting ${HALTING:-adaptive}; load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for mode in ${MODES:-on off}; do
  extra=()
  [[ $mode == off ]] && extra=(--no-batching)
  OMP_NUM_THREADS=1 "$trm" serve --model "s4=$ckpt" --port $port --max-queue 4096 "${extra[@]}" 2> /tmp/serve_bench.log &
  pid=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" > /dev/null && break; sleep 0.1; done
  # Warm-up, then the RSS "before".
  wrk -t1 -c8 -d3s -s "$here/serve_bench.lua" "http://127.0.0.1:$port/v1/solve" > /dev/null
  before=$(rss $pid)
  for c in 1 8 64; do
    t=$((c < 2 ? 1 : 2))
    # --timeout 10s: wrk's default 2 s would count slow answers under 64 connections as errors.
    out=$(wrk -t$t -c$c -d${dur}s --timeout 10s --latency -s "$here/serve_bench.lua" "http://127.0.0.1:$port/v1/solve")
    rps=$(awk '/Requests\/sec/ {print $2}' <<< "$out")
    p50=$(awk '$1 == "50%" {print $2}' <<< "$out")
    p99=$(awk '$1 == "99%" {print $2}' <<< "$out")
    errs=$(awk '/Non-2xx/ {print $NF}' <<< "$out")
    sock=$(awk '/Socket errors/ {print $0}' <<< "$out")
    echo "batching $mode | $c conn | ${rps} req/s | p50 $p50 | p99 $p99 | non-2xx ${errs:-0} ${sock:+| $sock} | load $(cut -d' ' -f1-3 /proc/loadavg)"
  done
  after=$(rss $pid)
  mean=$(curl -s "http://127.0.0.1:$port/metrics" | awk -F'[ ]' '/^trm_batch_rows_sum/ {s=$2} /^trm_batch_rows_count/ {n=$2} END {if (n) printf "%.1f", s/n}')
  echo "batching $mode: RSS before $before, after $after; mean rows per model step $mean"
  # LEAK_ROUNDS=N: N more rounds at 64 connections, RSS after each (it must stay flat).
  for r in $(seq "${LEAK_ROUNDS:-0}"); do
    wrk -t2 -c64 -d${dur}s --timeout 10s -s "$here/serve_bench.lua" "http://127.0.0.1:$port/v1/solve" > /dev/null
    echo "batching $mode: RSS after leak round $r: $(rss $pid)"
  done
  kill -TERM $pid
  wait $pid
done
