#!/usr/bin/env bash
# The quick start: generate 4x4 Sudoku puzzles, train a small TRM on 2,000 of them, evaluate it on
# 500 held-out puzzles, and solve one held-out puzzle step by step. About 2 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
trm=./build/release/trm
out=${1:-runs/quickstart}

echo "== 1/4  generating 2,000 training and 500 held-out 4x4 Sudoku puzzles (unique solutions)"
$trm data generate sudoku --n 4 --train 2000 --test 500 --seed 0 --out "$out/data"

echo "== 2/4  training tiny-sudoku-mlp for 400 steps of batch 128"
$trm train tiny-sudoku-mlp --data "$out/data" --out "$out/run" --no-resume \
  --batch 128 --max-steps 400 --eval-examples 500 --log-every 50

echo "== 3/4  evaluating the EMA weights on the 500 held-out puzzles (stopping when the model says it is done)"
$trm eval --checkpoint "$out/run/final.safetensors" --data "$out/data" --halting adaptive

echo "== 4/4  solving held-out puzzle #7, showing each supervision step until the model halts"
puzzle=$($trm data show "$out/data" --split test --index 7)
echo "$puzzle"
$trm solve --checkpoint "$out/run/final.safetensors" --steps "$puzzle"
echo "(metrics: $out/run/metrics.jsonl; try: $trm solve --checkpoint $out/run/final.safetensors '.2..3....1....4.')"
