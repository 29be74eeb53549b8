"""Checks on predictions before any protocol scores them."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from benchmark.api import Episode


class PredictionError(ValueError):
    """Predictions that cannot be scored: missing episode, wrong length or width, NaN."""


def aligned_predictions(
    predictions: Mapping[str, Any], episodes: Sequence[Episode], source: str = "predictions"
) -> dict[str, np.ndarray]:
    """Return predictions as float64 ``[T, k]`` per episode, or raise naming the episode and the problem."""
    out = {}
    for ep in episodes:
        if ep.id not in predictions:
            raise PredictionError(f"{source}: no prediction for sequence {ep.id!r}")
        p = np.asarray(predictions[ep.id], dtype=np.float64)
        k = ep.targets.shape[1]
        if p.ndim == 1 and k == 1:
            p = p[:, None]
        if p.ndim != 2 or p.shape[1] != k:
            raise PredictionError(f"{source}: sequence {ep.id!r} has predictions of shape {p.shape}, expected ({ep.length}, {k})")
        if p.shape[0] != ep.length:
            raise PredictionError(f"{source}: sequence {ep.id!r} has {p.shape[0]} predicted steps, expected {ep.length}")
        if not np.all(np.isfinite(p)):
            raise PredictionError(f"{source}: sequence {ep.id!r} has NaN or infinite predictions")
        out[ep.id] = p
    return out
