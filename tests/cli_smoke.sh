#!/usr/bin/env bash
# End-to-end smoke test of the trm command line on tiny data made here: every user-facing command
# runs, writes what it promises, and refuses bad input with exit status 2. Registered with ctest
# as cli_smoke; usage: tests/cli_smoke.sh path/to/trm
set -euo pipefail
trm=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
name=cli_smoke
source "$(dirname "$0")/sh_util.sh"
# Sudoku: generate, train a few steps, evaluate, solve, report, bench.
$trm data generate sudoku --n 4 --train 200 --test 40 --seed 1 --out "$work/s4" > /dev/null
$trm train tiny-sudoku-mlp hidden_size=32 puzzle_emb_ndim=32 --data "$work/s4" --out "$work/run" --no-resume \
  --quiet --batch 16 --max-steps 6 --eval-examples 16 > /dev/null
[[ -f $work/run/final.safetensors && -f $work/run/checkpoint.safetensors ]] || fail "train wrote no checkpoints"
n=$($trm eval --checkpoint "$work/run/final.safetensors" --data "$work/s4" --examples 8 2>/dev/null | json_num n)
[[ $n == 8 ]] || fail "eval evaluated $n examples, expected 8"
# An untrained model may fail to solve it: status 1 and a "not solved" line, not a crash.
set +e
out=$($trm solve --checkpoint "$work/run/final.safetensors" '...14.3.3.......' 2>&1)
rc=$?
set -e
[[ $rc == 0 || ( $rc == 1 && $out == *"not solved (unverified)"* ) ]] || fail "solve exited $rc: $out"
[[ $out == *"confidence 0."* ]] || fail "solve shows no confidence: $out"
# --steps prints each step's grid once, and the final grid is the last step's (not printed again).
out=$($trm solve --checkpoint "$work/run/final.safetensors" '...14.3.3.......' --steps 2>&1) || true
steps=$(grep -c '^step ' <<< "$out" || true)
grids=$(grep -cE '^[0-9.?] [0-9.?] [0-9.?] [0-9.?]$' <<< "$out" || true)
[[ $steps -ge 1 && $grids == $((4 * steps)) ]] || fail "solve --steps printed $grids grid rows for $steps steps: $out"
# Test-time sampling: 4 trajectories, one JSON object naming the rule and the check.
out=$($trm solve --checkpoint "$work/run/final.safetensors" '...14.3.3.......' --samples 4 --noise 0.3 --json 2>&1) || true
[[ $out == *'"samples":4'* && $out == *'"check":'* ]] || fail "solve --samples printed: $out"
# Givens that cannot be completed are the puzzle's fault, not the model's: status 2, nothing run.
expect_status 2 "this puzzle is invalid / has no solution: the givens admit no solution" \
  $trm solve --checkpoint "$work/run/final.safetensors" '1..4.3....2.4..1'
expect_status 2 "--samples must be >= 1" $trm solve --checkpoint "$work/run/final.safetensors" '...14.3.3.......' --samples 0
expect_status 2 "--noise must be" $trm solve --checkpoint "$work/run/final.safetensors" '...14.3.3.......' --noise -1
expect_status 2 "--select must be" $trm eval --checkpoint "$work/run/final.safetensors" --data "$work/s4" --select best
# predict: a dataset split and a text file, one JSON line per puzzle, written atomically.
$trm predict --checkpoint "$work/run/final.safetensors" --data "$work/s4" --max 5 --out "$work/pred.jsonl" > "$work/pred.json" 2>/dev/null
[[ $(wc -l < "$work/pred.jsonl") == 5 ]] || fail "predict wrote $(wc -l < "$work/pred.jsonl") lines, expected 5"
grep -q '"correct":' "$work/pred.jsonl" && grep -q '"confidence":' "$work/pred.jsonl" || fail "predict lines lack fields"
printf '...14.3.3.......\n\n1..4.3....2.4..1\n' > "$work/puzzles.txt"
$trm predict --checkpoint "$work/run/final.safetensors" --data "$work/puzzles.txt" --samples 2 --out "$work/pred2.jsonl" > /dev/null 2>&1
[[ $(wc -l < "$work/pred2.jsonl") == 2 ]] && grep -q 'invalid / has no solution' "$work/pred2.jsonl" || fail "predict on a file"
printf '...14.3.3.......\n..x.\n' > "$work/badpuzzles.txt"
expect_status 2 "badpuzzles.txt:2" $trm predict --checkpoint "$work/run/final.safetensors" --data "$work/badpuzzles.txt" --out "$work/pred3.jsonl"
[[ ! -e $work/pred3.jsonl ]] || fail "a refused predict wrote its output"
$trm report --entry "TRM-MLP,sudoku,$work/run/final.safetensors,$work/s4" --examples 8 --json "$work/report.json" \
  > "$work/report.md" 2>/dev/null
