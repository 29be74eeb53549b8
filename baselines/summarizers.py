"""The field's own video-summarization models, written from their papers and checked against their code:
VASNet (Fajtl et al., ACCV 2018 workshops) and PGL-SUM (Apostolidis et al., IEEE ISM 2021).

Both regress per-step importance in [0, 1] (a sigmoid head) from the whole video at once: their attention is
bidirectional, as in the papers (summarization is offline). Each video is attended on its own steps only,
so a padded batch gives every video the output it would have alone. Where the task's features are not as
wide as the attention (the papers': 1,024 GoogLeNet features), a linear projection to ``hidden`` comes
first; on the eccv16 files (1,024 wide) there is none and the network is the paper's.

Training follows each paper's recipe under rlbench's update budget: Adam at lr 5e-5 with weight decay 1e-5,
MSE against the ground-truth importance, VASNet one video per update, PGL-SUM 20 (its gradient
accumulation over 20 videos; here one masked mean over their steps) with gradients clipped at 5. The
initialisation of PGL-SUM's code (xavier uniform with gain sqrt(2), biases 0.1) is used for both.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from baselines.sequence_regressor import SequenceRegressor, SequenceRegressorOptions
from benchmark.api import check_options

PAPER_WIDTH = 1024  # GoogLeNet pool5, the width both papers' attention works at


@dataclass
class SummarizerOptions(SequenceRegressorOptions):
    """What the three papers' recipes share: Adam at 5e-5 with weight decay 1e-5, dropout 0.5, attention
    at the GoogLeNet width."""

    hidden: int = PAPER_WIDTH
    lr: float = 5e-5
    weight_decay: float = 1e-5
    dropout: float = 0.5

    SEARCH_SPACE: ClassVar[dict[str, tuple]] = {
        "lr": ("log-uniform", 1e-5, 1e-3),
        "hidden": ("choice", [256, 512, 1024]),
        "batch_size": ("choice", [1, 4, 8]),
        "weight_decay": ("choice", [0.0, 1e-5, 1e-4]),
    }

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout!r}")


@dataclass
class VASNetOptions(SummarizerOptions):
    batch_size: int = 1
    grad_clip: float = 0.0  # VASNet clips nothing
    scale: float = 0.06  # VASNet scales the queries by a constant, not by 1/sqrt(d)

    def __post_init__(self) -> None:
        super().__post_init__()
        check_options(self, positive=("scale",))


@dataclass
class PGLSumOptions(SummarizerOptions):
    batch_size: int = 20
    grad_clip: float = 5.0
    heads: int = 8  # global attention heads
    segments: int = 4  # local attention: the video cut into this many equal parts, one attention each
    local_heads: int = 4
    positions: str = "absolute"  # absolute | none: PGL-SUM's sinusoidal encoding, added to the energies
    fusion: str = "add"  # add | mult | avg | max: how global and local outputs are combined

    SEARCH_SPACE: ClassVar[dict[str, tuple]] = {**SummarizerOptions.SEARCH_SPACE,
                                                "batch_size": ("choice", [4, 10, 20])}

    def __post_init__(self) -> None:
        super().__post_init__()
        check_options(self, at_least_1=("heads", "local_heads"),
                      choices={"positions": ("absolute", "none"), "fusion": ("add", "mult", "avg", "max")})
        if self.segments < 2:
            raise ValueError(f"segments must be >= 2 (PGL-SUM's local attention), got {self.segments!r}")
        if self.hidden % self.heads or (self.hidden // self.segments) % self.local_heads:
            raise ValueError(f"hidden ({self.hidden}) must divide by heads ({self.heads}), and hidden / segments "
                             f"({self.hidden // self.segments}) by local_heads ({self.local_heads})")


class LayerNorm(nn.Module):
    """The layer norm of both papers' code: the sample standard deviation, epsilon added to it."""

    def __init__(self, width: int, eps: float = 1e-6):
        super().__init__()
        self.gamma, self.beta, self.eps = nn.Parameter(torch.ones(width)), nn.Parameter(torch.zeros(width)), eps

    def forward(self, x):
        return self.gamma * (x - x.mean(-1, keepdim=True)) / (x.std(-1, keepdim=True) + self.eps) + self.beta


def paper_init(module: nn.Module) -> None:
    if isinstance(module, nn.Linear):
        nn.init.xavier_uniform_(module.weight, gain=math.sqrt(2.0))
        if module.bias is not None:
            nn.init.constant_(module.bias, 0.1)


