#!/usr/bin/env bash
# trm import / export on the command line, against the fixtures of reference/make_torch_fixtures.py.
#   tests/torch_interop.sh TRM FIXTURE_DIR cli      every import and export runs; every refusal
#                                                   exits 2 with its reason and writes nothing;
#                                                   trm arc eval refuses a foreign puzzle table
#   tests/torch_interop.sh TRM FIXTURE_DIR pytorch  what trm exports, PyTorch loads: torch.load +
#                                                   load_state_dict(strict=True) of the official
#                                                   names, and the reference reproduces the
#                                                   fixture's outputs (reference/check_torch_export.py);
#                                                   exit 77 (skipped) without torch
# Registered with ctest as torch_import_cli and torch_export_pytorch.
set -euo pipefail
trm=$1
fix=$2
mode=$3
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "torch_interop: FAIL: $*" >&2; exit 1; }
# Runs trm expecting exit status 2 and a message containing $1; the rest are trm's arguments.
refuses() {
  local needle=$1
  shift
  set +e
  local msg
  msg=$("$trm" "$@" 2>&1)
  local rc=$?
  set -e
  [[ $rc == 2 ]] || fail "trm $* exited $rc, expected 2: $msg"
  [[ $msg == *"$needle"* ]] || fail "trm $*: the message does not say \"$needle\": $msg"
}

data_for() { [[ $1 == trm_att* ]] && echo "--data $fix/trm_att_data" || true; }
file_for() { case $1 in trm_att*) echo step_100 ;; trm_mlp*) echo step_200 ;; *) echo checkpoint ;; esac; }

if [[ $mode == cli ]]; then
  for f in trm_att_fp32 trm_att_legacy trm_mlp_bf16 hrm_fp32; do
    # shellcheck disable=SC2046
    out=$("$trm" import "$fix/$f/$(file_for $f)" $(data_for $f) --out "$work/$f.safetensors" 2>/dev/null)
    [[ $out == *'"tensors":'* && -f $work/$f.safetensors ]] || fail "import of $f printed: $out"
    "$trm" info --checkpoint "$work/$f.safetensors" > /dev/null || fail "trm info cannot read the import of $f"
  done
  # Export, then import the export: the same model.
  mkdir -p "$work/run"
  "$trm" export "$work/hrm_fp32.safetensors" --format pytorch --out "$work/run/step_5" > /dev/null
  [[ -f $work/run/step_5 && -f $work/run/all_config.yaml ]] || fail "export wrote no step_5 + all_config.yaml"
  "$trm" import "$work/run/step_5" --out "$work/back.safetensors" > /dev/null 2>&1 || fail "the export does not import"

  # Refusals: exit 2, the reason, nothing written.
  refuses 'refuses the global "posix.system"' import "$fix/evil/step_1" --config "$fix/trm_mlp_fp32/all_config.yaml" --out "$work/x.safetensors"
  head -c 30000 "$fix/trm_mlp_fp32/step_200" > "$work/step_200"
  cp "$fix/trm_mlp_fp32/all_config.yaml" "$work/"
  refuses "truncated" import "$work/step_200" --out "$work/x.safetensors"
  sed 's/recursive_reasoning.trm@TinyRecursiveReasoningModel_ACTV1/recursive_reasoning.transformers_baseline@Model_ACTV2/' \
    "$fix/trm_mlp_fp32/all_config.yaml" > "$work/other.yaml"
  refuses "unknown architecture" import "$fix/trm_mlp_fp32/step_200" --config "$work/other.yaml" --out "$work/x.safetensors"
  refuses "seq_len cannot be determined" import "$fix/trm_att_fp32/step_100" --out "$work/x.safetensors"
  refuses "says puzzle_emb_ndim 16" import "$fix/trm_mlp_fp32/step_200" --config "$fix/hrm_fp32/all_config.yaml" --out "$work/x.safetensors"
  refuses "--format must be pytorch" export "$work/hrm_fp32.safetensors" --format onnx --out "$work/x"
  [[ ! -e $work/x.safetensors && ! -e $work/x ]] || fail "a refused command left a file behind"

  # trm arc eval refuses a checkpoint whose puzzle table does not match the dataset's ids.
  mkdir -p "$work/tasks"
  echo '{"train": [{"input": [[1,0],[0,1]], "output": [[2,0],[0,2]]}], "test": [{"input": [[0,1],[1,1]], "output": [[0,2],[2,2]]}]}' \
    > "$work/tasks/recolor.json"
  "$trm" data build arc --source "$work" --subsets tasks --test-set tasks --aug 3 --seed 0 --out "$work/arc3" > /dev/null
  "$trm" data build arc --source "$work" --subsets tasks --test-set tasks --aug 5 --seed 0 --out "$work/arc5" > /dev/null
  "$trm" train arc1-att hidden_size=16 num_heads=2 puzzle_emb_ndim=16 H_cycles=1 L_cycles=1 halt_max_steps=1 \
    --data "$work/arc3" --out "$work/arcrun" --no-resume --quiet --batch 2 --max-steps 1 --eval-examples 2 > /dev/null
  "$trm" arc eval --checkpoint "$work/arcrun/final.safetensors" --data "$work/arc3" --out "$work/e3" > /dev/null 2>&1 \
    || fail "arc eval on the checkpoint's own dataset failed"
  refuses "puzzle table has" arc eval --checkpoint "$work/arcrun/final.safetensors" --data "$work/arc5" --out "$work/e5"
  echo "torch_interop cli: ok"
elif [[ $mode == pytorch ]]; then
  py=${TRM_TORCH_PYTHON:-/usr/bin/python3}
  if ! "$py" -c 'import torch, yaml' 2> /dev/null; then
    echo "SKIPPED: $py cannot import torch and yaml (install python3-torch to run the PyTorch side of the round trip)"
    exit 77
  fi
  for f in trm_att_fp32 trm_att_bf16 trm_mlp_fp32 trm_mlp_bf16 hrm_fp32 hrm_bf16; do
    # shellcheck disable=SC2046
    "$trm" import "$fix/$f/$(file_for $f)" $(data_for $f) --out "$work/$f.safetensors" > /dev/null 2>&1
    mkdir -p "$work/$f"
    "$trm" export "$work/$f.safetensors" --format pytorch --out "$work/$f/step_1" > /dev/null
    "$py" "$here/reference/check_torch_export.py" "$work/$f/step_1" --reference "$fix/$f/reference.safetensors" \
      || fail "PyTorch rejects or misreads the export of $f"
  done
  # Without torch.compile's prefix, and with float32 initial states.
  mkdir -p "$work/plain"
  "$trm" export "$work/hrm_fp32.safetensors" --format pytorch --out "$work/plain" --key-prefix model.inner. \
    --forward-dtype float32 > /dev/null
  "$py" "$here/reference/check_torch_export.py" "$work/plain/step_0" --prefix model.inner. \
    --reference "$fix/hrm_fp32/reference.safetensors" || fail "PyTorch rejects the model.inner. export"
  echo "torch_interop pytorch: ok"
else
  fail "mode must be cli or pytorch"
fi
