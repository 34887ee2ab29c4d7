#!/usr/bin/env bash
# The CUDA backend's checks and measurements on a machine with an NVIDIA GPU, as one script with a
# fixed time budget (docs/GPU.md). Everything it finds goes to $OUT (default ./gpu-check-out):
#   device.txt            nvidia-smi and `trm info --system`
#   tests.json            the CUDA op tests and the parity suites on cuda (gtest JSON, one per suite)
#   bench.jsonl           trm bench train|infer for sudoku-mlp (batch 768), maze-att (64), hrm-sudoku
#   infer.jsonl           the 20k-puzzle Sudoku-Extreme sample, 16 steps and adaptive halting
#   train/metrics.jsonl   sudoku-mlp on the real Sudoku-Extreme 1k build for the minutes left
#   summary.json          what ran, what failed, the wall times
#
# Usage: scripts/gpu-check.sh [TOTAL_MINUTES=9]
#   TRM_BUILD=dir      an existing CUDA build to use (default: configure and build build/cuda here)
#   TRM_SHARED_DATA=d  the benchmark data folder (sudoku-extreme-1k/, sudoku-extreme/); default ../shared/data
# Each step is bounded by `timeout`, a failing step is recorded and the script goes on, so one
# broken piece does not cost the rest of the machine time.
set -uo pipefail
cd "$(dirname "$0")/.."
total_min=${1:-9}
out=${OUT:-$PWD/gpu-check-out}
mkdir -p "$out"
start=$(date +%s)
left_s() { echo $(( total_min * 60 - ($(date +%s) - start) )); }
declare -a ran=() failed=()
step() {  # step NAME SECONDS command...: runs it bounded, logs to $out/NAME.log
  local name=$1 secs=$2; shift 2
  echo "=== $name (at most ${secs}s, $(left_s)s left)"
  if timeout "$secs" "$@" > "$out/$name.log" 2>&1; then ran+=("$name"); else failed+=("$name"); tail -5 "$out/$name.log"; fi
}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-8}

{ nvidia-smi; nvidia-smi --query-gpu=name,memory.total,clocks.max.sm --format=csv; } > "$out/device.txt" 2>&1

# ---- build --------------------------------------------------------------------------------------
build=${TRM_BUILD:-build/cuda}
if [[ ! -x $build/trm ]]; then
  step build 400 bash -c "cmake -S . -B '$build' -G Ninja -DCMAKE_BUILD_TYPE=Release -DTRM_CUDA=ON -DTRM_PYTHON=OFF \
    -DCMAKE_CUDA_ARCHITECTURES=90 && cmake --build '$build' -j 16"
fi
trm=$build/trm
[[ -x $trm ]] || { echo "gpu-check: no trm binary in $build" >&2; exit 1; }
"$trm" info --system >> "$out/device.txt" 2>&1

# ---- tests on the device ------------------------------------------------------------------------
t=$build/tests
step ops 120 "$t/test_backend_ops" --gtest_filter='*cuda*:BackendRegistry.*' --gtest_output=json:"$out/tests_ops.json"
step parity 180 env TRM_TEST_BACKEND=cuda "$t/test_parity" --gtest_output=json:"$out/tests_parity.json"
step hrm_parity 120 env TRM_TEST_BACKEND=cuda "$t/test_hrm" --gtest_filter='HrmParity.*' \
  --gtest_output=json:"$out/tests_hrm_parity.json"
step learn_bf16 180 env TRM_TEST_BACKEND=cuda "$t/test_precision" --gtest_filter='PrecisionTraining.Bf16Tiny*' \
  --gtest_output=json:"$out/tests_learn_bf16.json"
# Two ranks on this one GPU (NCCL refuses two ranks on one device, so their gradients go through
# the host: TRM_NCCL=0); needs Open MPI in the image.
if command -v mpirun > /dev/null; then
  step mpi_two_ranks 240 bash -c "cd '$out' && '$trm' data generate sudoku --n 4 --train 200 --test 40 --seed 1 --out s4 && \
    OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 TRM_NCCL=0 mpirun -np 2 --oversubscribe \
    '$trm' train tiny-sudoku-mlp --data s4 --out mpi2 --quiet --batch 16 --max-steps 20 --backend cuda"
fi

# ---- benchmarks ---------------------------------------------------------------------------------
bench() {  # preset mode batch precision
  timeout 120 "$trm" bench "$2" "$1" --batch "$3" --iterations 10 --warmup 3 --backend cuda --precision "$4" \
    --no-sgemm 2>>"$out/bench.log" | tail -n 1 >> "$out/bench.jsonl"
}
for p in bf16 fp32; do
  bench sudoku-mlp train 768 $p; bench sudoku-mlp infer 768 $p
  bench maze-att train 64 $p; bench maze-att infer 64 $p
  bench hrm-sudoku train 768 $p
done

# ---- real data: Sudoku-Extreme ------------------------------------------------------------------
data=${TRM_SHARED_DATA:-../shared/data}
if [[ -f $data/sudoku-extreme-1k/train.csv ]]; then
  step build_data 300 "$trm" data build sudoku --train-csv "$data/sudoku-extreme-1k/train.csv" \
    --test-csv "$data/sudoku-extreme-1k/test_hard.csv" --num-aug 1000 --out "$out/../sudoku-1k-aug"
  # Inference speed: the test sample with the reference's 16 steps, then adaptive halting, on an
  # untrained sudoku-mlp (the speed does not depend on the weights; accuracy is in train/ below).
  "$trm" train sudoku-mlp --data "$out/../sudoku-1k-aug" --out "$out/../init" --max-steps 1 --quiet \
    --backend cuda --precision bf16 > /dev/null 2>&1
  for h in reference adaptive; do
    /usr/bin/time -f '{"wall_s":%e}' -a -o "$out/infer.jsonl" timeout 120 "$trm" eval \
      --checkpoint "$out/../init/final.safetensors" --data "$out/../sudoku-1k-aug" --examples 20000 \
      --batch 2048 --halting $h --backend cuda --precision bf16 >> "$out/infer.jsonl" 2>>"$out/infer.log" \
      || failed+=("infer_$h")
  done
  mins=$(( ($(left_s) - 60) / 60 ))
  if (( mins >= 1 )); then
    step train $(( mins * 60 + 90 )) "$trm" train sudoku-mlp --data "$out/../sudoku-1k-aug" --out "$out/train" \
      --backend cuda --precision bf16 --time-budget "$mins" --eval-examples 1000 --log-every 20
  fi
else
  echo "gpu-check: no $data/sudoku-extreme-1k: skipping the real-data steps" | tee -a "$out/summary.log"
fi

printf '{"ran": [%s], "failed": [%s], "wall_s": %d}\n' \
  "$(printf '"%s",' "${ran[@]}" | sed 's/,$//')" "$(printf '"%s",' "${failed[@]}" | sed 's/,$//')" \
  $(( $(date +%s) - start )) > "$out/summary.json"
cat "$out/summary.json"
(( ${#failed[@]} == 0 ))
