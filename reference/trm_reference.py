"""PyTorch reference for the trm C++ port (Tiny Recursive Model).

This module is the executable form of docs/REFERENCE.md, sections 2 (model),
3.2 (one supervision step), 4 (loss head) and 5.1-5.4 (optimizers, schedule, EMA).  It exists so
that the C++ implementation can be compared, tensor by tensor, against an independent
implementation of the same contract.  It is written for clarity, not speed, and is meant to be run
in float64 so that the fixtures it produces are (to rounding) the exact answer; the upstream code
runs in bf16 and the C++ port in fp32, and both are compared against this.

Deliberately NOT covered here: the ACT slot refilling / halting decision of docs/REFERENCE.md §3.2 (the fixture
drives the carry by hand), datasets, and evaluation.  Those are pure control flow around the pieces
below.

Naming follows the upstream checkpoint: `embed_tokens.embedding_weight`, `lm_head.weight`,
`q_head.{weight,bias}`, `puzzle_emb.weights`, `H_init`, `L_init`, `embed_pos.embedding_weight`,
`L_level.layers.{i}.{self_attn|mlp_t|mlp}.*`.  Linear weights are [out, in] and y = x @ W^T.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

IGNORE_LABEL_ID = -100


# ----------------------------------------------------------------------------------------------
# Config
# ----------------------------------------------------------------------------------------------

@dataclass
class TRMConfig:
    """Model + training hyper-parameters.

    The field names are the keys of the fixture's __metadata__["config"] JSON, so the C++ side can
    read a fixture without any other knowledge.  Defaults are the upstream trm.yaml / ARC values.
    """

    # model (docs/REFERENCE.md §2.1)
    vocab_size: int = 11
    seq_len: int = 81
    batch_size: int = 768
    num_puzzle_identifiers: int = 1
    puzzle_emb_ndim: int = 512
    puzzle_emb_len: int = 16           # 0 means ceil(puzzle_emb_ndim / hidden_size)
    H_cycles: int = 3                  # T
    L_cycles: int = 6                  # n
    L_layers: int = 2
    hidden_size: int = 512
    num_heads: int = 8
    expansion: float = 4.0
    pos_encodings: str = "rope"        # "rope" | "learned" | anything else = none
    rms_norm_eps: float = 1e-5
    rope_theta: float = 10000.0
    halt_max_steps: int = 16
    mlp_t: bool = False
    # training (docs/REFERENCE.md §5)
    lr: float = 1e-4
    lr_warmup_steps: int = 2000
    lr_min_ratio: float = 1.0
    total_steps: int = 100000
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.95
    puzzle_emb_lr: float = 1e-2
    puzzle_emb_weight_decay: float = 0.1
    ema_rate: float = 0.999
    loss_divisor: float = 768          # = global batch size upstream

    # -- derived sizes ------------------------------------------------------------------------
    @property
    def prefix_len(self) -> int:
        """P: number of puzzle-embedding positions placed before the tokens."""
        if self.puzzle_emb_ndim <= 0:
            return 0
        if self.puzzle_emb_len == 0:
            return -(-self.puzzle_emb_ndim // self.hidden_size)
        return self.puzzle_emb_len

    @property
    def total_len(self) -> int:
        """L = S + P: the number of positions the network actually processes."""
        return self.seq_len + self.prefix_len

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_heads

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict) -> "TRMConfig":
        return cls(**d)


def swiglu_intermediate(hidden: int, expansion: float) -> int:
    """SwiGLU inner width: round(e*h*2/3), then rounded UP to a multiple of 256 (docs/REFERENCE.md §2.4).

    Python's round() (half-to-even) is what upstream uses; it only matters on exact .5 ties.
    """
    inter = round(expansion * hidden * 2 / 3)
    return -(-inter // 256) * 256


# ----------------------------------------------------------------------------------------------
# Initialisation
# ----------------------------------------------------------------------------------------------

def trunc_normal_(t: torch.Tensor, std: float) -> torch.Tensor:
    """Truncated normal on [-2 sigma', 2 sigma'] whose *resulting* std equals `std` (docs/REFERENCE.md §2.8).

    A plain N(0, sigma) truncated at +-2 sigma has a smaller std (factor ~0.8796), so sigma' is
    inflated by that factor.  Sampling is by inverse CDF of a uniform on [erf(-sqrt2), erf(sqrt2)].
    Exact init equality with the C++ side is not required; only the distribution matters.
    """
    if std == 0:
        with torch.no_grad():
            return t.zero_()
    lo, hi = -2.0, 2.0
    z = (math.erf(hi / math.sqrt(2)) - math.erf(lo / math.sqrt(2))) / 2
    pdf = lambda x: math.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)  # noqa: E731
    var_factor = 1 - (hi * pdf(hi) - lo * pdf(lo)) / z - ((pdf(hi) - pdf(lo)) / z) ** 2
    comp_std = std / math.sqrt(var_factor)
    with torch.no_grad():
        t.uniform_(math.erf(lo / math.sqrt(2)), math.erf(hi / math.sqrt(2)))
        t.erfinv_()
        t.mul_(math.sqrt(2) * comp_std)
        t.clamp_(lo * comp_std, hi * comp_std)
    return t


# ----------------------------------------------------------------------------------------------
# Building blocks
# ----------------------------------------------------------------------------------------------

def rms_norm(h: torch.Tensor, eps: float) -> torch.Tensor:
    """Weightless RMSNorm over the LAST axis (docs/REFERENCE.md §2.4).  No gain, no bias."""
    return h * torch.rsqrt(h.square().mean(dim=-1, keepdim=True) + eps)


def rope_cos_sin(length: int, head_dim: int, theta: float, dtype) -> Tuple[torch.Tensor, torch.Tensor]:
    """cos/sin tables [L, head_dim] for rotate-half RoPE; positions 0..L-1 include the prefix."""
    inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim))
    pos = torch.arange(length, dtype=torch.float64)
    freqs = torch.outer(pos, inv_freq)              # [L, head_dim/2]
    emb = torch.cat((freqs, freqs), dim=-1)         # [L, head_dim]: first and second half share angles
    return emb.cos().to(dtype), emb.sin().to(dtype)


def rotate_half(v: torch.Tensor) -> torch.Tensor:
    half = v.shape[-1] // 2
    return torch.cat((-v[..., half:], v[..., :half]), dim=-1)


def apply_rope(v: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """v: [B, L, H, hd]; cos/sin: [L, hd], broadcast over batch and heads."""
    cos, sin = cos.unsqueeze(-2), sin.unsqueeze(-2)
    return v * cos + rotate_half(v) * sin


class Linear(nn.Module):
    """y = x @ W^T (+ b); W is [out, in], LeCun truncated-normal init (std 1/sqrt(in))."""

    def __init__(self, in_features: int, out_features: int, bias: bool = False):
        super().__init__()
        self.weight = nn.Parameter(trunc_normal_(torch.empty(out_features, in_features), 1.0 / math.sqrt(in_features)))
        self.bias = nn.Parameter(torch.zeros(out_features)) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight, self.bias)


class Embedding(nn.Module):
    """Lookup table; the parameter is called `embedding_weight` to match upstream checkpoints."""

    def __init__(self, num: int, dim: int, std: float):
        super().__init__()
        self.embedding_weight = nn.Parameter(trunc_normal_(torch.empty(num, dim), std))

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        return F.embedding(idx, self.embedding_weight)


class SwiGLU(nn.Module):
    def __init__(self, hidden: int, expansion: float):
        super().__init__()
        inter = swiglu_intermediate(hidden, expansion)
        self.gate_up_proj = Linear(hidden, 2 * inter)
        self.down_proj = Linear(inter, hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # First half of the fused projection is the gate, second half is "up" (docs/REFERENCE.md §2.4).
        gate, up = self.gate_up_proj(x).chunk(2, dim=-1)
        return self.down_proj(F.silu(gate) * up)


class Attention(nn.Module):
    """Non-causal multi-head self-attention, fused QKV, RoPE on Q and K, no mask, no dropout."""

    def __init__(self, hidden: int, num_heads: int):
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = hidden // num_heads
        self.qkv_proj = Linear(hidden, 3 * hidden)
        self.o_proj = Linear(hidden, hidden)

    def forward(self, h: torch.Tensor, cos_sin: Optional[Tuple[torch.Tensor, torch.Tensor]]) -> torch.Tensor:
        B, L, D = h.shape
        H, hd = self.num_heads, self.head_dim
        # Output channels are laid out as 3H heads of hd: heads 0..H-1 = Q, H..2H-1 = K, 2H..3H-1 = V.
        qkv = self.qkv_proj(h).view(B, L, 3 * H, hd)
        q, k, v = qkv[:, :, :H], qkv[:, :, H:2 * H], qkv[:, :, 2 * H:]
        if cos_sin is not None:
            q = apply_rope(q, *cos_sin)
            k = apply_rope(k, *cos_sin)
        # torch 1.13 has no scaled_dot_product_attention, so spell it out: softmax(QK^T/sqrt(d))V.
        q, k, v = (t.transpose(1, 2) for t in (q, k, v))        # [B, H, L, hd]
        scores = q @ k.transpose(-1, -2) / math.sqrt(hd)
        out = torch.softmax(scores, dim=-1) @ v                  # [B, H, L, hd]
        out = out.transpose(1, 2).reshape(B, L, D)               # heads concatenated in head order
        return self.o_proj(out)


class Block(nn.Module):
    """Post-norm block (docs/REFERENCE.md §2.4).  Either attention or a sequence-axis SwiGLU, then channel SwiGLU."""

    def __init__(self, cfg: TRMConfig):
        super().__init__()
        self.eps = cfg.rms_norm_eps
        self.use_mlp_t = cfg.mlp_t
        if cfg.mlp_t:
            # Mixes along the sequence: its "hidden" size is L = S + P, weights shared over channels.
            self.mlp_t = SwiGLU(cfg.total_len, cfg.expansion)
        else:
            self.self_attn = Attention(cfg.hidden_size, cfg.num_heads)
        self.mlp = SwiGLU(cfg.hidden_size, cfg.expansion)

    def forward(self, h: torch.Tensor, cos_sin) -> torch.Tensor:
        if self.use_mlp_t:
            # Transposed to [B, D, L]: the RMSNorm here normalises each channel across positions,
            # which is the easy-to-miss part of this variant (docs/REFERENCE.md §10 item 2).
            ht = h.transpose(1, 2)
            ht = rms_norm(ht + self.mlp_t(ht), self.eps)
            h = ht.transpose(1, 2)
        else:
            h = rms_norm(h + self.self_attn(h, cos_sin), self.eps)
        return rms_norm(h + self.mlp(h), self.eps)


class ReasoningModule(nn.Module):
    """`net`: the injection is added once at the input, then the blocks run (docs/REFERENCE.md §2.5)."""

    def __init__(self, cfg: TRMConfig):
        super().__init__()
        self.layers = nn.ModuleList([Block(cfg) for _ in range(cfg.L_layers)])

    def forward(self, h: torch.Tensor, injection: torch.Tensor, cos_sin) -> torch.Tensor:
        h = h + injection
        for layer in self.layers:
            h = layer(h, cos_sin)
        return h


class PuzzleEmbedding(nn.Module):
    """Holds the puzzle table as a buffer: it is not an nn.Parameter upstream, so it is trained by
    the separate SignSGD (docs/REFERENCE.md §5.2), is not EMA'd and is not in the parameter count."""

    def __init__(self, num_ids: int, ndim: int):
        super().__init__()
        self.register_buffer("weights", torch.zeros(num_ids, ndim))


