#!/usr/bin/env bash
# trm serve and trm mcp end to end, on a tiny model trained here: the official MCP TypeScript SDK
# client (tests/mcp/client.mjs) over stdio (spawning `trm mcp`) and over Streamable HTTP (POST
# /mcp of `trm serve`, with bearer auth); curl of /v1/solve, /v1/models, /healthz, /metrics; and
# SIGTERM while requests are in flight: they are answered, then the server exits 0.
# Registered with ctest as serve_e2e; usage: tests/serve_e2e.sh path/to/trm
# Needs node and tests/mcp/node_modules (scripts/install-deps.sh runs `npm ci` there): without
# them this test FAILS, saying so, rather than skipping.
set -euo pipefail
trm=$(realpath "$1")
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
pid=""
cleanup() { [[ -n $pid ]] && kill "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
fail() { echo "serve_e2e: FAIL: $*" >&2; [[ -f $work/serve.log ]] && sed 's/^/  serve.log: /' "$work/serve.log" >&2; exit 1; }

command -v node > /dev/null || fail "node is not installed (Debian: apt-get install nodejs npm)"
command -v curl > /dev/null || fail "curl is not installed"
[[ -d $here/mcp/node_modules/@modelcontextprotocol/sdk ]] ||
  fail "tests/mcp/node_modules is missing: run scripts/install-deps.sh (or: cd tests/mcp && npm ci)"

$trm data generate sudoku --n 4 --train 200 --test 20 --seed 1 --out "$work/s4" > /dev/null
$trm train tiny-sudoku-mlp hidden_size=32 puzzle_emb_ndim=32 --data "$work/s4" --out "$work/run" --no-resume \
  --quiet --batch 16 --max-steps 6 --eval-examples 16 > /dev/null
ckpt=$work/run/final.safetensors
$trm data generate maze --side 7 --min-path 5 --train 40 --test 4 --seed 1 --out "$work/m7" > /dev/null
$trm train tiny-maze hidden_size=32 puzzle_emb_ndim=32 halt_max_steps=4 --data "$work/m7" --out "$work/mrun" --no-resume \
  --quiet --batch 8 --max-steps 4 --eval-examples 4 > /dev/null
mckpt=$work/mrun/final.safetensors

# MCP over stdio: the SDK spawns `trm mcp`.
node "$here/mcp/client.mjs" stdio "$trm" "$ckpt" "$mckpt" || fail "MCP over stdio"

# Garbage on stdin is a JSON-RPC parse error, and the server reads on.
out=$(printf 'not json\n\xff\xfe\n{"jsonrpc":"2.0","id":1,"method":"ping"}\n' | "$trm" mcp --model "s4=$ckpt")
[[ $(grep -c '"code":-32700' <<< "$out") == 2 && $out == *'"id":1'*'"result":{}'* ]] || fail "trm mcp on garbage answered: $out"

# trm serve on a free port, with bearer auth.
start_server() {
  TRM_API_KEY=k3y "$trm" serve --model "s4=$ckpt" --model "m7=$mckpt" --port 0 "$@" 2> "$work/serve.log" &
  pid=$!
  for _ in $(seq 200); do
    port=$(sed -n 's|.*listening on http://127.0.0.1:\([0-9]*\).*|\1|p' "$work/serve.log")
    [[ -n $port ]] && return 0
    kill -0 "$pid" 2>/dev/null || fail "trm serve exited at start"
    sleep 0.05
  done
  fail "trm serve did not start"
}
start_server
url=http://127.0.0.1:$port
auth=(-H "Authorization: Bearer k3y")
node "$here/mcp/client.mjs" http "$url/mcp" k3y || fail "MCP over Streamable HTTP"

code=$(curl -s -o /dev/null -w '%{http_code}' "$url/v1/models")
[[ $code == 401 ]] || fail "/v1/models without the token answered $code, expected 401"
curl -sf "${auth[@]}" "$url/v1/models" | grep '"task":"sudoku"' > /dev/null || fail "/v1/models lacks the sudoku model"
out=$(curl -sf "${auth[@]}" -H 'Content-Type: application/json' -d '{"model": "s4", "puzzle": "1..4\n..1.\n.1..\n4..1"}' "$url/v1/solve") ||
  fail "/v1/solve failed"
[[ $out == *'"grid":[['* && $out == *'"steps":'* && $out == *'"verified":'* ]] || fail "/v1/solve answered $out"
curl -sf "$url/healthz" | grep '"ok"' > /dev/null || fail "/healthz"
metrics=$(curl -sf "${auth[@]}" "$url/metrics") || fail "/metrics failed"
grep -q '^trm_http_requests_total{route="/v1/solve",code="200"} 1$' <<< "$metrics" ||
  fail "/metrics lacks the solve count: $(grep '^trm_http_requests_total' <<< "$metrics" | tr '\n' ' ')"

# SIGTERM while requests are in flight: each is answered (200), then the process exits 0.
for i in 1 2 3 4 5 6 7 8; do
  curl -s -o "$work/r$i.json" -w '%{http_code}' "${auth[@]}" -H 'Content-Type: application/json' \
    -d '{"model": "s4", "puzzle": "1..4\n..1.\n.1..\n4..1", "halting": "reference"}' "$url/v1/solve" > "$work/c$i" &
done
sleep 0.5
kill -TERM "$pid"
wait %1 %2 %3 %4 %5 %6 %7 %8 2>/dev/null || true
set +e
wait "$pid"
rc=$?
set -e
pid=""
[[ $rc == 0 ]] || fail "trm serve exited $rc after SIGTERM, expected 0"
grep -q "draining" "$work/serve.log" || fail "no drain message in the log"
for i in 1 2 3 4 5 6 7 8; do
  c=$(cat "$work/c$i")
  # Sent before the signal: 200; sent after the drain began: 503, or refused once it stopped (000).
  [[ $c == 200 || $c == 503 || $c == 000 ]] || fail "request $i during the drain answered $c"
done
grep -l '^200$' "$work"/c* > /dev/null || fail "no request sent before SIGTERM was answered 200"
echo "serve_e2e: ok"
