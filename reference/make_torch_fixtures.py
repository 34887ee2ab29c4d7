"""Fixtures for `trm import` / `trm export` (tests/test_torch_import.cpp, tests/torch_interop.sh).

    /usr/bin/python3 reference/make_torch_fixtures.py --out tests/fixtures/torch

Each fixture directory holds what the official training leaves behind: a real `torch.save` of a
state dict under the official key names (TRM: `step_<N>`; HRM: `checkpoint`) and an
`all_config.yaml` in the layout pretrain.py dumps (yaml.dump of its PretrainConfig), plus
`reference.safetensors`: a fixed batch and the logits / q values that this repository's PyTorch
reference (trm_reference.py, hrm_reference.py; float64) computes with exactly the stored weights
over two supervision steps from the reset carry.

Variants: TRM attention (RoPE; seq_len comes from a dataset.json, fixture `trm_att_data`), TRM
MLP-t (seq_len implied by the mlp_t width, a 20-wide puzzle row padded into 2 prefix positions),
HRM (learned positions); each as
  fp32: float32 weights and puzzle table, H_init/L_init in bfloat16 (the official forward_dtype
        buffers), keys `_orig_mod.model.inner.*` (the compiled model the official code saves);
  bf16: every tensor bfloat16, keys `model.inner.*` (saved without torch.compile).
`trm_att_legacy` is trm_att_bf16 in torch's legacy (non-zip) format, `evil` a zip checkpoint whose
pickle calls os.system (the importer must refuse it without running it; nothing here runs it).

Weights are the reference's init with nonzero q_head and puzzle rows (so every path carries
signal), rounded to the stored dtype before the reference runs, so the C++ side starts from the
same numbers.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import sys

import torch
import yaml

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hrm_reference import HRM, HRMConfig  # noqa: E402
from safetensors_io import write_safetensors  # noqa: E402
from trm_reference import TRM, TRMConfig  # noqa: E402

SMALL = dict(vocab_size=11, seq_len=8, batch_size=3, num_puzzle_identifiers=5, halt_max_steps=4, expansion=2.0,
             hidden_size=16, num_heads=2)
MODELS = {
    "trm_att": TRMConfig(**SMALL, puzzle_emb_ndim=16, puzzle_emb_len=2, H_cycles=2, L_cycles=2, L_layers=2,
                         pos_encodings="rope", mlp_t=False),
    "trm_mlp": TRMConfig(**SMALL, puzzle_emb_ndim=20, puzzle_emb_len=0, H_cycles=2, L_cycles=3, L_layers=1,
                         pos_encodings="none", mlp_t=True),
    "hrm": HRMConfig(**SMALL, puzzle_emb_ndim=16, puzzle_emb_len=0, H_cycles=2, L_cycles=2, L_layers=1, H_layers=1,
                     pos_encodings="learned", mlp_t=False),
}
# fixture -> (model, seed, dtype, key prefix, file name, arch name, legacy format)
FIXTURES = {
    "trm_att_fp32": ("trm_att", 11, "fp32", "_orig_mod.model.inner.", "step_100",
                     "recursive_reasoning.trm@TinyRecursiveReasoningModel_ACTV1", False),
    "trm_att_bf16": ("trm_att", 12, "bf16", "model.inner.", "step_100",
                     "recursive_reasoning.trm@TinyRecursiveReasoningModel_ACTV1", False),
    "trm_att_legacy": ("trm_att", 12, "bf16", "model.inner.", "step_100",
                       "recursive_reasoning.trm@TinyRecursiveReasoningModel_ACTV1", True),
    "trm_mlp_fp32": ("trm_mlp", 21, "fp32", "_orig_mod.model.inner.", "step_200",
                     "recursive_reasoning.trm@TinyRecursiveReasoningModel_ACTV1", False),
    "trm_mlp_bf16": ("trm_mlp", 22, "bf16", "model.inner.", "step_200",
                     "recursive_reasoning.trm@TinyRecursiveReasoningModel_ACTV1", False),
    "hrm_fp32": ("hrm", 31, "fp32", "_orig_mod.model.inner.", "checkpoint",
                 "hrm.hrm_act_v1@HierarchicalReasoningModel_ACTV1", False),
    "hrm_bf16": ("hrm", 32, "bf16", "model.inner.", "checkpoint",
                 "recursive_reasoning.hrm@HierarchicalReasoningModel_ACTV1", False),
}
PUZZLE_IDS = [1, 4, 0]
STEPS = 2


def build(cfg: TRMConfig, seed: int, dtype: str):
    """The model with its stored weights, and the state dict as the official code would save it."""
    torch.manual_seed(seed)
    model = HRM(cfg) if isinstance(cfg, HRMConfig) else TRM(cfg)
    with torch.no_grad():
        model.q_head.weight.normal_(0.0, 0.3)
        model.q_head.bias.copy_(torch.tensor([0.3, -0.2]))
        model.puzzle_emb.weights.normal_(0.0, 0.5)
    sd = collections.OrderedDict()
    for name, t in model.state_dict().items():
        # The official model keeps H_init/L_init in forward_dtype (bfloat16); everything else is
        # float32 unless the whole model was cast.
        bf16 = dtype == "bf16" or name in ("H_init", "L_init")
        sd[name] = t.detach().to(torch.bfloat16 if bf16 else torch.float32).clone()
    with torch.no_grad():
        for name, t in list(model.named_parameters()) + list(model.named_buffers()):
            t.copy_(sd[name].float())
    model.double()
    return model, sd


def reference_outputs(model, cfg: TRMConfig, gen: torch.Generator):
    B, L, D = cfg.batch_size, cfg.total_len, cfg.hidden_size
    inputs = torch.randint(1, cfg.vocab_size, (B, cfg.seq_len), generator=gen, dtype=torch.int32)
    ids = torch.tensor(PUZZLE_IDS, dtype=torch.int32)
    out = {"batch.inputs": ("I32", inputs.numpy()), "batch.puzzle_identifiers": ("I32", ids.numpy())}
    z_H = model.H_init.expand(B, L, D).clone()
    z_L = model.L_init.expand(B, L, D).clone()
    rows = model.puzzle_emb.weights[ids.long()]
    with torch.no_grad():
        for step in range(1, STEPS + 1):
            r = model.inner_forward(z_H, z_L, inputs, rows)
            out[f"step{step}.logits"] = ("F32", r["logits"].float().numpy())
            out[f"step{step}.q_halt"] = ("F32", r["q_halt"].float().numpy())
            out[f"step{step}.q_continue"] = ("F32", r["q_continue"].float().numpy())
            z_H, z_L = r["z_H"], r["z_L"]
    return out


def official_config(cfg: TRMConfig, arch_name: str, name: str) -> dict:
    """all_config.yaml as pretrain.py writes it (only the keys a run's yaml sets; rms_norm_eps and
    rope_theta are left to the model's defaults, as in the official configs)."""
    is_hrm = isinstance(cfg, HRMConfig)
    arch = dict(name=arch_name, loss=dict(name="losses@ACTLossHead", loss_type="stablemax_cross_entropy"),
                H_cycles=cfg.H_cycles, L_cycles=cfg.L_cycles, H_layers=cfg.H_layers if is_hrm else 0,
                L_layers=cfg.L_layers, hidden_size=cfg.hidden_size, num_heads=cfg.num_heads,
                expansion=int(cfg.expansion), puzzle_emb_ndim=cfg.puzzle_emb_ndim, pos_encodings=cfg.pos_encodings,
                forward_dtype="bfloat16", halt_max_steps=cfg.halt_max_steps, halt_exploration_prob=0.1)
    if not is_hrm:
        arch.update(mlp_t=cfg.mlp_t, puzzle_emb_len=cfg.puzzle_emb_len, no_ACT_continue=True)
    return dict(arch=arch, beta1=0.9, beta2=0.95, checkpoint_every_eval=False,
                checkpoint_path=f"checkpoints/Fixture-ACT-torch/{name}", data_paths=["data/fixture"],
                data_paths_test=[], ema=name.startswith("trm_att"), ema_rate=0.999, epochs=100, eval_interval=10,
                eval_save_outputs=[], evaluators=[], freeze_weights=False, global_batch_size=cfg.batch_size,
                load_checkpoint=None, lr=1e-4, lr_min_ratio=1.0, lr_warmup_steps=10, min_eval_interval=0,
                project_name="Fixture-ACT-torch", puzzle_emb_lr=1e-2, puzzle_emb_weight_decay=0.1,
                run_name=name, seed=0, weight_decay=0.1)


class Evil:
    """Pickles as a call of os.system: what a hostile checkpoint looks like."""

    def __reduce__(self):
        return (os.system, ("echo this must never run",))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="tests/fixtures/torch")
    args = ap.parse_args()
    torch.set_num_threads(1)
    for name, (model_name, seed, dtype, prefix, fname, arch_name, legacy) in FIXTURES.items():
        cfg = MODELS[model_name]
        model, sd = build(cfg, seed, dtype)
        d = os.path.join(args.out, name)
        os.makedirs(d, exist_ok=True)
        official = collections.OrderedDict((prefix + k, v) for k, v in sd.items())
        torch.save(official, os.path.join(d, fname), _use_new_zipfile_serialization=not legacy)
        with open(os.path.join(d, "all_config.yaml"), "w") as f:
            yaml.dump(official_config(cfg, arch_name, name), f)
        gen = torch.Generator().manual_seed(seed + 1000)
        write_safetensors(os.path.join(d, "reference.safetensors"), reference_outputs(model, cfg, gen),
                          {"config": cfg.to_json(), "checkpoint": fname})
        print(f"{name}: {sum(os.path.getsize(os.path.join(d, x)) for x in os.listdir(d))} bytes")
    # The dataset.json of the attention fixtures' (imaginary) dataset: where seq_len comes from.
    data = os.path.join(args.out, "trm_att_data", "test")
    os.makedirs(data, exist_ok=True)
    meta = dict(pad_id=0, ignore_label_id=0, blank_identifier_id=0, vocab_size=11, seq_len=8, num_puzzle_identifiers=5,
                total_groups=1, mean_puzzle_examples=1.0, total_puzzles=1, sets=["all"])
    with open(os.path.join(data, "dataset.json"), "w") as f:
        json.dump(meta, f)
    d = os.path.join(args.out, "evil")
    os.makedirs(d, exist_ok=True)
    torch.save({"x": torch.zeros(2), "payload": Evil()}, os.path.join(d, "step_1"))
    print("evil: written")


if __name__ == "__main__":
    main()
