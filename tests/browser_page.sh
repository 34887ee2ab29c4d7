#!/usr/bin/env bash
# The web page of `trm serve` in headless Chromium (tests/browser/page_test.mjs, playwright-core
# driving Debian's /usr/bin/chromium): a tiny 4x4 Sudoku model is trained, served on a free port,
# and the page's answer is checked against `trm solve --json` on the same checkpoint.
#   tests/browser_page.sh TRM_BINARY OUTPUT_DIR     (the screenshot goes to OUTPUT_DIR/web_page.png)
# A missing node, node_modules or chromium is a failure with the command that installs it, never
# a skip: the page is part of the product.
set -euo pipefail
trm=$1
out_dir=$2
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
fail() {
  echo "browser_page: FAIL: $*" >&2
  exit 1
}
command -v node > /dev/null || fail "node is not installed (the browser test runs on Node.js; see scripts/install-deps.sh)"
[[ -f $here/browser/node_modules/playwright-core/package.json ]] ||
  fail "tests/browser/node_modules is missing: run scripts/install-deps.sh (it runs 'npm ci' in tests/browser)"
chromium=${CHROMIUM:-/usr/bin/chromium}
[[ -x $chromium ]] || fail "$chromium not found: apt-get install chromium chromium-driver (scripts/install-deps.sh)"

work=$(mktemp -d)
server=""
cleanup() {
  if [[ -n $server ]]; then kill "$server" 2> /dev/null || true; wait "$server" 2> /dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# A tiny model: two optimizer steps are enough for a checkpoint with the real format (the test
# compares the page with the CLI on it, not with the puzzle's solution).
"$trm" data generate sudoku --n 4 --train 64 --test 8 --seed 1 --out "$work/s4" > /dev/null
"$trm" train tiny-sudoku-mlp hidden_size=32 puzzle_emb_ndim=32 H_cycles=1 L_cycles=1 halt_max_steps=4 \
  --data "$work/s4" --out "$work/run" --no-resume --quiet --batch 16 --max-steps 2 --eval-examples 4 > /dev/null
ckpt=$work/run/final.safetensors
puzzle='1..4..1..1..4..1'
# Status 1 is "not solved" (an untrained model): still the answer to compare with.
expected=$("$trm" solve --checkpoint "$ckpt" "$puzzle" --json) || [[ $? == 1 ]] || fail "trm solve failed"

"$trm" serve --model s4="$ckpt" --port 0 > "$work/serve.log" 2>&1 &
server=$!
url=""
for _ in $(seq 1 100); do
  url=$(grep -oE 'http://[0-9.]+:[0-9]+' "$work/serve.log" | head -1 || true)
  [[ -n $url ]] && break
  kill -0 "$server" 2> /dev/null || fail "trm serve exited: $(cat "$work/serve.log")"
  sleep 0.2
done
[[ -n $url ]] || fail "trm serve did not say where it listens: $(cat "$work/serve.log")"

mkdir -p "$out_dir"
CHROMIUM=$chromium node "$here/browser/page_test.mjs" "$url/" "$puzzle" "$expected" "$out_dir/web_page.png" ||
  fail "the page test failed (server log: $(tail -5 "$work/serve.log"))"
