"""Causal Transformer encoder over the sequence: full context by default, or a sliding attention window.

Padding only ever follows the real steps, and a causal mask never lets a step see later ones, so padded
steps cannot leak into real predictions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from baselines.sequence_regressor import SequenceRegressor, SequenceRegressorOptions
from benchmark.api import check_options
from benchmark.api.padding import on_valid_steps


@dataclass
class TransformerOptions(SequenceRegressorOptions):
    heads: int = 4
    layers: int = 2
    feedforward: int = 128
    dropout: float = 0.1
    # 0 = full causal context; w > 0 = each step attends to itself and the w - 1 before it, per layer
    # (so the model sees layers * (w - 1) steps back)
    window: int = 0

    SEARCH_SPACE: ClassVar[dict[str, tuple]] = {
        **SequenceRegressorOptions.SEARCH_SPACE,
        "layers": ("choice", [1, 2, 3]),
        "dropout": ("uniform", 0.0, 0.3),
    }

    def __post_init__(self) -> None:
        super().__post_init__()
        check_options(self, at_least_1=("heads", "layers", "feedforward"), non_negative=("window",))
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout!r}")
        if self.hidden % self.heads or self.hidden % 2:
            raise ValueError(f"hidden ({self.hidden}) must be even and divisible by heads ({self.heads})")


def sinusoidal(length: int, dim: int) -> torch.Tensor:
    position = torch.arange(length).unsqueeze(1)
    freq = torch.exp(torch.arange(0, dim, 2) * (-math.log(10000.0) / dim))
    pe = torch.zeros(length, dim)
    pe[:, 0::2] = torch.sin(position * freq)
    pe[:, 1::2] = torch.cos(position * freq[: dim // 2])
    return pe


def causal_mask(length: int, window: int) -> torch.Tensor:
    """Additive attention mask: -inf above the diagonal, and (with a window) beyond ``window`` steps back."""
    i = torch.arange(length)
    allowed = i[None, :] <= i[:, None]
    if window > 0:
        allowed &= i[None, :] > i[:, None] - window
    return torch.zeros(length, length).masked_fill(~allowed, float("-inf"))


class CausalTransformer(nn.Module):
    def __init__(self, input_dim: int, o: TransformerOptions, n_targets: int):
        super().__init__()
        self.window = o.window
        self.inp = nn.Linear(input_dim, o.hidden)
        layer = nn.TransformerEncoderLayer(o.hidden, o.heads, o.feedforward, o.dropout, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, o.layers, enable_nested_tensor=False)
        self.head = nn.Linear(o.hidden, n_targets)

    def forward(self, x, mask: torch.Tensor | None = None):
        """With ``mask``, the input projection (the costly part on wide features) skips padded steps: causal
        attention never lets a valid step read a later padded one."""
        t = x.shape[1]
        h = (self.inp(x) if mask is None else on_valid_steps(self.inp, x, mask)) + sinusoidal(t, self.inp.out_features).to(x.dtype)
        return self.head(self.encoder(h, mask=causal_mask(t, self.window).to(x.dtype)))


class TransformerModel(SequenceRegressor):
    description = "causal Transformer encoder, full context (or --set window=W), sinusoidal positions"
    Options = TransformerOptions

    def build_network(self, input_dim, n_targets):
        return CausalTransformer(input_dim, self.options, n_targets)

    def forward(self, x, mask):
        return self.net(x, mask)
