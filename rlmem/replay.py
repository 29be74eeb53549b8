"""A preallocated ring buffer of sequence chunks with its own random generator.

Its size is fixed at construction, so the memory it takes does not depend on sequence length.
"""

from __future__ import annotations

import torch


class TrajectoryReplay:
    """Replay of whole chunks of sequences, sampled as windows of consecutive steps.

    Each item is one sequence's chunk of ``chunk`` steps: per step the state (encoded ``x`` or raw segment
    features), the memory before the write, the action, the target, whether the step exists and how many
    steps the sequence still runs; plus, at position ``chunk``, the state that follows the chunk (the next
    chunk's first, if the sequence goes on). Storing chunks rather than transitions keeps every step once,
    and lets a sample be a window: n-step returns and multi-step actor objectives read the steps after the
    sampled one, and rewards are always recomputed from these raw pieces by the current reader. Storage
    lives on ``device``; the sampling generator on the CPU, so a seed draws the same windows anywhere.
    """

    STEP_FIELDS = ("memory", "action")  # one entry per step; the rest have one more, for the following state

    def __init__(self, capacity_steps: int, chunk: int, shapes: dict[str, tuple[int, ...]],
                 generator: torch.Generator, device: torch.device | str = "cpu"):
        if capacity_steps < 1 or chunk < 1:
            raise ValueError(f"replay capacity and chunk must be >= 1, got {capacity_steps}, {chunk}")
        self.chunk = chunk
        self.capacity = max(1, -(-capacity_steps // chunk))  # items
        self.device = torch.device(device)
        self.storage = {k: torch.zeros((self.capacity, chunk + (0 if k in self.STEP_FIELDS else 1), *s),
                                       device=self.device) for k, s in shapes.items()}
        self.storage["valid"] = torch.zeros((self.capacity, chunk + 1), dtype=torch.bool, device=self.device)
        self.counts = torch.zeros(self.capacity)  # valid steps per item (on the CPU: sampling weights)
        self.generator = generator
        self.pos = 0
        self.full = False
        self.added = 0  # transitions (valid steps) ever added

    def __len__(self) -> int:
        """Transitions held."""
        return int(self.counts.sum())

    def add(self, **items: torch.Tensor) -> int:
        """Append chunks (``[n, chunk (+1), ...]`` per field, ``valid`` included); returns the steps added."""
        if set(items) != set(self.storage):
            raise KeyError(f"replay fields are {sorted(self.storage)}, got {sorted(items)}")
        valid = items["valid"][:, : self.chunk]
        keep = valid.any(1)
        items = {k: v[keep] for k, v in items.items()}
        n = int(keep.sum())
        if n == 0:
            return 0
        n = min(n, self.capacity)
        items = {k: v[-n:] for k, v in items.items()}
        idx = (torch.arange(n) + self.pos) % self.capacity
        for k, v in items.items():
            self.storage[k][idx.to(self.device)] = v.detach().to(self.storage[k].dtype)
        counts = items["valid"][:, : self.chunk].sum(1).float().cpu()
        self.counts[idx] = counts
        self.full = self.full or self.pos + n >= self.capacity
        self.pos = (self.pos + n) % self.capacity
        added = int(counts.sum())
        self.added += added
        return added

    def sample(self, batch_size: int, width: int) -> dict[str, torch.Tensor]:
        """``batch_size`` windows of ``width`` steps, each starting at a step drawn uniformly among the held
        transitions: per-step fields ``[B, width, ...]`` (``memory``, ``action``) and the others
        ``[B, width + 1, ...]`` (the step after the window last); ``valid`` marks states that exist,
        ``step_valid`` ``[B, width]`` the steps whose write is stored (a prefix of the window)."""
        if len(self) == 0:
            raise ValueError("cannot sample from an empty replay buffer")
        items = torch.multinomial(self.counts, batch_size, replacement=True, generator=self.generator)
        start = (torch.rand(batch_size, generator=self.generator) * self.counts[items]).long()
        offsets = torch.arange(width + 1)
        positions = start[:, None] + offsets[None]  # [B, width + 1]
        beyond = positions > self.chunk
        positions = positions.clamp(max=self.chunk)
        items, positions = items.to(self.device), positions.to(self.device)
        rows = items[:, None]
        out = {}
        for k, v in self.storage.items():
            if k in self.STEP_FIELDS:
                out[k] = v[rows, positions[:, :width].clamp(max=self.chunk - 1)]
            else:
                out[k] = v[rows, positions]
        out["valid"] = out["valid"] & ~beyond.to(self.device)
        # steps of the window with a write stored here (the state after the chunk has none)
        out["step_valid"] = out["valid"][:, :width] & (positions[:, :width] < self.chunk)
        return out
