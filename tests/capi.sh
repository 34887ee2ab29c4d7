#!/usr/bin/env bash
# The C API test (tests/test_capi.c) on a freshly generated 4x4 Sudoku dataset.
#   capi.sh TRM_BINARY TEST_CAPI_BINARY
set -euo pipefail
trm=$1
test_capi=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$trm" data generate sudoku --n 4 --train 300 --test 40 --seed 5 --out "$work/data" >/dev/null
"$test_capi" "$work/data" "$work"
