"""The modules of the memory network: fusion encoder, write policy (actor), post-state value (critic),
and the reader that predicts the targets from the segment and the memory."""

from __future__ import annotations

import contextlib
from typing import Iterator

import torch
from torch import nn

from benchmark.api.padding import on_valid_steps
from rlmem.memory import ActionLayout, address, read


def mlp(sizes: list[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class FusionEncoder(nn.Module):
    """Concatenated modalities of the L steps of a segment -> LSTM -> last hidden state x_t."""

    def __init__(self, input_dim: int, hidden: int):
        super().__init__()
        self.lstm = nn.LSTM(input_dim, hidden, batch_first=True)

    def forward(self, segments: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """``[B, S, L, D] -> [B, S, hidden]``; with ``mask [B, S]``, padded segments are skipped (zeros)."""
        if mask is None:
            mask = segments.new_ones(segments.shape[:2], dtype=torch.bool)
        return on_valid_steps(self._last_hidden, segments, mask)

    def _last_hidden(self, segments: torch.Tensor) -> torch.Tensor:
        if segments.shape[0] == 0:  # a window past every sequence's end: the LSTM refuses an empty batch
            return segments.new_zeros(0, self.lstm.hidden_size)
        return self.lstm(segments)[1][0][-1]


class Actor(nn.Module):
    """mu(x_t, M_{t-1}): the write actions (erase, add, write weights, retain) in their bounded space."""

    def __init__(self, x_dim: int, layout: ActionLayout, hidden: int, retain_bias: float):
        super().__init__()
        self.layout = layout
        self.net = mlp([x_dim + layout.slots * layout.width, hidden, hidden, layout.size])
        with torch.no_grad():  # start by keeping what is stored (retain ~ sigmoid(retain_bias))
            last = self.net[-1]
            last.bias[-layout.slots:] = retain_bias

    def raw(self, x: torch.Tensor, memory: torch.Tensor) -> torch.Tensor:
        """The unconstrained outputs, before squashing into the action space."""
        return self.net(torch.cat([x, memory.flatten(1)], dim=-1))

    def forward(self, x: torch.Tensor, memory: torch.Tensor) -> torch.Tensor:
        return self.layout.squash(self.raw(x, memory))


class PostStateCritic(nn.Module):
    """V(x_t, M_t): the discounted future reward from the state after the write."""

    def __init__(self, x_dim: int, slots: int, width: int, hidden: int):
        super().__init__()
        self.net = mlp([x_dim + slots * width, hidden, hidden, 1])

    def forward(self, x: torch.Tensor, memory: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([x, memory.flatten(1)], dim=-1)).squeeze(-1)


class SlotCritic(nn.Module):
    """V(x_t, M_t) that treats the memory as a set: each slot is encoded with x_t by a shared network and
    the codes are averaged (DeepSets), so the value cannot depend on which slot holds what, and what the
    critic learns about one slot transfers to the others."""

    def __init__(self, x_dim: int, slots: int, width: int, hidden: int):
        super().__init__()
        self.slot = mlp([x_dim + width, hidden, hidden])
        self.value = mlp([x_dim + hidden, hidden, 1])

    def forward(self, x: torch.Tensor, memory: torch.Tensor) -> torch.Tensor:
        per_slot = torch.cat([x.unsqueeze(1).expand(-1, memory.shape[1], -1), memory], dim=-1)
        pooled = torch.relu(self.slot(per_slot)).mean(1)
        return self.value(torch.cat([x, pooled], dim=-1)).squeeze(-1)


CRITICS = {"mlp": PostStateCritic, "slots": SlotCritic}


class Reader(nn.Module):
    """Content-addressed softmax read of the memory from x_t, then a fully connected prediction head."""

    def __init__(self, x_dim: int, width: int, hidden: int, n_targets: int):
        super().__init__()
        self.key = nn.Linear(x_dim, width)
        self.sharpness = nn.Linear(x_dim, 1)
        self.head = mlp([x_dim + width, hidden, n_targets])

    def weights(self, x: torch.Tensor, memory: torch.Tensor) -> torch.Tensor:
        """Read weights over the slots: ``x [..., x_dim]``, ``memory [..., N, d]`` -> ``[..., N]``."""
        lead = x.shape[:-1]
        x2, m2 = x.reshape(-1, x.shape[-1]), memory.reshape(-1, *memory.shape[-2:])
        beta = 1.0 + nn.functional.softplus(self.sharpness(x2))
        return address(m2, self.key(x2), beta).reshape(*lead, -1)

    def forward(self, x: torch.Tensor, memory: torch.Tensor) -> torch.Tensor:
        """``x [..., x_dim]``, ``memory [..., N, d]`` -> predictions ``[..., k]``."""
        lead = x.shape[:-1]
        x2, m2 = x.reshape(-1, x.shape[-1]), memory.reshape(-1, *memory.shape[-2:])
        r = read(m2, self.weights(x2, m2))
        return self.head(torch.cat([x2, r], dim=-1)).reshape(*lead, -1)


@contextlib.contextmanager
def frozen(module: nn.Module) -> Iterator[None]:
    """Let gradients flow *through* a module without reaching its parameters."""
    flags = [p.requires_grad for p in module.parameters()]
    module.requires_grad_(False)
    try:
        yield
    finally:
        for p, f in zip(module.parameters(), flags):
            p.requires_grad_(f)