grep -q '^| TRM-MLP |' "$work/report.md" || fail "report has no TRM-MLP row"
grep -q '"percent"' "$work/report.json" || fail "report JSON has no result"
ms=$($trm bench infer tiny-sudoku-mlp seq_len=16 vocab_size=6 halt_max_steps=2 --batch 2 --iterations 1 --no-sgemm \
  | json_num ms_per_step)
[[ -n $ms ]] || fail "bench printed no ms_per_step"
# Precisions (docs/PRECISION.md): eval and bench in int8/bf16, an int8 file from trm quantize.
n=$($trm eval --precision int8 --checkpoint "$work/run/final.safetensors" --data "$work/s4" --examples 8 2>/dev/null | json_num n)
[[ $n == 8 ]] || fail "eval --precision int8 evaluated $n examples, expected 8"
$trm bench infer tiny-sudoku-mlp seq_len=16 vocab_size=6 halt_max_steps=2 --batch 2 --iterations 1 --no-sgemm \
  --precision bf16 2>/dev/null | grep '"precision":"bf16"' > /dev/null || fail "bench JSON lacks precision bf16"
$trm quantize "$work/run/final.safetensors" --out "$work/model-int8.safetensors" 2>/dev/null
(( $(stat -c %s "$work/model-int8.safetensors") < $(stat -c %s "$work/run/final.safetensors") )) || fail "quantize wrote no smaller file"
n=$($trm eval --checkpoint "$work/model-int8.safetensors" --data "$work/s4" --examples 8 2>/dev/null | json_num n)
[[ $n == 8 ]] || fail "eval of the int8 file evaluated $n examples, expected 8"

# ARC: a tiny task directory, build, train briefly, evaluate with voting, solve a new task.
mkdir -p "$work/tasks"
cat > "$work/tasks/recolor.json" <<'JSON'
{"train": [{"input": [[1,0],[0,1]], "output": [[2,0],[0,2]]}, {"input": [[1,1],[0,0]], "output": [[2,2],[0,0]]}],
 "test": [{"input": [[0,1],[1,1]], "output": [[0,2],[2,2]]}]}
JSON
cat > "$work/tasks/flip.json" <<'JSON'
{"train": [{"input": [[3,0,0]], "output": [[0,0,3]]}, {"input": [[4,5,0]], "output": [[0,5,4]]}],
 "test": [{"input": [[0,6,7]], "output": [[7,6,0]]}]}
JSON
$trm data build arc --source "$work" --subsets tasks --test-set tasks --aug 3 --seed 0 --out "$work/arc" > /dev/null
[[ -f $work/arc/test_puzzles.json && -f $work/arc/identifiers.json ]] || fail "arc build wrote no test_puzzles.json"
$trm train arc1-att hidden_size=16 num_heads=2 puzzle_emb_ndim=16 H_cycles=1 L_cycles=1 halt_max_steps=2 \
  --data "$work/arc" --out "$work/arcrun" --no-resume --quiet --batch 4 --max-steps 2 --eval-examples 4 > /dev/null
$trm arc eval --checkpoint "$work/arcrun/final.safetensors" --data "$work/arc" --out "$work/arceval" > /dev/null 2>&1
[[ -f $work/arceval/submission.json ]] || fail "arc eval wrote no submission.json"
$trm arc solve --checkpoint "$work/arcrun/final.safetensors" --task "$work/tasks/flip.json" --steps 2 --aug 2 \
  --out "$work/solve" > /dev/null 2>&1
