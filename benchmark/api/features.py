"""Model inputs from episodes: the chosen modalities concatenated per step, standardised with training
statistics, stacked into padded batches (numpy only)."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from benchmark.api.episodes import Episode, TaskSpec


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
