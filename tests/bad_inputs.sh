#!/usr/bin/env bash
# Feeds every file of the bad-input corpus (tests/bad_inputs/, see make.py there) to the trm command
# that reads it, and checks each is refused cleanly: exit status 2, a "trm: error:" message naming
# the file, and nothing written to the command's output directory. Registered with ctest as
# bad_inputs; usage: tests/bad_inputs.sh path/to/trm path/to/tests/bad_inputs
set -euo pipefail
trm=$1
corpus=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "bad_inputs: FAIL: $*" >&2; exit 1; }
cases=0

# refused NEEDLE OUTDIR -- COMMAND...: COMMAND must exit 2 with "trm: error:" and NEEDLE in its
# output, and leave OUTDIR ("" = none) absent or empty.
refused() {
  local needle=$1 outdir=$2
  shift 3
  local msg rc
  set +e
  msg=$("$@" 2>&1 < /dev/null)
  rc=$?
  set -e
  [[ $rc == 2 ]] || fail "exit status $rc (expected 2) from: $* -- $msg"
  [[ $msg == *"trm: error:"* ]] || fail "no 'trm: error:' line from: $* -- $msg"
  [[ $msg == *"$needle"* ]] || fail "the message does not name '$needle': $msg"
  if [[ -n $outdir && -e $outdir && -n $(ls -A "$outdir") ]]; then fail "wrote into $outdir: $*"; fi
  cases=$((cases + 1))
}

# A 4x4 Sudoku dataset and a model trained on it for one step.
$trm data generate sudoku --n 4 --train 8 --test 4 --seed 0 --out "$work/s4" > /dev/null
$trm train tiny-sudoku-mlp hidden_size=16 num_heads=2 puzzle_emb_ndim=16 --data "$work/s4" --out "$work/run" \
  --no-resume --quiet --batch 4 --max-steps 1 --eval-examples 4 > /dev/null
ckpt=$work/run/final.safetensors
[[ -f $ckpt ]] || fail "training wrote no checkpoint"

# ---- safetensors headers: trm info and trm solve read them.
for f in "$corpus"/safetensors/*.safetensors; do
  refused "$f" "" -- $trm info --checkpoint "$f"
  refused "$f" "" -- $trm solve --checkpoint "$f" '1..4..1.2..3.3.1'
done
# A checkpoint whose last tensor (L_init, 4 bytes at the end of the file) holds a NaN.
cp "$ckpt" "$work/nan.safetensors"
printf '\x00\x00\xc0\x7f' | dd of="$work/nan.safetensors" bs=1 seek=$(($(stat -c %s "$ckpt") - 4)) conv=notrunc 2> /dev/null
refused 'tensor "L_init" holds 1 non-finite value' "" -- $trm solve --checkpoint "$work/nan.safetensors" '1..4..1.2..3.3.1'
refused "$work/nan.safetensors" "$work/nan_eval" -- $trm eval --checkpoint "$work/nan.safetensors" --data "$work/s4"

# ---- dataset arrays and dataset.json: a copy of the dataset with one file replaced, read by
# trm data show and by trm train.
replace_and_read() {  # FILE SPLIT TARGET_NAME NEEDLE...
  local f=$1 split=$2 target=$3
  shift 3
  local d="$work/case"
  rm -rf "$d" "$work/case_run"
  cp -r "$work/s4" "$d"
  cp "$f" "$d/$split/$target"
  for needle in "$@"; do
    refused "$needle" "" -- $trm data show "$d" --split "$split"
  done
  refused "$d/$split/$target" "$work/case_run" -- $trm train tiny-sudoku-mlp hidden_size=16 num_heads=2 \
    puzzle_emb_ndim=16 --data "$d" --out "$work/case_run" --no-resume --quiet --batch 4 --max-steps 1
}
for f in "$corpus"/npy/*.npy; do
  name=$(basename "$f" .npy)
  replace_and_read "$f" train "all__${name%%--*}.npy" "$work/case/train/all__${name%%--*}.npy"
done
for f in "$corpus"/dataset_json/*.json; do
  name=$(basename "$f" .json)
  split=${name%%--*}
  if [[ $split == train ]]; then
    replace_and_read "$f" train dataset.json "$work/case/train/dataset.json"
  else  # must name both the test file and the train file it disagrees with
    replace_and_read "$f" "$split" dataset.json "$work/case/$split/dataset.json" "$work/case/train/dataset.json"
  fi
done

# ---- puzzle CSVs: trm data build sudoku|maze.
printf 'source,question,answer,rating\n,1..4..1.2..3.3.1,1234341221434321,0\n' > "$work/good_sudoku.csv"
printf 'source,question,answer,rating\n,S    ####       ####    G,Soooo####ooooooo####ooooG,19\n' > "$work/good_maze.csv"
$trm data build sudoku --train-csv "$work/good_sudoku.csv" --test-csv "$work/good_sudoku.csv" --num-aug 0 \
  --out "$work/ok_sudoku" > /dev/null || fail "the good Sudoku CSV does not build"
$trm data build maze --train-csv "$work/good_maze.csv" --test-csv "$work/good_maze.csv" --out "$work/ok_maze" > /dev/null \
  || fail "the good maze CSV does not build"
for f in "$corpus"/csv/*.csv; do
  name=$(basename "$f" .csv)
  kind=${name%%--*}
  refused "$f" "$work/csv_out" -- $trm data build "$kind" --train-csv "$f" --test-csv "$work/good_$kind.csv" \
    --out "$work/csv_out"
done

# ---- ARC task files: trm data build arc over a subset holding only the bad file.
for f in "$corpus"/arc_task/*.json; do
  src="$work/arc_src/$(basename "$f" .json)"
  mkdir -p "$src/x"
  cp "$f" "$src/x/"
  refused "$src/x/$(basename "$f")" "$work/arc_out" -- $trm data build arc --source "$src" --subsets x --test-set x \
    --aug 0 --out "$work/arc_out"
done

# ---- trm solve input: files, a directory, stdin, and text that does not fit the model.
for f in "$corpus"/solve/*.txt; do
  refused "$f" "" -- $trm solve --checkpoint "$ckpt" --file "$f"
done
refused "$work: is a directory" "" -- $trm solve --checkpoint "$ckpt" --file "$work"
refused "$work/missing.txt: cannot open" "" -- $trm solve --checkpoint "$ckpt" --file "$work/missing.txt"
refused "stdin: empty puzzle" "" -- $trm solve --checkpoint "$ckpt" -
refused "either as an argument or with --file" "" -- $trm solve --checkpoint "$ckpt" --file "$corpus/solve/empty.txt" 1..4
refused "invalid character '-' at line 1, column 1" "" -- $trm solve --checkpoint "$ckpt" -- '-1..4..1.2..3.3.1'
refused "takes a 4x4 Sudoku (16 cells)" "" -- $trm solve --checkpoint "$ckpt" '  S # # # #G     '
echo "bad_inputs: ok ($cases refusals checked)"