# ----------------------------------------------------------------------------------------------
# The model
# ----------------------------------------------------------------------------------------------

class TRM(nn.Module):
    def __init__(self, cfg: TRMConfig):
        super().__init__()
        self.cfg = cfg
        D = cfg.hidden_size
        self.embed_scale = math.sqrt(D)
        self.embed_tokens = Embedding(cfg.vocab_size, D, 1.0 / math.sqrt(D))
        self.lm_head = Linear(D, cfg.vocab_size)
        self.q_head = Linear(D, 2, bias=True)
        # Upstream starts the halting head at "never halt" (weight 0, bias -5).  Fixtures override this.
        with torch.no_grad():
            self.q_head.weight.zero_()
            self.q_head.bias.fill_(-5.0)
        if cfg.puzzle_emb_ndim > 0:
            self.puzzle_emb = PuzzleEmbedding(cfg.num_puzzle_identifiers, cfg.puzzle_emb_ndim)
        if cfg.pos_encodings == "learned":
            self.embed_pos = Embedding(cfg.total_len, D, 1.0 / math.sqrt(D))
        self.L_level = ReasoningModule(cfg)
        # Fixed random start states (docs/REFERENCE.md §2.8): buffers, never trained.
        self.register_buffer("H_init", trunc_normal_(torch.empty(D), 1.0))
        self.register_buffer("L_init", trunc_normal_(torch.empty(D), 1.0))

    # -- positional tables ------------------------------------------------------------------------
    def cos_sin(self):
        if self.cfg.pos_encodings != "rope":
            return None
        return rope_cos_sin(self.cfg.total_len, self.cfg.head_dim, self.cfg.rope_theta, self.H_init.dtype)

    # -- x ----------------------------------------------------------------------------------------
    def input_embeddings(self, inputs: torch.Tensor, puzzle_rows: Optional[torch.Tensor]) -> torch.Tensor:
        """x = sqrt(D) * [puzzle prefix ; token embeddings] (+ learned pos), shape [B, L, D].

        `puzzle_rows` is [B, puzzle_emb_ndim]: in training the gathered leaf tensor (see
        gather_puzzle_rows), so the puzzle gradient arrives per batch slot.
        """
        cfg = self.cfg
        B = inputs.shape[0]
        emb = self.embed_tokens(inputs.long())                               # [B, S, D]
        if cfg.puzzle_emb_ndim > 0:
            # Zero-pad the row to P*D and fold it into P prefix positions.  With ndim == D only
            # prefix position 0 is non-zero.
            pad = cfg.prefix_len * cfg.hidden_size - puzzle_rows.shape[-1]
            prefix = F.pad(puzzle_rows, (0, pad)).view(B, cfg.prefix_len, cfg.hidden_size)
            emb = torch.cat((prefix, emb), dim=-2)                          # prefix goes FIRST
        if cfg.pos_encodings == "learned":
            # 0.707106781 ~ 1/sqrt(2) keeps the sum of two unit-scale embeddings at unit scale.
            emb = 0.707106781 * (emb + self.embed_pos.embedding_weight)
        return self.embed_scale * emb

    # -- recursion --------------------------------------------------------------------------------
    def net(self, h, injection, cos_sin):
        return self.L_level(h, injection, cos_sin)

    def one_round(self, z_H, z_L, x, cos_sin):
        """n latent updates (x injected) then one answer update (x NOT injected; docs/REFERENCE.md §2.5)."""
        for _ in range(self.cfg.L_cycles):
            z_L = self.net(z_L, z_H + x, cos_sin)
        z_H = self.net(z_H, z_L, cos_sin)
        return z_H, z_L

    def nograd_rounds(self, z_H, z_L, x, cos_sin):
        """The first T-1 rounds: improve the state without building a graph (docs/REFERENCE.md §2.6)."""
        with torch.no_grad():
            for _ in range(self.cfg.H_cycles - 1):
                z_H, z_L = self.one_round(z_H, z_L, x, cos_sin)
        return z_H, z_L

    def heads(self, z_H):
        P = self.cfg.prefix_len
        logits = self.lm_head(z_H)[:, P:, :]          # prefix positions carry no prediction
        q = self.q_head(z_H[:, 0, :])                 # position 0 (the puzzle slot) acts as CLS
        return logits, q[:, 0], q[:, 1]

    def inner_forward(self, z_H, z_L, inputs, puzzle_rows) -> Dict[str, torch.Tensor]:
        """One supervision step.  The incoming carry is treated as a constant.

        Returns the new (detached) carry, logits [B,S,V], q_halt/q_continue [B], and the state after
        the no-grad rounds (useful for tests).  Gradients flow through the last round only, but
        through all n+1 net calls of it (docs/REFERENCE.md §10 item 4).
        """
        cos_sin = self.cos_sin()
        x = self.input_embeddings(inputs, puzzle_rows)
        z_H, z_L = self.nograd_rounds(z_H.detach(), z_L.detach(), x, cos_sin)
        nograd_H, nograd_L = z_H, z_L
        z_H, z_L = self.one_round(z_H, z_L, x, cos_sin)
        logits, q_halt, q_cont = self.heads(z_H)
        return dict(logits=logits, q_halt=q_halt, q_continue=q_cont,
                    z_H=z_H.detach(), z_L=z_L.detach(), nograd_z_H=nograd_H, nograd_z_L=nograd_L)

    def trainable_parameters(self) -> Dict[str, nn.Parameter]:
        return dict(self.named_parameters())


