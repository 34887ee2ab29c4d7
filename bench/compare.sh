#!/usr/bin/env bash
# Side-by-side throughput of trm and the PyTorch reference on the same workload.
#
#   bench/compare.sh PRESET train|infer [BATCH]
#
# Runs `trm bench` and reference/bench_reference.py alternately REPS times (default 3; each run
# times ITERATIONS iterations after WARMUP (default 1) untimed ones and reports their median), then prints the median
# of each figure for both, and the ratio ours/theirs. The last line is one JSON object:
#   {"preset", "mode", "batch", "ours": {...}, "reference": {...}, "ratio": {...}}
# Environment: TRM (the binary, default build/release/trm), PYTHON (default /usr/bin/python3,
# which has Debian's torch), THREADS (default 2; sets OMP_NUM_THREADS and OPENBLAS_NUM_THREADS
# for both sides), REPS, ITERATIONS, WARMUP, OVERRIDES (extra key=value model overrides for both).
set -euo pipefail
if [[ $# -lt 2 || ( "$2" != train && "$2" != infer ) ]]; then
  echo "usage: $0 PRESET train|infer [BATCH]" >&2
  exit 2
fi
PRESET=$1 MODE=$2 BATCH=${3:-8}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TRM=${TRM:-$ROOT/build/release/trm}
PYTHON=${PYTHON:-/usr/bin/python3}
THREADS=${THREADS:-2}
REPS=${REPS:-3}
ITERATIONS=${ITERATIONS:-3}
WARMUP=${WARMUP:-1}
OVERRIDES=${OVERRIDES:-}
[[ -x $TRM ]] || { echo "compare.sh: $TRM not found; build first (cmake --build --preset release)" >&2; exit 1; }
"$PYTHON" -c 'import torch' 2>/dev/null || { echo "compare.sh: $PYTHON has no torch; run scripts/install-deps.sh --reference" >&2; exit 1; }
export OMP_NUM_THREADS=$THREADS OPENBLAS_NUM_THREADS=$THREADS

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
# shellcheck disable=SC2086
"$TRM" info "$PRESET" $OVERRIDES > "$WORK/config.json"
echo "compare: $PRESET $MODE batch $BATCH, $THREADS threads, $REPS runs x $ITERATIONS iterations each side" >&2
for ((r = 1; r <= REPS; r++)); do
  # Only the last run of each side measures SGEMM (it is the same machine every time).
  sg=--no-sgemm
  [[ $r -eq $REPS ]] && sg=
  # shellcheck disable=SC2086
  "$TRM" bench "$MODE" "$PRESET" $OVERRIDES --batch "$BATCH" --iterations "$ITERATIONS" --warmup "$WARMUP" $sg | tee -a "$WORK/ours.jsonl" >&2
  "$PYTHON" "$ROOT/reference/bench_reference.py" "$MODE" --config "$WORK/config.json" --preset "$PRESET" \
    --batch "$BATCH" --iterations "$ITERATIONS" --warmup "$WARMUP" --threads "$THREADS" $sg | tee -a "$WORK/reference.jsonl" >&2
done

"$PYTHON" - "$PRESET" "$MODE" "$BATCH" "$WORK/ours.jsonl" "$WORK/reference.jsonl" <<'PY'
import json, statistics, sys
preset, mode, batch, ours_f, ref_f = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
keys = ["samples_per_s", "supervision_steps_per_s", "ms_per_step", "gflops", "sgemm_gflops", "sgemm_fraction", "peak_rss_mib"]
def load(path):
    rows = [json.loads(l) for l in open(path) if l.strip()]
    return {k: statistics.median([r[k] for r in rows if k in r]) for k in keys if any(k in r for r in rows)}
ours, ref = load(ours_f), load(ref_f)
# The SGEMM rate is the machine's: use the larger of the two measurements for both fractions.
sg = max(ours.get("sgemm_gflops", 0), ref.get("sgemm_gflops", 0))
if sg > 0:
    for d in (ours, ref):
        d["sgemm_gflops"] = sg
        d["sgemm_fraction"] = d["gflops"] / sg
ratio = {k: ours[k] / ref[k] for k in keys if k in ours and k in ref and ref[k]}
print(f"{'figure':26s} {'trm':>12s} {'pytorch':>12s} {'trm/pytorch':>12s}")
for k in keys:
    if k in ours and k in ref:
        print(f"{k:26s} {ours[k]:12.4g} {ref[k]:12.4g} {ratio[k]:12.3f}")
print(json.dumps({"preset": preset, "mode": mode, "batch": batch, "ours": ours, "reference": ref, "ratio": ratio}, sort_keys=True))
PY
