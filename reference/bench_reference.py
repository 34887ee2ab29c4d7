"""PyTorch side of `bench/compare.sh`: the workload of `trm bench` on the reference model.

    trm info sudoku-mlp > cfg.json
    /usr/bin/python3 reference/bench_reference.py train --config cfg.json --batch 8 --threads 2

Prints one JSON line with the keys `trm bench` prints (impl = "pytorch").  The model is
reference/trm_reference.py in float32 (the loss in float64, as upstream and as trm), the batch is
synthetic (tokens and labels uniform over the non-pad vocabulary), and an iteration is
  train: one optimizer step = zero grads, forward of one supervision step with the
         differentiated last round, stablemax + halting loss, backward, SignSGD on the puzzle
         rows, AdamATan2, EMA  (trm_reference.Trainer.train_step);
  infer: a fresh carry and halt_max_steps supervision steps under torch.no_grad().
Definitions of the figures: docs/PERFORMANCE.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import resource
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import trm_reference as ref  # noqa: E402


def flops_per_sample_step(c: ref.TRMConfig, training: bool) -> float:
    """Same analytic count as trm's src/bench/flops.cpp."""
    L, D = c.total_len, c.hidden_size
    I = ref.swiglu_intermediate(D, c.expansion)
    per_layer = 2 * L * D * (2 * I) + 2 * L * I * D
    if c.mlp_t:
        It = ref.swiglu_intermediate(L, c.expansion)
        per_layer += 2 * D * L * (2 * It) + 2 * D * It * L
    else:
        per_layer += 2 * L * D * (3 * D) + 2 * L * D * D + 2 * (2 * L * L * D)
    heads = 2.0 * c.seq_len * D * c.vocab_size + 2.0 * D * 2
    if getattr(c, "arch", "trm") == "hrm":
        l_call, h_call = per_layer * c.L_layers, per_layer * c.H_layers
        fwd = c.H_cycles * (c.L_cycles * l_call + h_call) + heads
        return 2 * fwd + 2 * (l_call + h_call + heads) if training else fwd
    net = per_layer * c.L_layers
    calls = c.L_cycles + 1
    fwd = c.H_cycles * calls * net + heads
    return fwd + 2 * (calls * net + heads) if training else fwd


def sgemm_gflops(n: int = 1536, reps: int = 5) -> float:
    a = torch.rand(n, n) - 0.5
    b = torch.rand(n, n) - 0.5
    rates = []
    for r in range(reps + 1):
        t0 = time.perf_counter()
        torch.mm(a, b)
        dt = time.perf_counter() - t0
        if r > 0:
            rates.append(2.0 * n ** 3 / dt * 1e-9)
    return statistics.median(rates)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=["train", "infer"])
    ap.add_argument("--config", required=True, help="JSON printed by `trm info PRESET [key=value ...]`")
    ap.add_argument("--preset", default="")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--iterations", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--threads", type=int, default=int(os.environ.get("OMP_NUM_THREADS", "2")))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-sgemm", action="store_true")
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    with open(a.config) as f:
        info = json.load(f)
    merged = {**info.get("model", {}), **info.get("optimizer", {})}
    hrm = merged.get("arch", "trm") == "hrm"
    if hrm:
        import hrm_reference  # noqa: E402  (HRM: two networks, one-step gradient, Q-continue loss)
        config_cls, model_cls, trainer_cls = hrm_reference.HRMConfig, hrm_reference.HRM, hrm_reference.HRMTrainer
    else:
        config_cls, model_cls, trainer_cls = ref.TRMConfig, ref.TRM, ref.Trainer
    fields = {f.name for f in dataclasses.fields(config_cls)}
    cfg = config_cls(**{k: v for k, v in merged.items() if k in fields})
    cfg.pos_encodings = info["model"]["pos_encodings"]
    B = a.batch
    cfg.batch_size = B
    cfg.loss_divisor = B
    cfg.lr_warmup_steps = 1  # a real learning rate from the first step, as trm bench
    training = a.mode == "train"

    model = model_cls(cfg).float()
    L, D, S, V = cfg.total_len, cfg.hidden_size, cfg.seq_len, cfg.vocab_size
    batch = {
        "inputs": torch.randint(1, V, (B, S), dtype=torch.int32),
        "labels": torch.randint(1, V, (B, S), dtype=torch.int32),
        "puzzle_identifiers": torch.randint(0, cfg.num_puzzle_identifiers, (B,), dtype=torch.int32),
    }
    z_H = model.H_init.expand(B, L, D).clone()
    z_L = model.L_init.expand(B, L, D).clone()
    trainer = trainer_cls(model) if training else None

    def iteration():
        nonlocal z_H, z_L
        if training:
            out, _, _ = trainer.train_step(z_H, z_L, batch)
            z_H, z_L = out["z_H"], out["z_L"]
        else:
            with torch.no_grad():
                zh = model.H_init.expand(B, L, D).clone()
                zl = model.L_init.expand(B, L, D).clone()
                rows = model.puzzle_emb.weights[batch["puzzle_identifiers"].long()] if cfg.puzzle_emb_ndim > 0 else None
                for _ in range(cfg.halt_max_steps):
                    out = model.inner_forward(zh, zl, batch["inputs"], rows)
                    zh, zl = out["z_H"], out["z_L"]

    for _ in range(a.warmup):
        iteration()
    secs = []
    for _ in range(a.iterations):
        t0 = time.perf_counter()
        iteration()
        secs.append(time.perf_counter() - t0)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    it_s = statistics.median(secs)
    steps = 1 if training else cfg.halt_max_steps
    step_s = it_s / steps
    gflops = flops_per_sample_step(cfg, training) * B / step_s * 1e-9
    rep = {"impl": "pytorch", "torch": torch.__version__, "preset": a.preset, "mode": a.mode, "batch": B,
           "threads": torch.get_num_threads(), "iterations": a.iterations, "ms_per_step": step_s * 1e3,
           "supervision_steps_per_s": B / step_s, "samples_per_s": B / it_s, "gflops": gflops,
           "peak_rss_mib": rss}
    if not a.no_sgemm:
        sg = sgemm_gflops()
        rep["sgemm_gflops"] = sg
        rep["sgemm_fraction"] = gflops / sg
    print(json.dumps(rep, sort_keys=True), flush=True)


if __name__ == "__main__":
    main()
