"""Checkpoints inside a cell, so that a cell longer than its process's life (a preempted worker, a machine
that is handed back, Ctrl-C) goes on where it stopped instead of starting over.

The harness opens a ``CellCheckpoint`` around each cell (``benchmark.api.resumable.checkpointing``);
``run_updates`` saves the training state at an evaluation when ``every_s`` seconds have passed since the
last save, and a rerun of the same cell loads it. A checkpoint is used only by the same cell (config hash,
seed, fold) and the same code (version, commit, and the diff of a dirty tree), so a resumed record is the
record the uninterrupted run writes, to the last digit.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Mapping

CHECKPOINT_EVERY_S = 600.0  # the default: at most one save per ten minutes of training
SUFFIX = ".ckpt.pt"


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