def gather_puzzle_rows(table: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """Copy W_puz[ids] into a fresh leaf that requires grad (docs/REFERENCE.md §5.2 "local_weights").

    Its .grad is then [B, ndim], one row per batch slot (duplicates not summed), which is exactly
    what the sparse SignSGD consumes.
    """
    return table[ids.long()].detach().clone().requires_grad_(True)


# ----------------------------------------------------------------------------------------------
# Loss head (docs/REFERENCE.md §4)
# ----------------------------------------------------------------------------------------------

def stablemax_log_probs(logits: torch.Tensor) -> torch.Tensor:
    """log( s(x_v) / sum_u s(x_u) ), s(x) = x+1 (x>=0) or 1/(1-x+1e-30) (x<0), in float64.

    torch.where routes the gradient only through the selected branch, so the unselected branch's
    singularities do no harm.
    """
    x = logits.to(torch.float64)
    s = torch.where(x < 0, 1.0 / (1.0 - x + 1e-30), x + 1.0)
    return torch.log(s / s.sum(dim=-1, keepdim=True))


def loss_head(logits, q_halt, labels, loss_divisor) -> Dict[str, torch.Tensor]:
    """lm_loss: per-sequence token mean of stablemax CE, summed over the batch.
    q_halt_loss: BCE-with-logits of q_halt vs exact sequence correctness, summed.
    loss = (lm_loss + 0.5*q_halt_loss) / loss_divisor is what gets backpropagated.
    """
    labels = labels.long()
    mask = labels != IGNORE_LABEL_ID
    n = mask.sum(-1)
    div = n.clamp_min(1).to(torch.float64)
    with torch.no_grad():
        pred = logits.argmax(-1)
        correct = mask & (pred == labels)
        # A fully masked row counts as correct (0 == 0), as upstream.
        seq_correct = correct.sum(-1) == n
    logp = stablemax_log_probs(logits)
    safe_labels = torch.where(mask, labels, torch.zeros_like(labels))
    ce = -logp.gather(-1, safe_labels.unsqueeze(-1)).squeeze(-1)
    ce = torch.where(mask, ce, torch.zeros_like(ce))
    lm_loss = (ce.sum(-1) / div).sum()
    q_halt_loss = F.binary_cross_entropy_with_logits(q_halt.to(torch.float64), seq_correct.to(torch.float64),
                                                     reduction="sum")
    loss = (lm_loss + 0.5 * q_halt_loss) / loss_divisor
    return dict(loss=loss, lm_loss=lm_loss, q_halt_loss=q_halt_loss, seq_correct=seq_correct, pred=pred)


# ----------------------------------------------------------------------------------------------
# Schedule, optimizers, EMA (docs/REFERENCE.md §5.1-5.4)
# ----------------------------------------------------------------------------------------------

def lr_schedule(step: int, base_lr: float, warmup_steps: int, total_steps: int, min_ratio: float) -> float:
    """`step` counts from 1 (it is incremented before use upstream), so step 1 gets base/W."""
    if step < warmup_steps:
        return base_lr * step / warmup_steps
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return base_lr * (min_ratio + max(0.0, (1 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))))


