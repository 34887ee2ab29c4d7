#!/usr/bin/env bash
# Builds the libFuzzer targets (CMake preset "fuzz": clang-14, ASan + UBSan, build/fuzz) and runs
# each for SECONDS (default 60), seeded with fuzz/corpus/<target>/ and the matching folder of
# tests/bad_inputs/. Prints runs, coverage and features per target; exits 1 on any finding (a crash,
# a sanitizer report, an exception other than trm::Error, a timeout or an out-of-memory), whose
# reproducer is left in build/fuzz/findings/<target>/ (emptied when the target runs again).
#   scripts/fuzz.sh [SECONDS] [TARGET...]
# Needs ./scripts/install-deps.sh --fuzz. New inputs go to build/fuzz/corpus/<target>/ (kept
# between runs, so later runs start where earlier ones stopped).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
targets=("$@")
if ((${#targets[@]} == 0)); then
  targets=(fuzz_safetensors fuzz_npy fuzz_dataset_json fuzz_csv fuzz_arc_task fuzz_puzzle_text fuzz_config_json)
fi
# Seeds from the bad-input corpus and a dictionary per target.
declare -A bad=([fuzz_safetensors]=safetensors [fuzz_npy]=npy [fuzz_dataset_json]=dataset_json [fuzz_csv]=csv
  [fuzz_arc_task]=arc_task [fuzz_puzzle_text]=solve [fuzz_config_json]="")
declare -A dict=([fuzz_safetensors]=json [fuzz_npy]=npy [fuzz_dataset_json]=json [fuzz_csv]=text
  [fuzz_arc_task]=json [fuzz_puzzle_text]=text [fuzz_config_json]=json)

cmake --preset fuzz > /dev/null
cmake --build --preset fuzz
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
failed=()
printf '%-20s %10s %8s %8s %8s  %s\n' target runs exec/s cov ft result
for t in "${targets[@]}"; do
  corpus=build/fuzz/corpus/$t
  findings=build/fuzz/findings/$t
  log=build/fuzz/logs/$t.log
  rm -rf "$findings"  # reproducers of an earlier run: keep copies elsewhere if still needed
  mkdir -p "$corpus" "$findings" "$(dirname "$log")"
  seeds=("fuzz/corpus/${t#fuzz_}")
  [[ -n ${bad[$t]} ]] && seeds+=("tests/bad_inputs/${bad[$t]}")
  set +e
  # -timeout: a single input taking 30 s is a hang (every input here takes milliseconds; 10 s gave
  # false alarms on a loaded 2-core machine); -rss_limit_mb: an input that makes a reader
  # allocate 2 GB is an absurd-size finding; -max_len: every valid input of these readers that
  # matters is far smaller.
  "build/fuzz/fuzz/$t" -max_total_time="$seconds" -timeout=30 -rss_limit_mb=2048 -max_len=65536 \
    -dict="fuzz/${dict[$t]}.dict" -artifact_prefix="$findings/" -print_final_stats=1 \
    "$corpus" "${seeds[@]}" > "$log" 2>&1
  rc=$?
  set -e
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  ft=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  result=ok
  if [[ $rc != 0 ]] || compgen -G "$findings/*" > /dev/null; then
    result="FINDING (exit $rc; see $log and $findings/)"
    failed+=("$t")
  fi
  printf '%-20s %10s %8s %8s %8s  %s\n' "$t" "${runs:-?}" "${speed:-?}" "${cov:-?}" "${ft:-?}" "$result"
done
if ((${#failed[@]})); then
  echo "fuzz: FINDINGS in ${failed[*]}" >&2
  for t in "${failed[@]}"; do
    echo "==== $t: build/fuzz/logs/$t.log (tail)" >&2
    tail -n 40 "build/fuzz/logs/$t.log" >&2
  done
  exit 1
fi
echo "fuzz: ${#targets[@]} targets, ${seconds} s each, no findings"