class PerVideo(nn.Module):
    """A network over one video ``[T, D] -> [T, n_out]`` applied to each video of a padded batch on its own
    steps; padded steps come out as 0 and are never read."""

    n_out = 1

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        lengths = [x.shape[1]] * x.shape[0] if mask is None else mask.sum(1).long().tolist()
        out = x.new_zeros(x.shape[0], x.shape[1], self.n_out)
        for b, n in enumerate(lengths):
            if n:
                out[b, :n] = self.video(x[b, :n])
        return out

    def video(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


def projection(input_dim: int, width: int) -> nn.Module:
    return nn.Identity() if input_dim == width else nn.Linear(input_dim, width)


class VASNetAttention(nn.Module):
    """VASNet's soft self-attention: one head, queries scaled by a constant, dropout on the weights."""

    def __init__(self, width: int, scale: float, dropout: float):
        super().__init__()
        self.key, self.query, self.value, self.out = (nn.Linear(width, width, bias=False) for _ in range(4))
        self.scale, self.drop = scale, nn.Dropout(dropout)

    def forward(self, x):
        weights = torch.softmax((self.query(x) * self.scale) @ self.key(x).T, dim=-1)
        return self.out(self.drop(weights) @ self.value(x))


class VASNet(PerVideo):
    def __init__(self, input_dim: int, o: VASNetOptions):
        super().__init__()
        self.inp = projection(input_dim, o.hidden)
        self.attention = VASNetAttention(o.hidden, o.scale, o.dropout)
        self.norm_y, self.norm_ka = LayerNorm(o.hidden), LayerNorm(o.hidden)
        # the two-layer regressor; VASNet's code also builds two linear layers (kb, kc) it never uses,
        # left out here: they would only add 2.1 M parameters that no gradient reaches
        self.ka, self.kd = nn.Linear(o.hidden, o.hidden), nn.Linear(o.hidden, 1)
        self.drop = nn.Dropout(o.dropout)
        self.apply(paper_init)

    def video(self, x):
        x = self.inp(x)
        y = self.norm_y(self.drop(self.attention(x) + x))
        y = self.norm_ka(self.drop(torch.relu(self.ka(y))))
        return torch.sigmoid(self.kd(y))


class PGLAttention(nn.Module):
    """PGL-SUM's multi-head attention cell: unscaled energies, plus (``absolute``) its sinusoidal encoding
    of the frame positions added to the energies, dropout on the weights, heads concatenated and projected
    back to the input width."""

    def __init__(self, width: int, inner: int, heads: int, positions: str, dropout: float, freq: float = 10000.0):
        super().__init__()
        self.heads, self.positions, self.freq, self.width = heads, positions, freq, width
        self.key, self.query, self.value = (nn.Linear(width, inner, bias=False) for _ in range(3))
        self.out = nn.Linear(inner, width, bias=False)
        self.drop = nn.Dropout(dropout)

    def absolute_positions(self, t: int, like: torch.Tensor) -> torch.Tensor:
        """``[T, T]``: row = the frame's position, columns 2i and 2i+1 the sine and cosine at frequency
        freq^(2i / width), as PGL-SUM's code computes it (columns past 2 * (T // 2) stay 0)."""
        pos = torch.arange(t, device=like.device, dtype=like.dtype)[:, None]
        i = torch.arange(t // 2, device=like.device, dtype=like.dtype)[None, :]
        angle = pos / self.freq ** (2 * i / self.width)
        table = like.new_zeros(t, t)
        table[:, 0: 2 * (t // 2): 2], table[:, 1: 2 * (t // 2): 2] = torch.sin(angle), torch.cos(angle)
        return table

    def forward(self, x):
        t = x.shape[0]
        q, k, v = (f(x).view(t, self.heads, -1).transpose(0, 1) for f in (self.query, self.key, self.value))
        energies = q @ k.transpose(1, 2)
        if self.positions == "absolute":
            energies = energies + self.absolute_positions(t, x)
        weights = self.drop(torch.softmax(energies, dim=-1))
        return self.out((weights @ v).transpose(0, 1).reshape(t, -1))


class PGLSum(PerVideo):
    def __init__(self, input_dim: int, o: PGLSumOptions):
        super().__init__()
        self.inp = projection(input_dim, o.hidden)
        self.fusion = o.fusion
        self.global_attention = PGLAttention(o.hidden, o.hidden, o.heads, o.positions, o.dropout)
        self.local_attention = nn.ModuleList(
            PGLAttention(o.hidden, o.hidden // o.segments, o.local_heads, o.positions, o.dropout)
            for _ in range(o.segments))
        self.norm_y, self.norm_linear = LayerNorm(o.hidden), LayerNorm(o.hidden)
        self.linear_1, self.linear_2 = nn.Linear(o.hidden, o.hidden), nn.Linear(o.hidden, 1)
        self.drop = nn.Dropout(o.dropout)
        self.apply(paper_init)

    def fuse(self, g: torch.Tensor, local: torch.Tensor) -> torch.Tensor:
        g, local = F.normalize(g, p=2, dim=1), F.normalize(local, p=2, dim=1)  # both, as PGL-SUM does
        if self.fusion == "add":
            return g + local
        if self.fusion == "mult":
            return g * local
        if self.fusion == "avg":
            return (g + local) / 2
        return torch.maximum(g, local)

    def video(self, x):
        x = self.inp(x)
        g = self.global_attention(x)
        size = math.ceil(x.shape[0] / len(self.local_attention))
        parts = [self.fuse(g[s: s + size], attend(x[s: s + size]))
                 for s, attend in zip(range(0, x.shape[0], size), self.local_attention)]
        y = self.norm_y(self.drop(torch.cat(parts) + x))
        y = self.norm_linear(self.drop(torch.relu(self.linear_1(y))))
        return torch.sigmoid(self.linear_2(y))


class Summarizer(SequenceRegressor):
    """A per-video network (``network``) predicting one importance score per step."""

    network: ClassVar[type[nn.Module]]

    def build_network(self, input_dim, n_targets):
        if n_targets != 1:
            raise ValueError(f"{type(self).__name__} predicts one importance score per step; this task has "
                             f"{n_targets} targets")
        return self.network(input_dim, self.options)

    def forward(self, x, mask):
        return self.net(x, mask)


class VASNetModel(Summarizer):
    description = "VASNet (Fajtl et al. 2018): soft self-attention over the whole video, 2-layer regressor"
    Options = VASNetOptions
    network = VASNet


class PGLSumModel(Summarizer):
    description = "PGL-SUM (Apostolidis et al. 2021): global + local multi-head attention, positional encoding"
    Options = PGLSumOptions
    network = PGLSum