[[ -f $work/solve/submission.json && -f $work/solve/predictions.json ]] || fail "arc solve wrote no predictions"

# Bad input: exit status 2 and a message naming the file.
echo '{"train": [{"input": [[1,2],[3]], "output": [[1]]}], "test": []}' > "$work/bad.json"
set +e
msg=$($trm arc solve --checkpoint "$work/arcrun/final.safetensors" --task "$work/bad.json" --out "$work/x" 2>&1)
rc=$?
set -e
[[ $rc == 2 ]] || fail "a ragged grid gave exit status $rc, expected 2"
[[ $msg == *bad.json* ]] || fail "the error does not name the file: $msg"
set +e
$trm eval --checkpoint "$work/s4/dataset.json" --data "$work/s4" > /dev/null 2>&1
rc=$?
set -e
[[ $rc == 2 ]] || fail "a non-checkpoint gave exit status $rc, expected 2"
# An unknown backend: exit status 2 and the list of the available ones.
set +e
msg=$($trm eval --backend tpu --checkpoint "$work/run/final.safetensors" --data "$work/s4" 2>&1)
rc=$?
set -e
[[ $rc == 2 ]] || fail "an unknown backend gave exit status $rc, expected 2"
[[ $msg == *"available: cpu"* ]] || fail "the error does not list the available backends: $msg"

# Runs and files (docs/RELIABILITY.md): every failure below is a clear message with exit status 2
# (3 for a numerical fault), found before the work starts, never an uncaught exception.
train_s4() { $trm train tiny-sudoku-mlp hidden_size=32 puzzle_emb_ndim=32 --data "$work/s4" --quiet --batch 16 "$@"; }
echo x > "$work/afile"
expect_status 2 "--log-every" train_s4 --out "$work/r0" --max-steps 2 --log-every 0
expect_status 2 "--checkpoint-every" train_s4 --out "$work/r0" --max-steps 2 --checkpoint-every -1
expect_status 2 "$work/afile/run: cannot create the output directory" train_s4 --out "$work/afile/run" --max-steps 2
expect_status 2 "$work/afile/x: cannot create the output directory" \
  $trm arc solve --checkpoint "$work/arcrun/final.safetensors" --task "$work/tasks/flip.json" --steps 2 --out "$work/afile/x"
expect_status 2 "$work/afile/e: cannot create the output directory" \
  $trm arc eval --checkpoint "$work/arcrun/final.safetensors" --data "$work/arc" --out "$work/afile/e"
expect_status 2 "$work/afile/r.json" $trm report --entry "TRM-MLP,sudoku,$work/run/final.safetensors,$work/s4" --json "$work/afile/r.json"
[[ $msg != *"report:   exact"* ]] || fail "report evaluated before finding that it cannot write its JSON"
# A full disk under the metrics, and under stdout.
mkdir -p "$work/full" && ln -s /dev/full "$work/full/metrics.jsonl"
expect_status 2 "$work/full/metrics.jsonl: write failed (No space left on device)" train_s4 --out "$work/full" --max-steps 2
set +e
$trm eval --checkpoint "$work/run/final.safetensors" --data "$work/s4" --examples 4 > /dev/full 2> "$work/err"
rc=$?
set -e
[[ $rc == 2 ]] && grep -q "standard output: write failed" "$work/err" || fail "eval into /dev/full exited $rc: $(cat "$work/err")"
# Two trainings into one --out: the second is refused while the first runs, naming its pid.
$trm train tiny-sudoku-mlp hidden_size=32 puzzle_emb_ndim=32 --data "$work/s4" --quiet --batch 16 --out "$work/busy" \
  --max-steps 100000 > /dev/null 2>&1 &
first=$!
for _ in $(seq 100); do grep -q '"pid"' "$work/busy/.lock" 2>/dev/null && break; sleep 0.1; done
expect_status 2 "run directory $work/busy is in use by pid $first on" train_s4 --out "$work/busy" --max-steps 100000
kill -TERM "$first"
wait "$first" || true
# A stale lock file (no holder) and a stale temporary file of a killed save do not block.
expect_status 0 "left by an interrupted save" bash -c "echo junk > '$work/busy/checkpoint.safetensors.tmp'; \
  $trm train tiny-sudoku-mlp hidden_size=32 puzzle_emb_ndim=32 --data '$work/s4' --quiet --batch 16 --out '$work/busy' --max-steps 2 --no-resume"
