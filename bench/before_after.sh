#!/usr/bin/env bash
# Two trm binaries on the same `trm bench` workload, alternated REPS times: the median of each
# figure for both and the ratio after/before. For checking that a refactor did not cost speed.
#
#   bench/before_after.sh BEFORE_TRM AFTER_TRM PRESET train|infer [BATCH]
#
# Environment: THREADS (default 2; OMP_NUM_THREADS and OPENBLAS_NUM_THREADS), REPS (default 5),
# ITERATIONS (default 3). The last line is one JSON object {preset, mode, batch, before, after, ratio}.
set -euo pipefail
if [[ $# -lt 4 || ( "$4" != train && "$4" != infer ) ]]; then
  echo "usage: $0 BEFORE_TRM AFTER_TRM PRESET train|infer [BATCH]" >&2
  exit 2
fi
BEFORE=$1 AFTER=$2 PRESET=$3 MODE=$4 BATCH=${5:-8}
THREADS=${THREADS:-2} REPS=${REPS:-5} ITERATIONS=${ITERATIONS:-3}
export OMP_NUM_THREADS=$THREADS OPENBLAS_NUM_THREADS=$THREADS
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
for ((r = 1; r <= REPS; r++)); do
  for side in before after; do
    bin=$BEFORE
    [[ $side == after ]] && bin=$AFTER
    "$bin" bench "$MODE" "$PRESET" --batch "$BATCH" --iterations "$ITERATIONS" --no-sgemm >> "$WORK/$side.jsonl"
  done
done
python3 - "$WORK" "$PRESET" "$MODE" "$BATCH" <<'PY'
import json, statistics, sys
work, preset, mode, batch = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
keys = ["ms_per_step", "supervision_steps_per_s", "gflops", "peak_rss_mib"]
med = {}
for side in ("before", "after"):
    rows = [json.loads(l) for l in open(f"{work}/{side}.jsonl")]
    med[side] = {k: statistics.median(r[k] for r in rows) for k in keys}
ratio = {k: med["after"][k] / med["before"][k] for k in keys}
for k in keys:
    print(f"{k:>24}  before {med['before'][k]:10.3f}  after {med['after'][k]:10.3f}  after/before {ratio[k]:.3f}",
          file=sys.stderr)
print(json.dumps({"preset": preset, "mode": mode, "batch": batch, "before": med["before"], "after": med["after"],
                  "ratio": ratio}))
PY
