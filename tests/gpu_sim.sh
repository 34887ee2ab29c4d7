#!/usr/bin/env bash
# The GPU backend's code end to end without a GPU: train, evaluate, solve and bench on cuda-sim
# (the CUDA backend's logic and kernels run on the host, with device-memory rules), compared with
# the CPU backend; checkpoints cross between the two; `--backend cuda` without a device is a clear
# error. Registered with ctest as gpu_sim; usage: tests/gpu_sim.sh path/to/trm
set -euo pipefail
trm=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
name=gpu_sim
source "$(dirname "$0")/sh_util.sh"
# |a - b| <= tol
close() { awk -v a="$1" -v b="$2" -v t="$3" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= t) }'; }

$trm data generate sudoku --n 4 --train 200 --test 40 --seed 1 --out "$work/s4" > /dev/null
for be in cpu cuda-sim; do
  $trm train tiny-sudoku-mlp hidden_size=32 puzzle_emb_ndim=32 --data "$work/s4" --out "$work/run-$be" --no-resume \
    --quiet --batch 16 --max-steps 8 --eval-examples 16 --backend $be > /dev/null
  [[ -f $work/run-$be/final.safetensors ]] || fail "train on $be wrote no checkpoint"
done
# The same 8 optimizer steps from the same seed: the training losses agree to float rounding.
loss_cpu=$(grep '"lm_loss"' "$work/run-cpu/metrics.jsonl" | grep -v '"type":"eval"' | json_num lm_loss)
loss_sim=$(grep '"lm_loss"' "$work/run-cuda-sim/metrics.jsonl" | grep -v '"type":"eval"' | json_num lm_loss)
[[ -n $loss_cpu && -n $loss_sim ]] || fail "no training loss in metrics.jsonl"
close "$loss_cpu" "$loss_sim" 0.01 || fail "lm_loss after 8 steps: cpu $loss_cpu, cuda-sim $loss_sim"
# A checkpoint written by either backend evaluates on both, with the same accuracy.
for run in cpu cuda-sim; do
  a=$($trm eval --checkpoint "$work/run-$run/final.safetensors" --data "$work/s4" --examples 40 --backend cpu 2>/dev/null | json_num cell_accuracy)
  b=$($trm eval --checkpoint "$work/run-$run/final.safetensors" --data "$work/s4" --examples 40 --backend cuda-sim 2>/dev/null | json_num cell_accuracy)
  [[ -n $a && -n $b ]] || fail "eval of the $run checkpoint printed no cell_accuracy"
  # An 8-step model's logits sit near ties, where rounding (and the Debug build's) flips cells:
  # a wrong load would still look like chance, so the loss check above is the exact one.
  close "$a" "$b" 0.1 || fail "the $run checkpoint: cell accuracy $a on cpu, $b on cuda-sim"
done
# Solving on cuda-sim: an answer, with steps and confidence (an untrained model may fail: status 1).
set +e
out=$($trm solve --checkpoint "$work/run-cuda-sim/final.safetensors" '...14.3.3.......' --backend cuda-sim --json 2>&1)
rc=$?
set -e
[[ ($rc == 0 || $rc == 1) && $out == *'"confidence"'* ]] || fail "solve on cuda-sim exited $rc: $out"
# bench reports where it ran and the utilisation field (null where the peak is unknown).
out=$($trm bench train tiny-sudoku-mlp --batch 4 --iterations 1 --backend cuda-sim --no-sgemm 2>/dev/null | tail -n 1)
[[ $out == *'"backend":"cuda-sim"'* && $out == *'"device":'* && $out == *'"mfu":'* ]] || fail "bench JSON: $out"
# No device: a clear error naming the cause, exit status 2, nothing written.
if ! $trm info --system 2>/dev/null | tr -d ' \n' | grep '"available":true,"name":"cuda"' > /dev/null; then
  set +e
  msg=$($trm train tiny-sudoku-mlp --data "$work/s4" --out "$work/run-cuda" --max-steps 1 --backend cuda 2>&1)
  rc=$?
  set -e
  [[ $rc == 2 && $msg == *'backend "cuda" is not available'* ]] || fail "--backend cuda without a device exited $rc: $msg"
  [[ ! -e $work/run-cuda/final.safetensors ]] || fail "a refused run wrote a checkpoint"
fi
echo "gpu_sim: ok (lm_loss cpu $loss_cpu, cuda-sim $loss_sim)"