class AdamATan2:
    """The sapientinc adam-atan2 update (docs/REFERENCE.md §5.1), per element:

        theta *= 1 - lr*wd                               (decoupled decay FIRST, scaled by lr)
        m = b1*m + (1-b1)*g ;  v = b2*v + (1-b2)*g^2
        theta -= lr/(1-b1^t) * atan2(m, sqrt(v)/sqrt(1-b2^t))

    No epsilon: atan2 is bounded, and atan2(0, 0) = 0 makes a zero gradient a pure decay step.
    m enters the atan2 WITHOUT bias correction; the 1/(1-b1^t) factor is applied outside.
    """

    def __init__(self, params: Dict[str, torch.Tensor], beta1: float, beta2: float, weight_decay: float):
        self.params = params
        self.b1, self.b2, self.wd = beta1, beta2, weight_decay
        self.state = {name: dict(step=0, m=torch.zeros_like(p), v=torch.zeros_like(p)) for name, p in params.items()}

    @torch.no_grad()
    def step(self, lr: float):
        for name, p in self.params.items():
            if p.grad is None:          # untouched tensors are skipped entirely, step count included
                continue
            st = self.state[name]
            st["step"] += 1
            t = st["step"]
            g = p.grad
            p.mul_(1 - lr * self.wd)
            st["m"].mul_(self.b1).add_(g, alpha=1 - self.b1)
            st["v"].mul_(self.b2).addcmul_(g, g, value=1 - self.b2)
            denom = st["v"].sqrt() / math.sqrt(1 - self.b2 ** t)
            p.sub_(torch.atan2(st["m"], denom), alpha=lr / (1 - self.b1 ** t))


