"""PyTorch reference for the HRM baseline (Hierarchical Reasoning Model, sapientinc/HRM).

HRM is what the TRM paper compares against.  It shares TRM's pieces (input embedding, post-norm
attention block, heads, loss, AdamATan2, SignSGD, EMA) and differs in three places, written out
here from models/hrm/hrm_act_v1.py and models/losses.py of sapientinc/HRM:

1. Two networks with separate weights: L_level (L_layers blocks) and H_level (H_layers blocks),
   checkpoint names `L_level.layers.{i}.*` and `H_level.layers.{j}.*`.  Input injection is the
   same as TRM's: z_L <- L(z_L + (z_H + x)), z_H <- H(z_H + z_L).
2. The recurrence and its gradient scope: H_cycles x L_cycles L-calls, one H-call after each
   H-cycle; every call except the LAST L call and the LAST H call runs without gradient (the
   "one-step gradient" of the HRM paper).  TRM instead differentiates a whole round.
3. ACT by Q-learning (no_ACT_continue=False in TRM's terms, docs/REFERENCE.md §3.3): training halts when
   q_halt > q_continue, and q_continue is trained with BCE against
   sigmoid(is_last_step ? next_q_halt : max(next_q_halt, next_q_continue)), where next_q comes from
   one more no-grad inner forward from the NEW carry, same data, same weights.
   loss = lm_loss + 0.5 * (q_halt_loss + q_continue_loss).

Everything runs in float64 like trm_reference.py.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Dict

import torch
import torch.nn as nn
import torch.nn.functional as F

from trm_reference import TRM, Block, TRMConfig, Trainer, loss_head, param_shapes


@dataclass
class HRMConfig(TRMConfig):
    """TRMConfig plus HRM's second network.  `arch` tells the C++ side which recurrence to run."""

    arch: str = "hrm"
    H_layers: int = 4


class Level(nn.Module):
    """One of HRM's two ReasoningModules: injection added once, then `n_layers` blocks."""

    def __init__(self, cfg: HRMConfig, n_layers: int):
        super().__init__()
        self.layers = nn.ModuleList([Block(cfg) for _ in range(n_layers)])

    def forward(self, h, injection, cos_sin):
        h = h + injection
        for layer in self.layers:
            h = layer(h, cos_sin)
        return h


class HRM(TRM):
    def __init__(self, cfg: HRMConfig):
        assert cfg.arch == "hrm" and not cfg.mlp_t
        super().__init__(cfg)
        self.L_level = Level(cfg, cfg.L_layers)
        self.H_level = Level(cfg, cfg.H_layers)

    def inner_forward(self, z_H, z_L, inputs, puzzle_rows) -> Dict[str, torch.Tensor]:
        cfg = self.cfg
        cos_sin = self.cos_sin()
        x = self.input_embeddings(inputs, puzzle_rows)
        with torch.no_grad():
            z_H, z_L = z_H.detach(), z_L.detach()
            for h in range(cfg.H_cycles):
                for l in range(cfg.L_cycles):
                    if not (h == cfg.H_cycles - 1 and l == cfg.L_cycles - 1):
                        z_L = self.L_level(z_L, z_H + x, cos_sin)
                if h != cfg.H_cycles - 1:
                    z_H = self.H_level(z_H, z_L, cos_sin)
        nograd_H, nograd_L = z_H, z_L
        # The one-step gradient: only these two calls are differentiated.
        z_L = self.L_level(z_L, z_H + x, cos_sin)
        z_H = self.H_level(z_H, z_L, cos_sin)
        logits, q_halt, q_cont = self.heads(z_H)
        return dict(logits=logits, q_halt=q_halt, q_continue=q_cont,
                    z_H=z_H.detach(), z_L=z_L.detach(), nograd_z_H=nograd_H, nograd_z_L=nograd_L)


def hrm_param_shapes(cfg: HRMConfig):
    shapes = param_shapes(cfg)  # embeddings, heads, L_level
    for name, shape in list(shapes.items()):
        if name.startswith("L_level.layers.0."):
            for j in range(cfg.H_layers):
                shapes[f"H_level.layers.{j}." + name[len("L_level.layers.0."):]] = shape
    return shapes


def hrm_count_params(cfg: HRMConfig) -> int:
    return sum(math.prod(s) for s in hrm_param_shapes(cfg).values())


def q_continue_target(next_q_halt, next_q_continue, steps, halt_max_steps):
    """sigmoid(is_last ? next_q_halt : max(next_q_halt, next_q_continue)); `steps` counts the
    supervision steps BEFORE this one, so is_last = steps + 1 >= halt_max_steps."""
    is_last = (steps + 1) >= halt_max_steps
    return torch.sigmoid(torch.where(is_last, next_q_halt, torch.maximum(next_q_halt, next_q_continue)))


class HRMTrainer(Trainer):
    """Trainer whose loss has HRM's q_continue term.  batch["steps"] (int [B], steps taken before
    this call; zeros if absent) decides which slots are at their last step."""

    def forward_loss(self, z_H, z_L, batch):
        m, cfg = self.model, self.cfg
        rows = None
        if cfg.puzzle_emb_ndim > 0:
            rows = m.puzzle_emb.weights[batch["puzzle_identifiers"].long()].detach().clone().requires_grad_(True)
        out = m.inner_forward(z_H, z_L, batch["inputs"], rows)
        losses = loss_head(out["logits"], out["q_halt"], batch["labels"], cfg.loss_divisor)
        with torch.no_grad():
            nxt = m.inner_forward(out["z_H"], out["z_L"], batch["inputs"], rows)
        steps = batch.get("steps", torch.zeros(batch["inputs"].shape[0], dtype=torch.int32))
        target = q_continue_target(nxt["q_halt"], nxt["q_continue"], steps.long(), cfg.halt_max_steps)
        qc = F.binary_cross_entropy_with_logits(out["q_continue"].to(torch.float64), target.to(torch.float64),
                                                reduction="sum")
        losses["q_continue_loss"] = qc
        losses["loss"] = losses["loss"] + 0.5 * qc / cfg.loss_divisor
        out["next_q_halt"], out["next_q_continue"], out["target_q_continue"] = nxt["q_halt"], nxt["q_continue"], target
        return out, losses, rows
