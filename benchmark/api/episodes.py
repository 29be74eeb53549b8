"""The data types every task produces and every model consumes (numpy only, no torch): models never import a
task, only these."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np


@dataclass
class Episode:
    """One sequence: features per named modality ``[T, d_m]``, targets ``[T, k]``, and metadata.

    ``meta`` carries what a protocol needs beyond the targets (shots and annotator scores for
    summarization, the hidden state for synthetic tasks); models other than references ignore it.
    """

    id: str
    features: dict[str, np.ndarray]
    targets: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def length(self) -> int:
        return int(self.targets.shape[0])


@dataclass(frozen=True)
class Fold:
    index: int
    train: tuple[str, ...]
    val: tuple[str, ...]
    test: tuple[str, ...]

    def part(self, name: str) -> tuple[str, ...]:
        return {"train": self.train, "val": self.val, "test": self.test}[name]


@dataclass(frozen=True)
class TaskSpec:
    """What a model needs to know to build itself: input modalities and output targets."""

    modalities: tuple[tuple[str, int], ...]  # (name, dim) in a fixed order
    target_names: tuple[str, ...]
    kind: str

    @property
    def input_dim(self) -> int:
        return sum(d for _, d in self.modalities)

    @property
    def n_targets(self) -> int:
        return len(self.target_names)


@dataclass
class TaskData:
    episodes: dict[str, Episode]
    folds: list[Fold]
    spec: TaskSpec
    data_sha256: dict[str, str]
    split_sha256: str
    info: dict[str, Any] = field(default_factory=dict)  # what loading found (e.g. rows dropped)

    def episodes_of(self, ids: Sequence[str]) -> list[Episode]:
        return [self.episodes[i] for i in ids]


Predictions = Mapping[str, np.ndarray]  # episode id -> [T, k] (or [T] for one target)


def file_sha256(path: Path) -> str:
    """The fingerprint of a data file as records and download checks use it."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
