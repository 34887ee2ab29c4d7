#!/usr/bin/env bash
# Crash consistency of a training run (docs/RELIABILITY.md, "Runs and files"): kill -9 a tiny
# training at a random moment (it checkpoints every step, so most kills land in or near a
# checkpoint write), resume it with the same command, and compare the finished run's files with
# an uninterrupted run's, byte for byte.
# Usage: scripts/crash_resume.sh [trials] [path/to/trm]   (defaults: 15, build/release/trm)
set -euo pipefail
cd "$(dirname "$0")/.."
trials=${1:-15}
trm=${2:-./build/release/trm}
export OMP_NUM_THREADS=1 OMP_WAIT_POLICY=passive
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

$trm data generate sudoku --n 4 --train 200 --test 20 --seed 1 --out "$work/data" > /dev/null
# The same command every time: it resumes from $work/run when that holds a checkpoint.
cmd=($trm train tiny-sudoku-mlp hidden_size=32 puzzle_emb_ndim=32 --data "$work/data" --out "$work/run" --quiet
  --batch 16 --max-steps 40 --checkpoint-every 1 --eval-examples 8 --seed 5)
start=$(date +%s.%N)
"${cmd[@]}" > /dev/null 2>&1
took=$(echo "$(date +%s.%N) - $start" | bc)
mv "$work/run" "$work/ref"
echo "uninterrupted run: ${took}s"

identical=0 killed_in_run=0 tmp_seen=0
for t in $(seq "$trials"); do
  rm -rf "$work/run"
  # A kill anywhere in the first 90% of the run's duration.
  delay=$(awk -v s="$RANDOM" -v d="$took" 'BEGIN { srand(s); printf "%.3f", 0.05 + rand() * d * 0.9 }')
  "${cmd[@]}" > /dev/null 2>&1 &
  pid=$!  # trm itself (no subshell in between), so kill -9 reaches it
  sleep "$delay"
  if kill -9 "$pid" 2> /dev/null; then killed_in_run=$((killed_in_run + 1)); fi
  wait "$pid" 2> /dev/null || true
  step=$(sed -n 's/.*"step":\([0-9]*\).*/\1/p' "$work/run/metrics.jsonl" 2> /dev/null | tail -1 || true)
  left=$(ls "$work/run" | grep -c '\.tmp$' || true)
  [[ $left -gt 0 ]] && tmp_seen=$((tmp_seen + 1))
  err=$("${cmd[@]}" 2>&1 > /dev/null) || { echo "trial $t: the resume failed: $err"; continue; }
  same=yes
  for f in final.safetensors checkpoint.safetensors config.json; do
    cmp -s "$work/ref/$f" "$work/run/$f" || same="no ($f differs)"
  done
  [[ $same == yes ]] && identical=$((identical + 1))
  echo "trial $t: kill -9 after ${delay}s (last logged step ${step:-none}, ${left} .tmp left): resumed, identical: $same"
done
echo "killed mid-run: $killed_in_run/$trials; a .tmp left behind: $tmp_seen; bit-identical after resuming: $identical/$trials"
[[ $identical == "$trials" ]]