@torch.no_grad()
def sparse_sign_sgd_step(table: torch.Tensor, ids: torch.Tensor, row_grads: torch.Tensor, lr: float, wd: float):
    """SignSGD with decoupled decay on the puzzle rows present in the batch (docs/REFERENCE.md §5.2).

    Gradients of duplicate ids are summed BEFORE the sign; absent rows are neither decayed nor moved.
    """
    uniq, inverse = torch.unique(ids.long(), return_inverse=True)
    g = torch.zeros(len(uniq), row_grads.shape[-1], dtype=row_grads.dtype)
    g.index_add_(0, inverse, row_grads)
    table[uniq] = table[uniq] * (1 - lr * wd) - lr * torch.sign(g)   # torch.sign(0) == 0


class EMA:
    """e = rate*e + (1-rate)*theta after every step; starts at the initial params; no bias correction."""

    def __init__(self, params: Dict[str, torch.Tensor], rate: float):
        self.rate = rate
        self.params = params
        self.shadow = {name: p.detach().clone() for name, p in params.items()}

    @torch.no_grad()
    def update(self):
        for name, p in self.params.items():
            self.shadow[name].mul_(self.rate).add_(p.detach(), alpha=1 - self.rate)


class Trainer:
    """One optimizer step per supervision step, exactly the order of docs/REFERENCE.md §5.5 (without ACT refill)."""

    def __init__(self, model: TRM):
        cfg = model.cfg
        self.model = model
        self.cfg = cfg
        self.params = model.trainable_parameters()
        self.opt = AdamATan2(self.params, cfg.beta1, cfg.beta2, cfg.weight_decay)
        self.ema = EMA(self.params, cfg.ema_rate)
        self.step_count = 0

    def forward_loss(self, z_H, z_L, batch):
        """Forward + loss with a fresh puzzle leaf; returns (outputs, losses, puzzle_leaf)."""
        m = self.model
        rows = gather_puzzle_rows(m.puzzle_emb.weights, batch["puzzle_identifiers"]) if self.cfg.puzzle_emb_ndim > 0 else None
        out = m.inner_forward(z_H, z_L, batch["inputs"], rows)
        losses = loss_head(out["logits"], out["q_halt"], batch["labels"], self.cfg.loss_divisor)
        return out, losses, rows

    def train_step(self, z_H, z_L, batch):
        cfg = self.cfg
        self.step_count += 1
        s = self.step_count
        for p in self.params.values():
            p.grad = None
        out, losses, rows = self.forward_loss(z_H, z_L, batch)
        losses["loss"].backward()
        lr = lr_schedule(s, cfg.lr, cfg.lr_warmup_steps, cfg.total_steps, cfg.lr_min_ratio)
        lr_e = lr_schedule(s, cfg.puzzle_emb_lr, cfg.lr_warmup_steps, cfg.total_steps, cfg.lr_min_ratio)
        if rows is not None:
            sparse_sign_sgd_step(self.model.puzzle_emb.weights, batch["puzzle_identifiers"], rows.grad, lr_e,
                                 cfg.puzzle_emb_weight_decay)
        self.opt.step(lr)
        self.ema.update()
        return out, losses, rows


