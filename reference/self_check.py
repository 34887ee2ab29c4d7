"""Sanity checks of the reference itself (not of the C++ code).

    /usr/bin/python3 reference/self_check.py [--fixtures tests/fixtures]

1. count_params() against the paper's totals (docs/REFERENCE.md §2.10).
2. Autograd vs central finite differences in float64, with the state that leaves the no-grad
   rounds held fixed (that is the function autograd differentiates: docs/REFERENCE.md §2.6).
3. The optimizer pieces against scalar re-statements of docs/REFERENCE.md §5.1-5.3.
4. Each fixture, reloaded from disk and replayed in float64, reproduces its own stored outputs,
   and seq_correct is [0, 1, 0, 1].
5. Informational: the same replay in float32, i.e. roughly what an fp32 C++ port should see.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys

import numpy as np
import torch

sys.dont_write_bytecode = True  # keep the source tree clean (no __pycache__ next to the scripts)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_io import read_safetensors  # noqa: E402
from trm_reference import (TRM, AdamATan2, TRMConfig, Trainer, count_params, gather_puzzle_rows,  # noqa: E402
                           loss_head, lr_schedule, sparse_sign_sgd_step)

FIXTURE_NAMES = ["trm_att", "trm_mlp", "trm_learned"]


# ------------------------------------------------------------------------------------------------
def check_param_counts():
    base = dict(hidden_size=512, num_heads=8, expansion=4.0, L_layers=2, puzzle_emb_len=16, puzzle_emb_ndim=512)
    cases = [
        ("Sudoku MLP", dict(vocab_size=11, seq_len=81, mlp_t=True, pos_encodings="none"), 5_028_866),
        ("Sudoku Att", dict(vocab_size=11, seq_len=81), 6_828_034),
        ("Maze Att", dict(vocab_size=6, seq_len=900), 6_822_914),
        ("ARC Att", dict(vocab_size=12, seq_len=900), 6_829_058),
        ("Maze MLP", dict(vocab_size=6, seq_len=900, mlp_t=True, pos_encodings="none"), 18_795_522),
        ("ARC MLP", dict(vocab_size=12, seq_len=900, mlp_t=True, pos_encodings="none"), 18_801_666),
    ]
    for name, kw, want in cases:
        got = count_params(TRMConfig(**base, **kw))
        print(f"  params {name:10s} = {got:>10,d}  (spec {want:,d})")
        assert got == want, name
    # And the shape table agrees with an instantiated model (small Sudoku-size ones are cheap).
    for kw in (cases[0][1], cases[1][1]):
        cfg = TRMConfig(**base, **kw)
        assert count_params(cfg) == sum(p.numel() for p in TRM(cfg).parameters())


# ------------------------------------------------------------------------------------------------
def load_fixture(path: str, dtype=torch.float64):
    """Rebuild model, batch and carry from a fixture file."""
    T, meta = read_safetensors(path)
    cfg = TRMConfig.from_dict(json.loads(meta["config"]))
    torch.manual_seed(0)
    model = TRM(cfg).to(dtype)
    with torch.no_grad():
        for name, t in list(model.named_parameters()) + list(model.named_buffers()):
            t.copy_(torch.from_numpy(T[name]))
    batch = {k: torch.from_numpy(T[f"batch.{k}"]) for k in ("inputs", "labels", "puzzle_identifiers")}
    carry = tuple(torch.from_numpy(T[f"carry.{k}"]).to(dtype) for k in ("z_H", "z_L"))
    return cfg, model, batch, carry, T


def check_finite_differences(path: str):
    cfg, model, batch, (z_H, z_L), _ = load_fixture(path)
    rows = gather_puzzle_rows(model.puzzle_emb.weights, batch["puzzle_identifiers"])
    out = model.inner_forward(z_H, z_L, batch["inputs"], rows)
    loss = loss_head(out["logits"], out["q_halt"], batch["labels"], cfg.loss_divisor)["loss"]
    loss.backward()
    fixed_H, fixed_L = out["nograd_z_H"], out["nograd_z_L"]

    def last_round_loss():
        # x depends on the weights and is recomputed; the state entering the last round is not.
        with torch.no_grad():
            x = model.input_embeddings(batch["inputs"], rows)
            zH, _ = model.one_round(fixed_H, fixed_L, x, model.cos_sin())
            logits, q_halt, _ = model.heads(zH)
            return float(loss_head(logits, q_halt, batch["labels"], cfg.loss_divisor)["loss"])

    params = dict(model.named_parameters())
    probes = [(n, i) for n in params for i in (0, 7)] + [("<puzzle.local>", 0), ("<puzzle.local>", 70)]
    gen = torch.Generator().manual_seed(1)
    worst = 0.0
    for name, which in probes:
        t = rows if name == "<puzzle.local>" else params[name]
        flat_idx = int(torch.randint(t.numel(), (1,), generator=gen)) if which else int(t.grad.abs().argmax())
        g_auto = float(t.grad.view(-1)[flat_idx])
        eps = 1e-5
        with torch.no_grad():
            orig = float(t.view(-1)[flat_idx])
            t.view(-1)[flat_idx] = orig + eps
            lp = last_round_loss()
            t.view(-1)[flat_idx] = orig - eps
            lm = last_round_loss()
            t.view(-1)[flat_idx] = orig
        g_fd = (lp - lm) / (2 * eps)
        err = abs(g_fd - g_auto) / max(abs(g_auto), 1e-6)
        worst = max(worst, err)
        assert err < 1e-5, (name, flat_idx, g_auto, g_fd)
    print(f"  {os.path.basename(path)}: {len(probes)} finite-difference probes, worst rel. error {worst:.2e}")


# ------------------------------------------------------------------------------------------------
def check_optimizer_pieces():
    # Schedule: warmup uses step/W with step counted from 1; r = 1 makes the tail constant.
    assert lr_schedule(1, 1e-3, 2, 100, 1.0) == 0.5e-3
    assert lr_schedule(2, 1e-3, 2, 100, 1.0) == 1e-3
    assert abs(lr_schedule(51, 1.0, 1, 101, 0.0) - 0.5) < 1e-12        # cosine midpoint
    assert abs(lr_schedule(101, 1.0, 1, 101, 0.1) - 0.1) < 1e-12       # cosine end at r

    # AdamATan2 against a scalar restatement over three steps, including a zero gradient.
    p = torch.nn.Parameter(torch.tensor([0.5, -0.3, 0.2], dtype=torch.float64))
    opt = AdamATan2({"p": p}, 0.9, 0.95, 0.1)
    ref, m, v = [0.5, -0.3, 0.2], [0.0] * 3, [0.0] * 3
    for t, (g, lr) in enumerate([([1e-3, -2.0, 0.0], 1e-2), ([3e-3, 1.0, 0.0], 2e-2), ([-1e-3, 0.5, 0.0], 2e-2)], 1):
        p.grad = torch.tensor(g, dtype=torch.float64)
        opt.step(lr)
        for i in range(3):
            ref[i] *= 1 - lr * 0.1
            m[i] = 0.9 * m[i] + 0.1 * g[i]
            v[i] = 0.95 * v[i] + 0.05 * g[i] ** 2
            ref[i] -= lr / (1 - 0.9 ** t) * math.atan2(m[i], math.sqrt(v[i]) / math.sqrt(1 - 0.95 ** t))
    assert torch.allclose(p.detach(), torch.tensor(ref, dtype=torch.float64), rtol=0, atol=1e-15)

    # SignSGD: duplicate ids summed before the sign (here they cancel in column 0), absent rows untouched.
    W = torch.ones(4, 2, dtype=torch.float64)
    ids = torch.tensor([1, 3, 1])
    g = torch.tensor([[1.0, 2.0], [-1.0, 0.0], [-1.0, 1.0]], dtype=torch.float64)
    sparse_sign_sgd_step(W, ids, g, lr=0.1, wd=0.5)
    want = torch.tensor([[1, 1], [0.95, 0.85], [1, 1], [1.05, 0.95]], dtype=torch.float64)
    assert torch.allclose(W, want, rtol=0, atol=1e-15), W
    print("  schedule, AdamATan2, SignSGD: ok")


# ------------------------------------------------------------------------------------------------
def replay(path: str, dtype):
    """Re-run the fixture's 3 training steps from the stored initial state; return name -> value."""
    cfg, model, batch, (z_H, z_L), T = load_fixture(path, dtype)
    tr = Trainer(model)
    got = {}
    for s in (1, 2, 3):
        out, losses, rows = tr.train_step(z_H, z_L, batch)
        got[f"step{s}.loss"] = losses["loss"]
        if s == 1:
            got.update({"out.logits": out["logits"], "out.q_halt": out["q_halt"], "out.q_continue": out["q_continue"],
                        "out.z_H": out["z_H"], "out.z_L": out["z_L"], "out.loss": losses["loss"],
                        "out.lm_loss": losses["lm_loss"], "out.q_halt_loss": losses["q_halt_loss"],
                        "out.seq_correct": losses["seq_correct"], "nograd.z_H": out["nograd_z_H"],
                        "nograd.z_L": out["nograd_z_L"], "grad.puzzle_emb.local": rows.grad})
            got.update({f"grad.{n}": p.grad.clone() for n, p in tr.params.items()})
        z_H, z_L = out["z_H"], out["z_L"]
    got.update({f"step3.{n}": p for n, p in tr.params.items()})
    got.update({f"step3.ema.{n}": e for n, e in tr.ema.shadow.items()})
    got["step3.puzzle_emb.weights"] = model.puzzle_emb.weights
    return {k: np.atleast_1d(v.detach().cpu().numpy()) for k, v in got.items()}, T