[[ ! -e $work/busy/checkpoint.safetensors.tmp ]] || fail "the stale temporary file is still there"
# Divergence (lr = 1000): status 3, the message names the step, no final model.
expect_status 3 "non-finite" train_s4 --out "$work/nan" --max-steps 60 --checkpoint-every 1 lr=1000 lr_warmup_steps=0
[[ $msg == *"training stopped at step"* && ! -e $work/nan/final.safetensors ]] || fail "divergence: $msg"
expect_status 3 "All 2 allowed skips" train_s4 --out "$work/nan2" --max-steps 60 --skip-nonfinite 2 lr=1000 lr_warmup_steps=0
# A checkpoint whose every weight is NaN (0xff bytes over the tensor data) is refused when it is
# read (status 2, the tensor named); one whose weights are finite but huge (0x7e bytes: 8.5e37
# each) overflows inside the model, and eval says so with status 3 instead of accuracy figures
# that look fine.
overwrite_tensor_bytes() {  # file byte
  local hdr size
  hdr=$(od -An -t u8 -N 8 "$1" | tr -d ' ')
  size=$(stat -c %s "$1")
  head -c $((size - 8 - hdr)) /dev/zero | tr '\0' "$2" | dd of="$1" bs=1M seek=$((8 + hdr)) \
    oflag=seek_bytes conv=notrunc status=none
}
cp "$work/run/final.safetensors" "$work/nanmodel.safetensors"
overwrite_tensor_bytes "$work/nanmodel.safetensors" '\377'
expect_status 2 "non-finite values" $trm eval --checkpoint "$work/nanmodel.safetensors" --data "$work/s4" --examples 8
cp "$work/run/final.safetensors" "$work/hugemodel.safetensors"
overwrite_tensor_bytes "$work/hugemodel.safetensors" '\176'
expect_status 3 "non-finite (NaN/Inf) on 8 of 8 examples" $trm eval --checkpoint "$work/hugemodel.safetensors" --data "$work/s4" --examples 8
# Dataset output: a non-empty directory that holds no dataset is refused (--force writes anyway);
# a directory holding a dataset is rebuilt in place.
mkdir -p "$work/notes" && echo x > "$work/notes/readme.txt"
expect_status 2 "not empty (readme.txt) and holds no trm dataset" \
  $trm data generate sudoku --n 4 --train 20 --test 5 --out "$work/notes"
expect_status 0 "" $trm data generate sudoku --n 4 --train 20 --test 5 --out "$work/notes" --force
expect_status 0 "replacing the dataset" $trm data generate sudoku --n 4 --train 20 --test 5 --out "$work/notes"
expect_status 2 "$work/afile/d: cannot create the output directory" $trm data generate maze --side 7 --min-path 5 \
  --train 5 --test 2 --out "$work/afile/d"
# Sizes (docs/RELIABILITY.md): absurd configs and batches are refused before anything is written,
# and a run that cannot fit in memory says what it needs.
expect_status 2 "L_cycles must be in [1, 256]" $trm train tiny-sudoku-mlp L_cycles=100000 --data "$work/s4" --out "$work/big1"
expect_status 2 "halt_max_steps must be in [1, 1024]" $trm info tiny-sudoku-mlp halt_max_steps=1000000000
expect_status 2 "weight_decay must be finite and >= 0" $trm train tiny-sudoku-mlp weight_decay=-1000 --data "$work/s4" --out "$work/big2"
expect_status 2 "needs" env TRM_MEMORY_LIMIT=1M $trm train tiny-sudoku-mlp --data "$work/s4" --out "$work/big3"
expect_status 2 'unknown precision "fp16"' $trm eval --precision fp16 --checkpoint "$work/run/final.safetensors" --data "$work/s4"
expect_status 2 "int8 is for inference only" train_s4 --out "$work/big4" --precision int8 --max-steps 2
expect_status 2 "is already an int8 file" $trm quantize "$work/model-int8.safetensors" --out "$work/q2.safetensors"
for d in big1 big2 big3 big4; do [[ ! -e "$work/$d" ]] || fail "a refused run wrote $work/$d"; done
$trm info sudoku-att --batch 768 | grep '"training_bytes"' > /dev/null || fail "info prints no memory estimate"
# A newcomer's first hour (issue 17).
# --version; the cost before training: --dry-run prints it (text and JSON) and writes nothing.
$trm --version | grep '^trm [0-9]' > /dev/null || fail "--version printed no version"
out=$($trm train tiny-sudoku-mlp --data "$work/s4" --out "$work/dry" --max-steps 50 --batch 16 --dry-run)
[[ $out == *"FLOP per step"* && $out == *"memory:"* && $out == *"ETA:"* ]] || fail "dry run: $out"
[[ ! -e $work/dry ]] || fail "--dry-run created the run directory"
$trm train tiny-sudoku-mlp --data "$work/s4" --out "$work/dry" --max-steps 50 --batch 16 --dry-run --json \
  | grep '"est_step_seconds"' > /dev/null || fail "dry run JSON has no step estimate"
