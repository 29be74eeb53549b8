"""The memory bank as pure functions: a memory ``M [B, N, d]`` goes in, a new one comes out.

Nothing here holds state, so the online actor, the target actor and replayed transitions can all apply
the same write to any memory they like without stepping on each other.

Write (NTM-style erase then add, with per-slot retain gates ``r in [0, 1]^N``, write weights ``w`` on the
simplex over the N slots, erase vector ``e in [0, 1]^d`` and add vector ``a in [-1, 1]^d``). The paper
names the four vectors but not how retain enters, so both readings are here:

    "scale" (default):  M' = (r * M) * (1 - w e^T) + w a^T         retain decays the old memory
    "gate":             M' = r * M + (1 - r) * (M (1 - w e^T) + w a^T)   retain = 1 leaves a slot untouched

Under "scale" every step writes a full unit of weight somewhere, so content fades unless the policy
learns to aim its writes; under "gate" a slot the policy does not open keeps its content exactly, the
way an LSTM's coupled forget/input gate does.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class WriteAction:
    erase: torch.Tensor  # [B, d] in [0, 1]
    add: torch.Tensor  # [B, d] in [-1, 1]
    write: torch.Tensor  # [B, N] on the simplex
    retain: torch.Tensor  # [B, N] in [0, 1]


RETAIN_MODES = ("scale", "gate")


@dataclass(frozen=True)
class ActionLayout:
    """How the flat action vector of the policy splits into the four write actions."""

    slots: int
    width: int
    retain: str = "scale"  # how the retain gate enters the write: "scale" or "gate"

    def __post_init__(self) -> None:
        if self.retain not in RETAIN_MODES:
            raise ValueError(f"retain must be one of {', '.join(RETAIN_MODES)}, got {self.retain!r}")

    @property
    def size(self) -> int:
        return 2 * self.width + 2 * self.slots

    def split(self, flat: torch.Tensor) -> WriteAction:
        d, n = self.width, self.slots
        erase, add, write, retain = torch.split(flat, [d, d, n, n], dim=-1)
        return WriteAction(erase, add, write, retain)

    def squash(self, raw: torch.Tensor) -> torch.Tensor:
        """Map unconstrained network outputs into the action space."""
        a = self.split(raw)
        return torch.cat(
            [torch.sigmoid(a.erase), torch.tanh(a.add), torch.softmax(a.write, -1), torch.sigmoid(a.retain)], dim=-1
        )

    def project(self, flat: torch.Tensor) -> torch.Tensor:
        """Clip a (noisy) action back into the action space; write weights are renormalised to sum to 1."""
        a = self.split(flat)
        write = a.write.clamp(min=0.0)
        total = write.sum(-1, keepdim=True)
        write = torch.where(total > 1e-8, write / total.clamp(min=1e-8), torch.full_like(write, 1.0 / self.slots))
        return torch.cat([a.erase.clamp(0, 1), a.add.clamp(-1, 1), write, a.retain.clamp(0, 1)], dim=-1)

    def apply(self, memory: torch.Tensor, flat: torch.Tensor) -> torch.Tensor:
        """The memory after the write a flat action describes."""
        return self.write(memory, self.split(flat))

    def write(self, memory: torch.Tensor, action: WriteAction) -> torch.Tensor:
        return write(memory, action) if self.retain == "scale" else gated_write(memory, action)

    def noisy(self, raw: torch.Tensor, noise: torch.Tensor) -> tuple[torch.Tensor, WriteAction]:
        """``project(squash(raw) + noise)`` in one pass over the four parts (the exploring step's hot path:
        no second split, one concatenation); returns the flat action and its parts."""
        r, n = self.split(raw), self.split(noise)
        erase = (torch.sigmoid(r.erase) + n.erase).clamp_(0, 1)
        add = (torch.tanh(r.add) + n.add).clamp_(-1, 1)
        write = (torch.softmax(r.write, -1) + n.write).clamp_(min=0.0)
        total = write.sum(-1, keepdim=True)
        write = torch.where(total > 1e-8, write / total.clamp(min=1e-8), torch.full_like(write, 1.0 / self.slots))
        retain = (torch.sigmoid(r.retain) + n.retain).clamp_(0, 1)
        return torch.cat([erase, add, write, retain], dim=-1), WriteAction(erase, add, write, retain)

    def saturation(self, flat: torch.Tensor, eps: float = 0.01) -> float:
        """Share of bounded action components within ``eps`` of a bound (a sign of a stuck policy)."""
        a = self.split(flat)
        parts = [
            (a.erase < eps) | (a.erase > 1 - eps),
            a.add.abs() > 1 - eps,
            (a.retain < eps) | (a.retain > 1 - eps),
        ]
        return float(torch.cat([p.flatten() for p in parts]).float().mean())


def write(memory: torch.Tensor, action: WriteAction) -> torch.Tensor:
    """Retain, erase, then add: ``[..., N, d] -> [..., N, d]``."""
    kept = action.retain.unsqueeze(-1) * memory
    w = action.write.unsqueeze(-1)  # [B, N, 1]
    erased = kept * (1 - w * action.erase.unsqueeze(-2))
    return erased + w * action.add.unsqueeze(-2)


def address(memory: torch.Tensor, key: torch.Tensor, sharpness: torch.Tensor | float = 1.0) -> torch.Tensor:
    """Content addressing: softmax over slots of the cosine similarity to ``key``, times ``sharpness``."""
    sim = torch.cosine_similarity(memory, key.unsqueeze(1), dim=-1, eps=1e-8)  # [B, N]
    return torch.softmax(sharpness * sim, dim=-1)


def read(memory: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Weighted sum of the slots: ``[B, N, d], [B, N] -> [B, d]``."""
    return torch.einsum("bn,bnd->bd", weights, memory)


def gated_write(memory: torch.Tensor, action: WriteAction) -> torch.Tensor:
    """Erase and add, then keep a share ``retain`` of each slot as it was: ``[B, N, d] -> [B, N, d]``."""
    w = action.write.unsqueeze(-1)
    written = memory * (1 - w * action.erase.unsqueeze(-2)) + w * action.add.unsqueeze(-2)
    r = action.retain.unsqueeze(-1)
    return r * memory + (1 - r) * written
