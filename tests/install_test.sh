#!/usr/bin/env bash
# What a user of the installed trm gets: `cmake --install` into a temporary prefix, then
#   - the examples (examples/) configured from a fresh build directory with find_package(trm),
#     shared (trm::trm) and static (trm::trm_static), built and run;
#   - the same C program built with pkg-config;
#   - the installed Python module imported from its site-packages (when the build has one);
#   - every one of them giving the installed CLI's answers for the same checkpoint and puzzles.
#   install_test.sh BUILD_DIR SOURCE_DIR [PYTHON]
set -euo pipefail
build=$1
src=$2
python=${3:-}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix

cmake --install "$build" --prefix "$prefix" >/dev/null
trm=$prefix/bin/trm
for f in "$trm" "$prefix/include/trm/trm.h" "$prefix/lib/libtrm.a" "$prefix/lib/pkgconfig/trm.pc" \
         "$prefix/lib/cmake/trm/trmConfig.cmake"; do
  [[ -e $f ]] || { echo "install_test: $f was not installed" >&2; exit 1; }
done
ls "$prefix"/lib/libtrm.so.* >/dev/null

# A small trained model (30 steps: the answers need not be right, only identical everywhere).
"$trm" data generate sudoku --n 4 --train 300 --test 20 --seed 4 --out "$work/data" >/dev/null
"$trm" train tiny-sudoku-mlp hidden_size=32 --data "$work/data" --out "$work/run" --batch 32 --max-steps 30 \
  --eval-examples 10 --quiet >/dev/null
ckpt=$work/run/final.safetensors
puzzles=(1..43..2.1..4..1 .2..3..2..4..3.. 12....1..1....2.)

# The CLI's answers, as digit strings. Every program below solves one puzzle per call, as the CLI
# does: a barely trained model can amplify the GEMMs' different rounding at other batch sizes.
expected=""
for p in "${puzzles[@]}"; do
  json=$("$trm" solve --checkpoint "$ckpt" --halting reference --json "$p" || [[ $? == 1 ]])  # 1: not a valid solution
  sol=$(printf '%s\n' "$json" | tail -n 1 | sed -E 's/.*"solution":"([^"]*)".*/\1/' | tr -d '\\n ')
  expected+="$sol"$'\n'
done
each() {  # each PROGRAM...: runs it once per puzzle
  local p
  for p in "${puzzles[@]}"; do "$@" "$p"; done
}

check() {  # check NAME OUTPUT: the digits of each line must equal the CLI's
  local got
  got=$(printf '%s\n' "$2" | cut -d' ' -f1)
  if [[ "$got"$'\n' != "$expected" ]]; then
    echo "install_test: $1 answered" >&2; printf '%s\n' "$got" >&2
    echo "install_test: the CLI answered" >&2; printf '%s' "$expected" >&2
    exit 1
  fi
  echo "install_test: $1 agrees with the CLI"
}

cmake -S "$src/examples" -B "$work/build-examples" -G Ninja -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$work/build-examples" >/dev/null
check "find_package(trm) trm::trm" "$(each "$work/build-examples/solve_sudoku" "$ckpt")"
check "find_package(trm) trm::trm_static" "$(each "$work/build-examples/solve_sudoku_static" "$ckpt")"
# The statically linked program does not need libtrm.so.
if ldd "$work/build-examples/solve_sudoku_static" | grep 'libtrm\.so' > /dev/null; then
  echo "install_test: solve_sudoku_static links libtrm.so" >&2; exit 1
fi

export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
# shellcheck disable=SC2046
cc -Wall -Wextra -Werror -o "$work/solve_pc" "$src/examples/solve_sudoku.c" $(pkg-config --cflags --libs trm)
check "pkg-config trm" "$(LD_LIBRARY_PATH=$prefix/lib each "$work/solve_pc" "$ckpt")"

if [[ -n $python ]]; then
  site=$(find "$prefix" -name 'trm.cpython-*.so' -printf '%h\n' | head -n 1)
  [[ -n $site ]] || { echo "install_test: the Python module was not installed" >&2; exit 1; }
  out=$(PYTHONPATH=$site "$python" - "$ckpt" "${puzzles[@]}" <<'PY'
import sys
import numpy as np
import trm
m = trm.load(sys.argv[1])
for p in sys.argv[2:]:
    x = np.array([1 if c == "." else int(c) + 1 for c in p], dtype=np.int32)
    a = m.solve(x, halting="reference")["answer"]
    print("".join("." if d == 1 else str(d - 1) if 2 <= d <= 10 else "?" for d in a))
PY
)
  check "the installed Python module" "$out"
fi
echo "install_test: all checks passed"