def check_fixture(path: str):
    got, T = replay(path, torch.float64)
    assert T["out.seq_correct"].tolist() == [0, 1, 0, 1], T["out.seq_correct"]
    for k, v in got.items():
        stored = T[k]
        want = v.astype(stored.dtype)
        assert want.shape == stored.shape and np.array_equal(want, stored), k
    print(f"  {os.path.basename(path)}: float64 replay reproduces all {len(got)} stored outputs bit-exactly; "
          f"seq_correct = {T['out.seq_correct'].tolist()}; out.loss = {T['out.loss'][0]!r}")


def report_fp32(path: str):
    """How far a plain float32 run lands from the fixture (informational, for C++ tolerances)."""
    got, T = replay(path, torch.float32)
    def rel(k):
        a, b = got[k].astype(np.float64), T[k].astype(np.float64)
        return np.abs(a - b).max() / max(np.abs(b).max(), 1e-30)
    lines = [f"  {os.path.basename(path)} fp32 replay, max|diff|/max|ref|:"]
    for k in ("out.logits", "out.z_H", "nograd.z_H", "out.loss", "step3.loss", "grad.L_level.layers.0.mlp.down_proj.weight",
              "grad.puzzle_emb.local"):
        lines.append(f"    {k:45s} {rel(k):.1e}")
    # Parameter deltas after 3 AdamATan2 steps: sign-fragile tiny gradients show up as ~lr outliers.
    worst, n_out = 0.0, 0
    for k in T:
        if k.startswith("step3.") and not k.startswith("step3.ema.") and k != "step3.loss":
            d = np.abs(got[k].astype(np.float64) - T[k].astype(np.float64))
            worst = max(worst, float(d.max()))
            n_out += int((d > 1e-5).sum())
    lines.append(f"    step3 params: max abs diff {worst:.1e}; entries off by > 1e-5: {n_out}")
    print("\n".join(lines))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fixtures", default="tests/fixtures")
    args = ap.parse_args()
    torch.set_num_threads(1)
    print("parameter counts:")
    check_param_counts()
    print("optimizer pieces:")
    check_optimizer_pieces()
    paths = [os.path.join(args.fixtures, f"{n}.safetensors") for n in FIXTURE_NAMES]
    print("finite differences (float64):")
    for p in paths:
        check_finite_differences(p)
    print("fixtures:")
    for p in paths:
        check_fixture(p)
    print("float32 replay (informational):")
    for p in paths:
        report_fp32(p)
    print("all checks passed")


if __name__ == "__main__":
    main()
