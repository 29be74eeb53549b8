"""The data types every task produces and every model consumes (numpy only, no torch).

This is the one module that tasks, baselines and rlmem share: models never import a task.
"""

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



def pad_batch(
    episodes: Sequence[Episode], modalities: Sequence[str], start: int = 0, stop: int | None = None,
    mean: np.ndarray | None = None, std: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stack episodes of different lengths: x ``[B, T, D]``, y ``[B, T, k]``, mask ``[B, T]`` (True = real
    step). With ``start``/``stop``, only that window of steps: long sequences stream through a model a
    window at a time instead of being copied whole. With ``mean`` and ``std`` (``[D]``) the real steps are
    standardised as they are placed, so padding (most of a batch of unequal lengths) is never touched and
    stays 0."""
    lengths = [e.length for e in episodes]
    stop = max(lengths) if stop is None else stop
    widths = [episodes[0].features[m].shape[1] for m in modalities]
    offsets = np.cumsum([0, *widths])
    k = episodes[0].targets.shape[1]
    t = max(0, stop - start)
    x = np.zeros((len(episodes), t, offsets[-1]), dtype=np.float32)
    y = np.zeros((len(episodes), t, k), dtype=np.float32)
    mask = np.zeros((len(episodes), t), dtype=bool)
    for i, (ep, n) in enumerate(zip(episodes, lengths)):
        hi_t = min(n, stop) - start
        if hi_t <= 0:
            continue
        for m, lo, hi in zip(modalities, offsets[:-1], offsets[1:]):
            block = x[i, :hi_t, lo:hi]
            block[...] = ep.features[m][start: start + hi_t]  # straight into place, no concatenated copy
            if mean is not None:
                block -= mean[lo:hi]
                block /= std[lo:hi]
        y[i, :hi_t] = ep.targets[start: start + hi_t]
        mask[i, :hi_t] = True
    return x, y, mask


def select_modalities(spec: TaskSpec, choice: str) -> list[tuple[str, int]]:
    """``"all"`` or a comma-separated subset of the task's modalities (for the modality ablation)."""
    if choice.strip() == "all":
        return list(spec.modalities)
    wanted = [m.strip() for m in choice.split(",") if m.strip()]
    known = dict(spec.modalities)
    unknown = [m for m in wanted if m not in known]
    if unknown or not wanted:
        raise ValueError(f"modalities={choice!r}: unknown {unknown or '(none given)'}; this task has {', '.join(known)}")
    return [(m, known[m]) for m in wanted]


class FeatureScaler:
    """Standardise concatenated features with statistics of the training part only."""

    def __init__(self, modalities: Sequence[str]):
        self.modalities = list(modalities)
        self.mean: np.ndarray | None = None
        self.std: np.ndarray | None = None

    def fit(self, episodes: Sequence[Episode]) -> "FeatureScaler":
        # Running sums per modality, so no copy of the whole training set is ever made.
        means, stds = [], []
        for m in self.modalities:
            n, total, squares = 0, 0.0, 0.0
            for e in episodes:
                x = e.features[m].astype(np.float64)
                n += x.shape[0]
                total = total + x.sum(axis=0)
                squares = squares + (x * x).sum(axis=0)
            mean = total / n
            means.append(mean)
            stds.append(np.sqrt(np.maximum(squares / n - mean * mean, 0.0)))
        self.mean = np.concatenate(means).astype(np.float32)
        self.std = (np.concatenate(stds) + 1e-6).astype(np.float32)
        return self

    def batch(self, episodes: Sequence[Episode], start: int = 0,
              stop: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``pad_batch`` (of a window of steps, with ``start``/``stop``) with standardised features (padding
        stays 0)."""
        return pad_batch(episodes, self.modalities, start, stop, self.mean, self.std)


def file_sha256(path: Path) -> str:
    """The fingerprint of a data file as records and download checks use it."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
