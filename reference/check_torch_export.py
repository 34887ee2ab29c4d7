"""Check a `trm export --format pytorch` file with PyTorch itself (tests/torch_interop.sh).

    /usr/bin/python3 reference/check_torch_export.py EXPORTED_FILE --reference FIXTURE/reference.safetensors

1. torch.load reads it (with weights_only=True where this torch has it: torch's own restricted
   unpickler, so the file holds nothing but a state dict);
2. a module with the official structure and names (the loss head's `model`, the ACT wrapper's
   `inner`, `_orig_mod` for torch.compile; the inner model is this repository's reference, whose
   parameter and buffer names are the official ones) loads it with load_state_dict(strict=True):
   no missing, no unexpected key, every shape right;
3. H_init/L_init have the dtype all_config.yaml's forward_dtype names, as the official model's
   buffers do;
4. with --reference, the reference model with these weights reproduces the fixture's logits and
   q values (two supervision steps from the reset carry, as make_torch_fixtures.py computed them).

Exit status 0 on success, 1 on a failed check, 77 (ctest's "skipped") when torch is missing.
"""

from __future__ import annotations

import argparse
import os
import sys

sys.dont_write_bytecode = True
try:
    import torch
    import yaml
except ImportError as e:  # pragma: no cover - depends on the machine
    print(f"SKIPPED: {e} (this check needs PyTorch and PyYAML: /usr/bin/python3 on Debian with python3-torch)")
    sys.exit(77)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hrm_reference import HRM, HRMConfig  # noqa: E402
from safetensors_io import read_safetensors  # noqa: E402
from trm_reference import TRM, TRMConfig  # noqa: E402


def fail(msg: str):
    print(f"check_torch_export: FAIL: {msg}")
    sys.exit(1)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint")
    ap.add_argument("--config", help="all_config.yaml (default: beside the checkpoint)")
    ap.add_argument("--prefix", default="_orig_mod.model.inner.", help="the key prefix the export used")
    ap.add_argument("--reference", help="a fixture's reference.safetensors: compare logits and q values")
    args = ap.parse_args()
    cfg_path = args.config or os.path.join(os.path.dirname(os.path.abspath(args.checkpoint)), "all_config.yaml")
    with open(cfg_path) as f:
        run = yaml.safe_load(f)
    arch = run["arch"]

    try:
        sd = torch.load(args.checkpoint, map_location="cpu", weights_only=True)
        how = "weights_only=True"
    except TypeError:  # a torch without weights_only
        sd = torch.load(args.checkpoint, map_location="cpu")
        how = "plain"
    inner = {k[len(args.prefix):]: v for k, v in sd.items() if k.startswith(args.prefix)}
    if len(inner) != len(sd):
        fail(f"keys without the prefix {args.prefix!r}: {[k for k in sd if not k.startswith(args.prefix)]}")

    # The model the yaml describes; the sizes the official code takes from the dataset come from
    # the tensors (vocab, puzzle ids) and the reference batch or the learned/MLP-t widths (seq_len).
    is_hrm = arch["name"].endswith("@HierarchicalReasoningModel_ACTV1")
    D = arch["hidden_size"]
    ndim = arch.get("puzzle_emb_ndim", 0)
    plen = arch.get("puzzle_emb_len", 0 if is_hrm else 16)
    P = (-(-ndim // D) if plen == 0 else plen) if ndim > 0 else 0
    if args.reference:
        ref, _ = read_safetensors(args.reference)
        seq_len = ref["batch.inputs"].shape[1]
    elif "embed_pos.embedding_weight" in inner:
        seq_len = inner["embed_pos.embedding_weight"].shape[0] - P
    else:
        seq_len = inner["L_level.layers.0.mlp_t.gate_up_proj.weight"].shape[1] - P
    common = dict(vocab_size=inner["embed_tokens.embedding_weight"].shape[0], seq_len=seq_len,
                  num_puzzle_identifiers=inner["puzzle_emb.weights"].shape[0] if ndim > 0 else 1,
                  puzzle_emb_ndim=ndim, puzzle_emb_len=plen, H_cycles=arch["H_cycles"], L_cycles=arch["L_cycles"],
                  L_layers=arch["L_layers"], hidden_size=D, num_heads=arch["num_heads"], expansion=float(arch["expansion"]),
                  pos_encodings=arch["pos_encodings"], halt_max_steps=arch["halt_max_steps"],
                  rms_norm_eps=arch.get("rms_norm_eps", 1e-5), rope_theta=arch.get("rope_theta", 10000.0),
                  mlp_t=bool(arch.get("mlp_t", False)) and not is_hrm)
    cfg = HRMConfig(**common, H_layers=arch["H_layers"]) if is_hrm else TRMConfig(**common)
    model = HRM(cfg) if is_hrm else TRM(cfg)
    top = model
    for part in reversed(args.prefix.rstrip(".").split(".")):
        outer = torch.nn.Module()
        outer.add_module(part, top)
        top = outer
    top.load_state_dict(sd, strict=True)
    want = getattr(torch, arch.get("forward_dtype", "bfloat16"))
    for name in ("H_init", "L_init"):
        if inner[name].dtype != want:
            fail(f"{name} is {inner[name].dtype}, forward_dtype says {want}")
    print(f"{args.checkpoint}: torch.load ({how}) and load_state_dict(strict=True) of {len(sd)} tensors: ok")

    if args.reference:
        model.double()
        B = ref["batch.inputs"].shape[0]
        inputs = torch.from_numpy(ref["batch.inputs"])
        ids = torch.from_numpy(ref["batch.puzzle_identifiers"]).long()
        L = cfg.total_len
        z_H, z_L = model.H_init.expand(B, L, D).clone(), model.L_init.expand(B, L, D).clone()
        rows = model.puzzle_emb.weights[ids] if ndim > 0 else None
        worst = 0.0
        with torch.no_grad():
            for step in (1, 2):
                r = model.inner_forward(z_H, z_L, inputs, rows)
                for key in ("logits", "q_halt", "q_continue"):
                    want_v = torch.from_numpy(ref[f"step{step}.{key}"]).double()
                    err = float((r[key] - want_v).abs().max() / want_v.abs().max().clamp_min(1e-30))
                    worst = max(worst, err)
                    if err > 1e-5:
                        fail(f"step {step} {key}: max rel err {err:.2e} against {args.reference}")
                z_H, z_L = r["z_H"], r["z_L"]
        print(f"{args.checkpoint}: the reference with these weights reproduces {args.reference} (max rel err {worst:.1e})")


if __name__ == "__main__":
    main()