out=$($trm train sudoku-mlp --data "$work/s4" --out "$work/dry" --dry-run)
[[ $out == *"GPU-scale"* ]] || fail "the paper-size preset is not marked GPU-scale: $out"
[[ ! -e $work/dry ]] || fail "--dry-run created the run directory"
# The banner and the first step's progress line come at once; no halted slot prints '-', and the
# learning rate shows during warm-up.
err=$($trm train tiny-sudoku-mlp hidden_size=32 puzzle_emb_ndim=32 --data "$work/s4" --out "$work/first" --batch 16 \
  --max-steps 3 --log-every 100 --eval-examples 8 2>&1 >/dev/null)
[[ $err == *"FLOP per step"* ]] || fail "no startup banner: $err"
[[ $err == *"step 1/3"*"(first step"* ]] || fail "the first step was not shown: $err"
[[ $err == *"exact -"* ]] || fail "a window without halted slots printed a number: $err"
[[ $err == *"(warm-up)"* ]] || fail "no learning rate during warm-up: $err"
# info: a final model trained with an EMA holds EMA weights.
$trm info --checkpoint "$work/first/final.safetensors" | grep '"has_ema": true' > /dev/null || fail "info: final.safetensors has_ema is not true"
# --stop-after says which file to evaluate; Ctrl-C (SIGINT) exits 130 with the same advice.
expect_status 0 "trm eval --checkpoint $work/stop/checkpoint.safetensors" train_s4 --out "$work/stop" --max-steps 50 --stop-after 2
$trm train tiny-sudoku-mlp hidden_size=32 puzzle_emb_ndim=32 --data "$work/s4" --quiet --batch 16 --out "$work/int" \
  --max-steps 100000 > /dev/null 2> "$work/int.err" &
pid=$!
for _ in $(seq 200); do [[ -s $work/int/metrics.jsonl ]] && break; sleep 0.1; done
kill -INT "$pid"
set +e
wait "$pid"
rc=$?
set -e
[[ $rc == 130 ]] || fail "SIGINT: exit status $rc, expected 130: $(cat "$work/int.err")"
grep -q "interrupted" "$work/int.err" && grep -q "trm eval --checkpoint" "$work/int.err" || fail "SIGINT: $(cat "$work/int.err")"
# data download offline does not suggest an option that does not exist.
expect_status 2 "" env PATH=/nonexistent $trm data download sudoku-extreme-1k --out "$work/dl"
[[ $msg != *"--data <dir>"* ]] || fail "download suggests --data: $msg"
# report labels the benchmark from the data: a 4x4 Sudoku run is not Sudoku-Extreme.
grep -q "4x4 Sudoku" "$work/report.md" || fail "report does not say the data is 4x4 Sudoku"

# Your own puzzle type: a grid task from JSONL, trained, shown and solved without the data dir.
if command -v python3 > /dev/null; then
  python3 "$(dirname "$0")/../scripts/make_ca_task.py" --out "$work/ca-raw" --train 64 --test 8 --length 8 > /dev/null
