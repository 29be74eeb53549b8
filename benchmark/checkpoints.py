"""Checkpoints inside a cell, so that a cell longer than its process's life (a preempted worker, a machine
that is handed back, Ctrl-C) goes on where it stopped instead of starting over.

The harness opens a ``CellCheckpoint`` around each cell (``checkpointing``); ``run_updates`` saves the
training state at an evaluation when ``every_s`` seconds have passed since the last save, and a rerun of
the same cell loads it. A model takes part by handing ``run_updates`` a ``Resumable`` (its network,
optimizer, random states and place in the data); models that do not simply start over. A checkpoint is
used only by the same cell (config hash, seed, fold) and the same code (version, commit, and the diff of a
dirty tree), so a resumed record is the record the uninterrupted run writes, to the last digit.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator, Mapping, Protocol, Sequence

import numpy as np

CHECKPOINT_EVERY_S = 600.0  # the default: at most one save per ten minutes of training
SUFFIX = ".ckpt.pt"


class Resumable(Protocol):
    """The training state of a model that can resume: what its ``updates`` iterator depends on."""

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: Mapping[str, Any]) -> None: ...


def checkpoint_path(record: Path) -> Path:
    """Where the checkpoint of the cell whose record goes to ``record`` is kept (beside it; git-ignored)."""
    record = Path(record)
    return record.with_name(record.stem + SUFFIX)


class CellCheckpoint:
    """One cell's checkpoint file. ``key`` names the cell and the code; a file with another key is ignored
    (and replaced at the next save). Saving is atomic; a save that fails says so once and the cell goes on
    without checkpoints."""

    def __init__(self, path: Path, key: Mapping[str, Any], every_s: float = CHECKPOINT_EVERY_S):
        self.path = Path(path)
        self.key = dict(key)
        self.every_s = float(every_s)
        self.started = self.last_save = time.monotonic()
        self.enabled = self.every_s > 0
        self.resumed_from: int | None = None  # the update a resumed run went on from
        self.elapsed_before = 0.0  # training seconds the runs before this one spent up to the checkpoint

    def due(self) -> bool:
        return self.enabled and time.monotonic() - self.last_save >= self.every_s

    def load(self) -> dict[str, Any] | None:
        if not self.enabled or not self.path.exists():
            return None
        import torch

        try:
            saved = torch.load(self.path, map_location="cpu", weights_only=True)
        except Exception as exc:  # noqa: BLE001 - an unreadable checkpoint costs the time it saved, nothing else
            print(f"warning: {self.path}: unreadable checkpoint ({type(exc).__name__}), the cell starts over",
                  file=sys.stderr)
            return None
        if not isinstance(saved, dict) or saved.get("key") != self.key:
            print(f"note: {self.path}: a checkpoint of other code or another configuration, not used; the cell "
                  "starts over", file=sys.stderr)
            return None
        self.resumed_from = int(saved["update"])
        self.elapsed_before = float(saved["elapsed_s"])
        return saved

    def save(self, update: int, state: Mapping[str, Any]) -> None:
        import torch

        tmp = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp")
            with os.fdopen(fd, "wb") as f:
                elapsed = self.elapsed_before + time.monotonic() - self.started
                torch.save({"key": self.key, "update": update, "elapsed_s": elapsed, **state}, f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except OSError as exc:
            self.enabled = False
            if tmp is not None:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
            print(f"warning: {self.path}: cannot write a checkpoint ({exc.strerror or exc}); the cell goes on "
                  "without", file=sys.stderr)
        self.last_save = time.monotonic()


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


_active: contextvars.ContextVar[CellCheckpoint | None] = contextvars.ContextVar("rlbench_checkpoint", default=None)


def active() -> CellCheckpoint | None:
    """The checkpoint of the cell being trained in this context, if the harness opened one."""
    return _active.get()


@contextlib.contextmanager
def checkpointing(checkpoint: CellCheckpoint | None) -> Iterator[CellCheckpoint | None]:
    token = _active.set(checkpoint)
    try:
        yield checkpoint
    finally:
        _active.reset(token)
