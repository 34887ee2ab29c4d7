#!/usr/bin/env bash
# End-to-end smoke test of the trm command line on tiny data made here: every user-facing command
# runs, writes what it promises, and refuses bad input with exit status 2. Registered with ctest
# as cli_smoke; usage: tests/cli_smoke.sh path/to/trm
set -euo pipefail
trm=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "cli_smoke: FAIL: $*" >&2; exit 1; }
# The numeric value of "key" in the last JSON line of stdin (no python needed).
json_num() { tail -n 1 | sed -n "s/.*\"$1\": *\([-0-9.eE+]*\).*/\1/p"; }

# Sudoku: generate, train a few steps, evaluate, solve, report, bench.
$trm data generate sudoku --n 4 --train 200 --test 40 --seed 1 --out "$work/s4" > /dev/null
$trm train tiny-sudoku-mlp hidden_size=32 puzzle_emb_ndim=32 --data "$work/s4" --out "$work/run" --no-resume \
  --quiet --batch 16 --max-steps 6 --eval-examples 16 > /dev/null
[[ -f $work/run/final.safetensors && -f $work/run/checkpoint.safetensors ]] || fail "train wrote no checkpoints"
n=$($trm eval --checkpoint "$work/run/final.safetensors" --data "$work/s4" --examples 8 2>/dev/null | json_num n)
[[ $n == 8 ]] || fail "eval evaluated $n examples, expected 8"
# An untrained model may fail to solve it: status 1 and a "not solved" line, not a crash.
set +e
out=$($trm solve --checkpoint "$work/run/final.safetensors" '1..4.3....2.4..1' 2>&1)
rc=$?
set -e
[[ $rc == 0 || ( $rc == 1 && $out == *"not solved"* ) ]] || fail "solve exited $rc: $out"
$trm report --entry "TRM-MLP,sudoku,$work/run/final.safetensors,$work/s4" --examples 8 --json "$work/report.json" \
  > "$work/report.md" 2>/dev/null
grep -q '^| TRM-MLP |' "$work/report.md" || fail "report has no TRM-MLP row"
grep -q '"percent"' "$work/report.json" || fail "report JSON has no result"
ms=$($trm bench infer tiny-sudoku-mlp seq_len=16 vocab_size=6 halt_max_steps=2 --batch 2 --iterations 1 --no-sgemm \
  | json_num ms_per_step)
[[ -n $ms ]] || fail "bench printed no ms_per_step"

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
echo "cli_smoke: ok"