# ----------------------------------------------------------------------------------------------
# Parameter count without instantiating anything (docs/REFERENCE.md §2.10)
# ----------------------------------------------------------------------------------------------

def param_shapes(cfg: TRMConfig) -> Dict[str, List[int]]:
    """Shapes of every trainable nn.Parameter, by checkpoint name.  The puzzle table and
    H_init/L_init are buffers and are not listed."""
    D, V, L = cfg.hidden_size, cfg.vocab_size, cfg.total_len
    I = swiglu_intermediate(D, cfg.expansion)
    shapes = {
        "embed_tokens.embedding_weight": [V, D],
        "lm_head.weight": [V, D],
        "q_head.weight": [2, D],
        "q_head.bias": [2],
    }
    if cfg.pos_encodings == "learned":
        shapes["embed_pos.embedding_weight"] = [L, D]
    for i in range(cfg.L_layers):
        pre = f"L_level.layers.{i}."
        if cfg.mlp_t:
            It = swiglu_intermediate(L, cfg.expansion)
            shapes[pre + "mlp_t.gate_up_proj.weight"] = [2 * It, L]
            shapes[pre + "mlp_t.down_proj.weight"] = [L, It]
        else:
            shapes[pre + "self_attn.qkv_proj.weight"] = [3 * D, D]
            shapes[pre + "self_attn.o_proj.weight"] = [D, D]
        shapes[pre + "mlp.gate_up_proj.weight"] = [2 * I, D]
        shapes[pre + "mlp.down_proj.weight"] = [D, I]
    return shapes


def count_params(cfg: TRMConfig) -> int:
    return sum(math.prod(s) for s in param_shapes(cfg).values())
