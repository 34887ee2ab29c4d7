#!/usr/bin/env bash
# HRM vs TRM on the quick start's 4x4 Sudoku (docs/RESULTS.md §5): the same data, the same
# optimizer recipe and the same number of optimizer steps for tiny-sudoku-mlp (TRM-MLP), the same
# preset with attention (TRM-Att) and tiny-sudoku-hrm (HRM). Prints wall and CPU seconds per run.
set -euo pipefail
cd "$(dirname "$0")/.."
trm=./build/release/trm
out=${1:-runs/hrm_vs_trm}
steps=${STEPS:-400}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2} OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}

$trm data generate sudoku --n 4 --train 2000 --test 500 --seed 0 --out "$out/data" >/dev/null
run() {  # name preset overrides...
  local name=$1; shift
  /usr/bin/time -f "$name: wall %e s, cpu %U+%S s" \
    $trm train "$@" --data "$out/data" --out "$out/$name" --no-resume --quiet \
    --batch 128 --max-steps "$steps" --eval-examples 500
}
run trm-mlp tiny-sudoku-mlp
run trm-att tiny-sudoku-mlp mlp_t=false pos_encodings=rope
run hrm tiny-sudoku-hrm
for name in trm-mlp trm-att hrm; do
  $trm eval --checkpoint "$out/$name/final.safetensors" --data "$out/data" --halting adaptive | tail -1 |
    sed "s/^/$name adaptive: /"
done
