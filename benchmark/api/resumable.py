"""What a model hands the shared training loop so that its cell can resume: its training state (``Resumable``;
``TrainingState`` builds one from a model's parts, ``ReshuffledPasses`` keeps the place in the data), and
the checkpoint the harness opens around a cell (``active``), which ``run_updates`` loads and saves.

A resumed cell draws the same numbers as an uninterrupted one: the state includes every global random
generator. The file behind a checkpoint, and which cell and code may use it, are the harness's
(``benchmark.harness.checkpoints``).
"""

from __future__ import annotations

import contextlib
import contextvars
import random
from typing import Any, Iterator, Mapping, Protocol, Sequence

import numpy as np


class Checkpoint(Protocol):
    """The checkpoint of one cell, as the training loop sees it."""

    def load(self) -> dict[str, Any] | None: ...

    def due(self) -> bool: ...

    def save(self, update: int, state: Mapping[str, Any]) -> None: ...


class Resumable(Protocol):
    """The training state of a model that can resume: what its ``updates`` iterator depends on."""

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: Mapping[str, Any]) -> None: ...


class ReshuffledPasses:
    """Batches of ``items``, one reshuffled pass after another for as long as training asks; where it is
    (the generator, the pass's order, the next place) is part of a checkpoint."""

    def __init__(self, items: Sequence[Any], size: int, generator: Any):
        self.items, self.size, self.generator = items, size, generator
        self.order: list[int] = []
        self.next = 0

    def __iter__(self) -> "ReshuffledPasses":
        return self

    def __next__(self) -> list[Any]:
        import torch

        if self.next >= len(self.order):
            self.order, self.next = torch.randperm(len(self.items), generator=self.generator).tolist(), 0
        batch = self.order[self.next: self.next + self.size]
        self.next += len(batch)
        return [self.items[i] for i in batch]

    def state_dict(self) -> dict[str, Any]:
        return {"generator": self.generator.get_state(), "order": list(self.order), "next": self.next}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.generator.set_state(state["generator"])
        self.order, self.next = list(state["order"]), int(state["next"])


class TrainingState:
    """A ``Resumable`` made of named parts, each a module, an optimizer, ``ReshuffledPasses`` (anything with
    ``state_dict``/``load_state_dict``) or a bare tensor (a learnt initial memory), plus every global random
    state (dropout, noise)."""

    def __init__(self, **parts: Any):
        self.parts = parts

    def state_dict(self) -> dict[str, Any]:
        return {"random": random_states(), **{name: part.state_dict() if hasattr(part, "state_dict")
                                              else part.detach().clone() for name, part in self.parts.items()}}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        import torch

        for name, part in self.parts.items():
            if hasattr(part, "load_state_dict"):
                part.load_state_dict(state[name])
            else:
                with torch.no_grad():
                    part.copy_(state[name])
        set_random_states(state["random"])


def random_states() -> dict:
    """Every global generator's state (Python, numpy, torch CPU and CUDA), as plain values and tensors (a
    checkpoint loads them without unpickling objects), so a resumed cell draws the same numbers."""
    import torch

    kind, keys, pos, has_gauss, cached = np.random.get_state()
    return {"python": random.getstate(), "numpy": [kind, keys.tolist(), pos, has_gauss, cached],
            "torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else []}


def set_random_states(states: dict) -> None:
    import torch

    version, internal, gauss = states["python"]
    random.setstate((version, tuple(internal), gauss))
    kind, keys, pos, has_gauss, cached = states["numpy"]
    np.random.set_state((kind, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(states["torch"])
    if states["cuda"]:
        torch.cuda.set_rng_state_all(states["cuda"])


_active: contextvars.ContextVar[Checkpoint | None] = contextvars.ContextVar("rlbench_checkpoint", default=None)


def active() -> Checkpoint | None:
    """The checkpoint of the cell being trained in this context, if the harness opened one."""
    return _active.get()


@contextlib.contextmanager
def checkpointing(checkpoint: Checkpoint | None) -> Iterator[Checkpoint | None]:
    token = _active.set(checkpoint)
    try:
        yield checkpoint
    finally:
        _active.reset(token)
