"""Generate the golden fixtures the C++ tests compare against.

    /usr/bin/python3 reference/make_fixtures.py --out tests/fixtures

Writes trm_att.safetensors, trm_mlp.safetensors, trm_learned.safetensors and (the HRM baseline,
reference/hrm_reference.py) hrm_att.safetensors.  Everything is
computed in float64 (see trm_reference.py); results are stored as F32 except the losses (F64).
The tensors stored as inputs (weights, carry) are exactly representable in float32, so the C++
side starts from precisely the numbers the reference used.  See reference/README.md for the
tensor list.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Dict, Tuple

import numpy as np
import torch

sys.dont_write_bytecode = True  # keep the source tree clean (no __pycache__ next to the scripts)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_io import read_safetensors, write_safetensors  # noqa: E402
from trm_reference import IGNORE_LABEL_ID, TRM, TRMConfig, Trainer, count_params  # noqa: E402
from hrm_reference import HRM, HRMConfig, HRMTrainer, hrm_count_params  # noqa: E402

COMMON = dict(
    vocab_size=11, seq_len=16, batch_size=4, num_puzzle_identifiers=5, L_layers=2, halt_max_steps=16,
    rms_norm_eps=1e-5, rope_theta=10000.0, expansion=4.0,
    lr=1e-3, lr_warmup_steps=2, lr_min_ratio=1.0, total_steps=100, weight_decay=0.1, beta1=0.9, beta2=0.95,
    puzzle_emb_lr=1e-2, puzzle_emb_weight_decay=0.1, ema_rate=0.999, loss_divisor=8,
)

# name -> (seed, config)
FIXTURES: Dict[str, Tuple[int, TRMConfig]] = {
    "trm_att": (1000, TRMConfig(**COMMON, hidden_size=64, num_heads=4, puzzle_emb_ndim=64, puzzle_emb_len=4,
                                H_cycles=3, L_cycles=2, pos_encodings="rope", mlp_t=False)),
    "trm_mlp": (2000, TRMConfig(**COMMON, hidden_size=64, num_heads=4, puzzle_emb_ndim=100, puzzle_emb_len=4,
                                H_cycles=2, L_cycles=3, pos_encodings="none", mlp_t=True)),
    "trm_learned": (3000, TRMConfig(**COMMON, hidden_size=64, num_heads=4, puzzle_emb_ndim=64, puzzle_emb_len=4,
                                    H_cycles=2, L_cycles=2, pos_encodings="learned", mlp_t=False)),
    # HRM: two 2-layer nets, H_cycles = L_cycles = 2, and HRM's own prefix rule (puzzle_emb_len 0 =
    # ceil(ndim / hidden) = 1 position).
    "hrm_att": (4000, HRMConfig(**COMMON, hidden_size=64, num_heads=2, puzzle_emb_ndim=64, puzzle_emb_len=0,
                                H_cycles=2, L_cycles=2, H_layers=2, pos_encodings="rope", mlp_t=False)),
}

# HRM fixtures: supervision steps each slot had taken before step 1 (+1 per later step), chosen so
# that is_last_step (steps + 1 >= halt_max_steps = 16) differs between slots and steps.
HRM_STEPS0 = [0, 14, 3, 15]

PUZZLE_IDS = [1, 3, 1, 0]       # id 1 twice on purpose: SignSGD must sum before taking the sign
N_STEPS = 3


def build_model(cfg: TRMConfig, seed: int) -> TRM:
    """Standard init, drawn in float32 and then widened, so every stored weight is f32-exact."""
    torch.manual_seed(seed)
    is_hrm = isinstance(cfg, HRMConfig)
    model = HRM(cfg) if is_hrm else TRM(cfg)
    with torch.no_grad():
        # Fixture-only deviations from the upstream init, so that every path carries signal:
        # a zero q_head weight would give the q path no gradient into the network, and a zero
        # puzzle table would make the prefix trivially zero.
        model.q_head.weight.normal_(0.0, 0.05)
        model.q_head.bias.copy_(torch.tensor([0.3, -0.2]))   # halting logits near 0
        model.puzzle_emb.weights.normal_(0.0, 0.1)
    model.double()
    assert (hrm_count_params(cfg) if is_hrm else count_params(cfg)) == sum(p.numel() for p in model.parameters())
    return model


def build_batch_and_carry(model: TRM, trainer: Trainer):
    cfg = model.cfg
    B, S, L, D, V = cfg.batch_size, cfg.seq_len, cfg.total_len, cfg.hidden_size, cfg.vocab_size
    assert B == 4, "the label recipe below is written for 4 rows"
    inputs = torch.randint(1, V, (B, S), dtype=torch.int32)
    ids = torch.tensor(PUZZLE_IDS, dtype=torch.int32)
    # A random carry (not the init vectors) so the test exercises a mid-trajectory state.
    z_H = torch.randn(B, L, D, dtype=torch.float32).double()
    z_L = torch.randn(B, L, D, dtype=torch.float32).double()

    # Row 1 copies the model's own prediction so that seq_correct is 1 for a non-trivial row.
    with torch.no_grad():
        _, pre, _ = trainer.forward_loss(z_H, z_L, dict(inputs=inputs, puzzle_identifiers=ids,
                                                         labels=torch.full((B, S), IGNORE_LABEL_ID)))
    labels = torch.empty(B, S, dtype=torch.int32)
    labels[0] = torch.randint(1, V, (S,), dtype=torch.int32)
    labels[0, torch.randperm(S)[:4]] = IGNORE_LABEL_ID       # partially masked row
    labels[1] = pre["pred"][1].to(torch.int32)
    labels[2] = torch.randint(1, V, (S,), dtype=torch.int32)  # no ignored positions
    labels[3] = IGNORE_LABEL_ID                                 # fully masked: counts as correct
    batch = dict(inputs=inputs, labels=labels, puzzle_identifiers=ids)
    return batch, z_H, z_L


def f32(t: torch.Tensor):
    return ("F32", t.detach().to(torch.float32).numpy())


def f64(t: torch.Tensor):
    return ("F64", t.detach().to(torch.float64).reshape(-1).numpy())


def i32(t: torch.Tensor):
    return ("I32", t.detach().to(torch.int32).numpy())


def label_margin(logits: torch.Tensor, labels: torch.Tensor, row: int) -> float:
    """Smallest gap between the label's logit and the best other logit over the masked positions
    of `row`: how far that row is from flipping its seq_correct bit (matters for fp32 ports)."""
    lg, lb = logits[row], labels[row].long()
    keep = lb != IGNORE_LABEL_ID
    lg, lb = lg[keep], lb[keep]
    at = lg.gather(-1, lb[:, None]).squeeze(-1)
    other = lg.scatter(-1, lb[:, None], float("-inf")).max(-1).values
    return float((at - other).abs().min())


def make_fixture(name: str, seed: int, cfg: TRMConfig, out_dir: str) -> Dict[str, float]:
    model = build_model(cfg, seed)
    is_hrm = isinstance(cfg, HRMConfig)
    trainer = HRMTrainer(model) if is_hrm else Trainer(model)
    batch, z_H0, z_L0 = build_batch_and_carry(model, trainer)

    T: Dict[str, Tuple[str, np.ndarray]] = {}
    # Initial state: parameters, buffers, batch, carry.
    for pname, t in list(model.named_parameters()) + list(model.named_buffers()):
        T[pname] = f32(t)
    T["batch.inputs"] = i32(batch["inputs"])
    T["batch.labels"] = i32(batch["labels"])
    T["batch.puzzle_identifiers"] = i32(batch["puzzle_identifiers"])
    T["carry.z_H"], T["carry.z_L"] = f32(z_H0), f32(z_L0)
    if is_hrm:
        T["batch.steps"] = i32(torch.tensor(HRM_STEPS0))

    info = {}
    z_H, z_L = z_H0, z_L0
    for step in range(1, N_STEPS + 1):
        if is_hrm:
            batch["steps"] = torch.tensor(HRM_STEPS0, dtype=torch.int32) + (step - 1)
        out, losses, rows = trainer.train_step(z_H, z_L, batch)
        T[f"step{step}.loss"] = f64(losses["loss"])
        info[f"step{step}.loss"] = float(losses["loss"])
        info[f"step{step}.seq_correct"] = losses["seq_correct"].int().tolist()
        info[f"step{step}.row1_margin"] = label_margin(out["logits"].detach(), batch["labels"], 1)
        if step == 1:
            sc = losses["seq_correct"].int().tolist()
            assert sc == [0, 1, 0, 1], f"{name}: seq_correct {sc} != [0, 1, 0, 1]"
            T["out.logits"] = f32(out["logits"])
            T["out.q_halt"], T["out.q_continue"] = f32(out["q_halt"]), f32(out["q_continue"])
            T["out.z_H"], T["out.z_L"] = f32(out["z_H"]), f32(out["z_L"])
            T["out.loss"] = f64(losses["loss"])
            T["out.lm_loss"] = f64(losses["lm_loss"])
            T["out.q_halt_loss"] = f64(losses["q_halt_loss"])
            T["out.seq_correct"] = i32(losses["seq_correct"])
            T["nograd.z_H"], T["nograd.z_L"] = f32(out["nograd_z_H"]), f32(out["nograd_z_L"])
            if is_hrm:
                T["out.next_q_halt"], T["out.next_q_continue"] = f32(out["next_q_halt"]), f32(out["next_q_continue"])
                T["out.target_q_continue"] = f32(out["target_q_continue"])
                T["out.q_continue_loss"] = f64(losses["q_continue_loss"])
                info["step1.target_q_continue"] = out["target_q_continue"].tolist()
            # The optimizers read but do not modify .grad, so these are the step-1 gradients.
            for pname, p in trainer.params.items():
                T[f"grad.{pname}"] = f32(p.grad)
            T["grad.puzzle_emb.local"] = f32(rows.grad)
            info["step1.min_abs_puzzle_grad_sum"] = _min_abs_summed_puzzle_grad(rows.grad, batch["puzzle_identifiers"])
            info["step1.near_zero_grads"] = _near_zero_grad_count(trainer.params)
        z_H, z_L = out["z_H"], out["z_L"]

    for pname, p in trainer.params.items():
        T[f"step{N_STEPS}.{pname}"] = f32(p)
        T[f"step{N_STEPS}.ema.{pname}"] = f32(trainer.ema.shadow[pname])
    T[f"step{N_STEPS}.puzzle_emb.weights"] = f32(model.puzzle_emb.weights)

    path = os.path.join(out_dir, f"{name}.safetensors")
    write_safetensors(path, T, {"config": cfg.to_json()})
    _verify_roundtrip(path, T, cfg)
    info["bytes"] = os.path.getsize(path)
    return info


def _min_abs_summed_puzzle_grad(row_grads: torch.Tensor, ids: torch.Tensor) -> float:
    """Smallest |g_u| entry after summing by id: SignSGD is sign-sensitive there.
    Columns that are identically zero (none expected) would be reported as 0."""
    uniq, inv = torch.unique(ids.long(), return_inverse=True)
    g = torch.zeros(len(uniq), row_grads.shape[-1], dtype=row_grads.dtype).index_add_(0, inv, row_grads)
    return float(g.abs().min())


def _near_zero_grad_count(params) -> int:
    """Non-zero gradient entries below 1e-4 of their tensor's RMS.  At step 1 AdamATan2 moves
    every entry by about +-lr whatever its size, so these entries' signs are fragile in fp32."""
    n = 0
    for p in params.values():
        g = p.grad
        rms = g.square().mean().sqrt()
        n += int(((g != 0) & (g.abs() < 1e-4 * rms)).sum())
    return n


def _verify_roundtrip(path, T, cfg):
    back, meta = read_safetensors(path)
    assert type(cfg).from_dict(__import__("json").loads(meta["config"])) == cfg
    assert set(back) == set(T)
    for k, (_, arr) in T.items():
        assert back[k].shape == arr.shape and np.array_equal(back[k], arr), k


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="tests/fixtures", help="output folder (created if missing)")
    ap.add_argument("--only", nargs="*", choices=sorted(FIXTURES), help="generate only these fixtures")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.set_num_threads(1)   # keep reductions in a fixed order run to run
    for name in args.only or FIXTURES:
        seed, cfg = FIXTURES[name]
        info = make_fixture(name, seed, cfg, args.out)
        print(f"{name}: {info['bytes']} bytes")
        for k, v in info.items():
            if k != "bytes":
                print(f"  {k} = {v!r}")


if __name__ == "__main__":
    main()
