"""Regression metrics for continuous affect: MSE, RMSE, MAE, Pearson r and CCC, per target.

Aggregation is explicit because papers differ: ``pooled`` computes each metric over all steps of all
sequences at once (MediaEval style); ``per_sequence`` computes it per sequence and averages.
Correlations with a constant series are undefined; they are reported as 0 (no linear information).
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from benchmark.api import Episode
from tasks.predictions import aligned_predictions

METRICS = ("mse", "rmse", "mae", "pearson", "ccc")
HIGHER_IS_BETTER = {"mse": False, "rmse": False, "mae": False, "pearson": True, "ccc": True}
AGGREGATIONS = ("pooled", "per_sequence")


def _constant(x: np.ndarray) -> bool:
    """Tested on the values, not on a variance: the mean of a repeated value is not always that value in
    floating point, so a constant series would otherwise leave residues like -6.5e-17."""
    return x.size == 0 or bool(np.all(x == x.flat[0]))


def pearson(x: np.ndarray, y: np.ndarray) -> float:
    if _constant(x) or _constant(y):
        return 0.0
    xc, yc = x - x.mean(), y - y.mean()
    denom = np.sqrt((xc * xc).sum() * (yc * yc).sum())
    return float((xc * yc).sum() / denom) if denom > 0 else 0.0


def ccc(x: np.ndarray, y: np.ndarray) -> float:
    """Lin's concordance correlation coefficient (population moments); 0 when either series is constant
    (its covariance with anything is 0)."""
    if _constant(x) or _constant(y):
        return 0.0
    mx, my = x.mean(), y.mean()
    cov = ((x - mx) * (y - my)).mean()
    denom = x.var() + y.var() + (mx - my) ** 2
    return float(2 * cov / denom) if denom > 0 else 0.0


def series_metrics(pred: np.ndarray, true: np.ndarray) -> dict[str, float]:
    err = pred - true
    mse = float(np.mean(err * err))
    return {
        "mse": mse,
        "rmse": float(np.sqrt(mse)),
        "mae": float(np.mean(np.abs(err))),
        "pearson": pearson(pred, true),
        "ccc": ccc(pred, true),
    }


def regression_scores(
    predictions: Mapping[str, np.ndarray],
    episodes: Sequence[Episode],
    target_names: Sequence[str],
    aggregation: str = "pooled",
) -> dict[str, float]:
    """``{"mse/valence": ..., "mse": mean over targets, ...}`` for every metric in ``METRICS``."""
    if aggregation not in AGGREGATIONS:
        raise ValueError(f"unknown aggregation {aggregation!r}; choose one of {AGGREGATIONS}")
    preds = aligned_predictions(predictions, episodes)
    scores: dict[str, float] = {}
    for j, target in enumerate(target_names):
        if aggregation == "pooled":
            p = np.concatenate([preds[e.id][:, j] for e in episodes])
            t = np.concatenate([e.targets[:, j] for e in episodes]).astype(np.float64)
            per_target = series_metrics(p, t)
        else:
            rows = [series_metrics(preds[e.id][:, j], e.targets[:, j].astype(np.float64)) for e in episodes]
            per_target = {m: float(np.mean([r[m] for r in rows])) for m in METRICS}
        for m, v in per_target.items():
            scores[f"{m}/{target}"] = v
    for m in METRICS:
        scores[m] = float(np.mean([scores[f"{m}/{t}"] for t in target_names]))
    return scores