else  # the same kind of rows without python: input and output of 8 cells over '.' and '#'
  mkdir -p "$work/ca-raw"
  for i in $(seq 0 63); do
    row="" out=""
    for b in 0 1 2 3 4 5 6 7; do
      if (( (i * 37 >> b) & 1 )); then row+="#"; out="#$out"; else row+="."; out=".$out"; fi
    done
    printf '{"input": "%s", "output": "%s"}\n' "$row" "$out"
  done > "$work/ca-raw/train.jsonl"
  head -n 8 "$work/ca-raw/train.jsonl" > "$work/ca-raw/test.jsonl"
fi
$trm data build grid --train "$work/ca-raw/train.jsonl" --test "$work/ca-raw/test.jsonl" --out "$work/ca" > /dev/null
grep -q '"grid"' "$work/ca/train/dataset.json" || fail "the grid dataset.json has no grid entry"
[[ $($trm data show "$work/ca" | tr -d '\n' | wc -c) == 8 ]] || fail "data show of the grid task: $($trm data show "$work/ca")"
$trm train tiny-grid --data "$work/ca" --out "$work/carun" --quiet --batch 16 --max-steps 2 --eval-examples 8 > /dev/null
mv "$work/ca" "$work/ca-moved"  # solve needs only the checkpoint
out=$($trm solve --checkpoint "$work/carun/final.safetensors" '.#..##.#' 2>&1)
[[ $out == *"no checker for this task"* ]] || fail "grid solve: $out"
expect_status 2 "is not in the task's alphabet" $trm solve --checkpoint "$work/carun/final.safetensors" '.#..x#.#'
printf 'input,output\nab,ba\nabc,cba\n' > "$work/ragged.csv"
expect_status 2 "ragged.csv:3: 3 symbols" $trm data build grid --train "$work/ragged.csv" --test "$work/ragged.csv" --out "$work/rg"
[[ ! -e $work/rg ]] || fail "a refused grid build left $work/rg"
# Mazes are drawn with a border.
$trm data generate maze --side 7 --min-path 5 --train 5 --test 2 --out "$work/m7" > /dev/null
$trm data show "$work/m7" | sed -n 1p | grep '^+-------+$' > /dev/null || fail "maze drawn without a border: $($trm data show "$work/m7")"
# arc solve draws its answer.
$trm arc solve --checkpoint "$work/arcrun/final.safetensors" --task "$work/tasks/flip.json" --steps 2 --aug 2 \
  --out "$work/solve2" 2> "$work/arcsolve.err" | grep "attempt 1" > /dev/null || fail "arc solve drew no grid"
grep -q "test-time training 2/2" "$work/arcsolve.err" || fail "arc solve showed no progress: $(cat "$work/arcsolve.err")"
grep -q '\[\]' "$work/solve2/submission.json" && fail "submission.json holds an empty grid"
# arc eval --examples selects whole tasks and says what pass@k is averaged over.
expect_status 0 "pass@k is averaged over those 1" $trm arc eval --checkpoint "$work/arcrun/final.safetensors" --data "$work/arc" \
  --examples 1 --out "$work/arceval1"
grep -q '"tasks_evaluated":1' "$work/arceval1/results.json" || fail "arc eval --examples 1: $(cat "$work/arceval1/results.json")"
# bash completion sources and completes subcommands.
bash -c "source '$(dirname "$0")/../scripts/completion/trm.bash'
  COMP_WORDS=(trm da); COMP_CWORD=1; _trm; [[ \${COMPREPLY[*]} == data ]] || exit 1
  COMP_WORDS=(trm data build g); COMP_CWORD=3; _trm; [[ \${COMPREPLY[*]} == grid ]] || exit 1
  COMP_WORDS=(trm train --dry); COMP_CWORD=2; _trm; [[ \${COMPREPLY[*]} == --dry-run ]] || exit 1" \
  || fail "bash completion does not complete subcommands"
# The machine as trm sees it (docs/LIBRARY.md "Portable builds"), and a bad kernel-level override.
$trm info --system | grep '"kernel_level"' > /dev/null || fail "info --system prints no kernel level"
expect_status 2 "TRM_CPU_KERNELS=bogus: not a kernel level of this build" env TRM_CPU_KERNELS=bogus $trm info --system
echo "cli_smoke: ok"
