"""A preallocated ring buffer of transitions with its own random generator.

Its size is fixed at construction, so the memory it takes does not depend on sequence length.
"""

from __future__ import annotations

import torch


class ReplayBuffer:
    """Storage lives on ``device`` (where the networks are); the sampling generator stays on the CPU, so the
    same seed draws the same indices on any device."""

    def __init__(self, capacity: int, shapes: dict[str, tuple[int, ...]], generator: torch.Generator,
                 device: torch.device | str = "cpu"):
        if capacity < 1:
            raise ValueError(f"replay capacity must be >= 1, got {capacity}")
        self.capacity = capacity
        self.device = torch.device(device)
        self.storage = {k: torch.zeros((capacity, *s), device=self.device) for k, s in shapes.items()}
        self.generator = generator
        self.pos = 0
        self.full = False
        self.added = 0  # transitions ever added

    def __len__(self) -> int:
        return self.capacity if self.full else self.pos

    def add(self, **batch: torch.Tensor) -> None:
        """Append a batch of transitions (every field has the same leading size)."""
        if set(batch) != set(self.storage):
            raise KeyError(f"replay fields are {sorted(self.storage)}, got {sorted(batch)}")
        n = next(iter(batch.values())).shape[0]
        if n > self.capacity:
            batch = {k: v[-self.capacity:] for k, v in batch.items()}
            n = self.capacity
        self.added += next(iter(batch.values())).shape[0]
        idx = (torch.arange(n, device=self.device) + self.pos) % self.capacity
        for k, v in batch.items():
            self.storage[k][idx] = v.detach().to(self.storage[k].dtype)
        self.full = self.full or self.pos + n >= self.capacity
        self.pos = (self.pos + n) % self.capacity

    def sample(self, batch_size: int) -> dict[str, torch.Tensor]:
        if len(self) == 0:
            raise ValueError("cannot sample from an empty replay buffer")
        idx = torch.randint(len(self), (batch_size,), generator=self.generator).to(self.device)
        return {k: v[idx] for k, v in self.storage.items()}
