"""The keyshot video-summarization protocol: shot scores, 0/1 knapsack, F-score, rank correlation.

Reference: KaiyangZhou/pytorch-vsumm-reinforce vsum_tools.py (the protocol most papers copy); the DSNet
and PGL-SUM variants are in ``tasks/eccv16_protocols.py`` and docs/tasks.md ("Metrics and protocols").
Step scores are held over the frames of each pick, a shot scores the mean of its frames, shots are chosen
by an exact 0/1 knapsack under ``floor(budget * n_frames)`` frames, and the F-score against each annotator
is reduced by mean or max.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
from scipy import stats


def knapsack(values: Sequence[float], weights: Sequence[int], capacity: int) -> list[int]:
    """Exact 0/1 knapsack by dynamic programming; returns the chosen item indices, ascending.

    Ties keep the earlier solution (an item is taken only when it strictly improves the value), so
    the result is deterministic. Items with non-positive value are never worth taking.
    """
    values = np.asarray(values, dtype=np.float64)
    weights = np.asarray(weights, dtype=np.int64)
    if values.shape != weights.shape:
        raise ValueError(f"{len(values)} values but {len(weights)} weights")
    if np.any(weights < 0) or capacity < 0:
        raise ValueError("knapsack weights and capacity must be non-negative")
    best = np.zeros(capacity + 1)
    take = np.zeros((len(values), capacity + 1), dtype=bool)
    for i, (v, w) in enumerate(zip(values, weights)):
        if w > capacity:
            continue
        candidate = best[: capacity + 1 - w] + v
        better = candidate > best[w:]
        take[i, w:] = better
        best[w:] = np.where(better, candidate, best[w:])
    chosen, c = [], capacity
    for i in range(len(values) - 1, -1, -1):
        if take[i, c]:
            chosen.append(i)
            c -= int(weights[i])
    return sorted(chosen)


def frame_scores(step_scores: np.ndarray, picks: np.ndarray, n_frames: int) -> np.ndarray:
    """Hold each step's score over the frames from its pick to the next pick (piecewise constant)."""
    step_scores = np.asarray(step_scores, dtype=np.float64)
    if len(picks) != len(step_scores):
        raise ValueError(f"{len(step_scores)} step scores but {len(picks)} picks")
    bounds = np.append(np.asarray(picks, dtype=np.int64), n_frames)
    out = np.zeros(n_frames)
    for i, s in enumerate(step_scores):
        out[bounds[i]: bounds[i + 1]] = s
    return out


def keyshot_summary(
    frame_level_scores: np.ndarray, change_points: np.ndarray, n_frames: int, budget: float = 0.15
) -> np.ndarray:
    """Binary frame-level summary: shots (inclusive [start, end] rows) chosen by knapsack on mean score."""
    change_points = np.asarray(change_points, dtype=np.int64)
    lengths = change_points[:, 1] - change_points[:, 0] + 1
    shot_values = [float(frame_level_scores[s: e + 1].mean()) for s, e in change_points]
    capacity = int(math.floor(n_frames * budget))
    summary = np.zeros(n_frames, dtype=bool)
    for i in knapsack(shot_values, lengths, capacity):
        s, e = change_points[i]
        summary[s: e + 1] = True
    return summary


def fscore(machine: np.ndarray, user: np.ndarray) -> float:
    """Frame-level F1 of two binary summaries; 0 when they do not overlap."""
    machine, user = np.asarray(machine, bool), np.asarray(user, bool)
    n = len(user)
    if len(machine) > n:
        machine = machine[:n]
    elif len(machine) < n:
        machine = np.concatenate([machine, np.zeros(n - len(machine), bool)])
    overlap = float(np.sum(machine & user))
    if overlap == 0:
        return 0.0
    precision, recall = overlap / machine.sum(), overlap / user.sum()
    return 2 * precision * recall / (precision + recall)


def summary_fscore(machine: np.ndarray, user_summaries: np.ndarray, reduction: str) -> float:
    """F-score against every annotator, reduced by ``mean`` (TVSum convention) or ``max`` (SumMe)."""
    per_user = [fscore(machine, u) for u in user_summaries]
    if reduction == "mean":
        return float(np.mean(per_user))
    if reduction == "max":
        return float(np.max(per_user))
    raise ValueError(f"unknown F-score reduction {reduction!r}; choose 'mean' or 'max'")


def _pair_signs(rows: np.ndarray) -> np.ndarray:
    """sign(x_i - x_j) for every pair i < j of every row: ``[R, n] -> [R, n (n - 1) / 2]``."""
    i, j = np.triu_indices(rows.shape[1], 1)
    return np.sign(rows[:, i] - rows[:, j])


def _kendall_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Kendall tau-b between every row of ``a`` and every row of ``b`` (0 where a row is constant)."""
    sa, sb = _pair_signs(a), _pair_signs(b)
    untied_a, untied_b = (sa != 0).sum(1), (sb != 0).sum(1)
    denom = np.sqrt(np.outer(untied_a, untied_b).astype(np.float64))
    return np.divide(sa @ sb.T, denom, out=np.zeros_like(denom), where=denom > 0)


def _spearman_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Spearman rho (Pearson of average ranks) between every row of ``a`` and of ``b``."""
    ra, rb = stats.rankdata(a, axis=1), stats.rankdata(b, axis=1)
    ra -= ra.mean(1, keepdims=True)
    rb -= rb.mean(1, keepdims=True)
    denom = np.outer(np.linalg.norm(ra, axis=1), np.linalg.norm(rb, axis=1))
    return np.divide(ra @ rb.T, denom, out=np.zeros_like(denom), where=denom > 0)


PAIRWISE_MAX = 2_000  # beyond this many steps the all-pairs sign matrix takes too much memory


def _kendall_by_counts(x: tuple[int, np.ndarray], y: tuple[int, np.ndarray]) -> float:
    """Exact Kendall tau-b from the contingency table of two series given as (number of distinct values,
    index of each element's value): O(levels_x * levels_y) after one pass, which suits frame-level
    series (thousands of frames holding a few hundred step scores, against 1-5 ratings)."""
    (kx, xi), (ky, yi) = x, y
    if kx < 2 or ky < 2:
        return 0.0
    table = np.bincount(xi * ky + yi, minlength=kx * ky).reshape(kx, ky).astype(np.float64)
    before = np.cumsum(table, axis=0) - table  # pairs whose x is smaller, by their y level
    lower = np.cumsum(before, axis=1) - before  # ... and whose y is smaller too: concordant
    higher = before.sum(1, keepdims=True) - np.cumsum(before, axis=1)  # ... whose y is larger: discordant
    s = float((table * (lower - higher)).sum())
    n = len(xi)
    pairs = n * (n - 1) / 2
    tied_x = float((table.sum(1) * (table.sum(1) - 1) / 2).sum())
    tied_y = float((table.sum(0) * (table.sum(0) - 1) / 2).sum())
    return s / np.sqrt((pairs - tied_x) * (pairs - tied_y))


def _levels(row: np.ndarray) -> tuple[int, np.ndarray]:
    values, index = np.unique(row, return_inverse=True)
    return len(values), index


def kendall_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Kendall tau-b between every row of ``a`` and of ``b``; long (frame-level) rows are counted through
    their contingency table instead of the all-pairs sign matrix. Constant rows give 0."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape[1] <= PAIRWISE_MAX:
        return _kendall_matrix(a, b)
    la, lb = [_levels(x) for x in a], [_levels(y) for y in b]
    return np.array([[_kendall_by_counts(x, y) for y in lb] for x in la])


def rank_correlations(scores: np.ndarray, user_scores: np.ndarray) -> tuple[float, float]:
    """Otani et al. (CVPR 2019): Kendall tau-b and Spearman rho of the scores against each annotator,
    averaged over annotators. A constant series has no ranking information and counts as 0."""
    x = np.asarray(scores, dtype=np.float64)[None]
    users = np.asarray(user_scores, dtype=np.float64)
    return float(kendall_matrix(x, users).mean()), float(_spearman_matrix(x, users).mean())


def human_fscore(user_summaries: np.ndarray, reduction: str) -> float:
    """Each annotator's keyshot summary against the others' (reduced by ``reduction``), averaged."""
    return float(np.mean([summary_fscore(user_summaries[u], np.delete(user_summaries, u, axis=0), reduction)
                          for u in range(len(user_summaries))]))


def human_agreement(user_scores: np.ndarray, user_summaries: np.ndarray, reduction: str) -> dict[str, float]:
    """Otani et al. (CVPR 2019) human row for one video: each annotator against each of the others,
    averaged over the others, then over annotators. F-score uses the annotators' keyshot summaries
    (reduced over the others by ``reduction``), tau and rho their raw scores."""
    n = len(user_scores)
    if n < 2:
        raise ValueError("human agreement needs at least two annotators")
    scores = np.asarray(user_scores, dtype=np.float64)
    off_diagonal = ~np.eye(n, dtype=bool)  # every ordered pair of different annotators
    return {
        "fscore": human_fscore(user_summaries, reduction),
        "kendall": float(kendall_matrix(scores, scores)[off_diagonal].mean()),
        "spearman": float(_spearman_matrix(scores, scores)[off_diagonal].mean()),
    }


def evaluate_videos(predictions, episodes, budget: float, reduction: str) -> dict[str, float]:
    """The keyshot protocol over videos whose ``meta`` holds ``picks``, ``n_frames``, ``change_points``,
    ``user_summaries`` and ``user_scores``: F-score, Kendall tau-b and Spearman rho, each averaged over
    videos. Rank correlation uses the raw step scores, before any knapsack."""
    from tasks.predictions import aligned_predictions

    preds = aligned_predictions(predictions, episodes)
    rows = []
    for ep in episodes:
        m = ep.meta
        scores = preds[ep.id][:, 0]
        frames = frame_scores(scores, m["picks"], m["n_frames"])
        summary = keyshot_summary(frames, m["change_points"], m["n_frames"], budget)
        tau, rho = rank_correlations(scores, m["user_scores"])
        rows.append((summary_fscore(summary, m["user_summaries"], reduction), tau, rho))
    f, tau, rho = np.mean(rows, axis=0)
    return {"fscore": float(f), "kendall": float(tau), "spearman": float(rho)}


def evaluate_humans(episodes, reduction: str) -> dict[str, float]:
    """The human reference row over videos (see ``human_agreement``), averaged over videos."""
    rows = [human_agreement(ep.meta["user_scores"], ep.meta["user_summaries"], reduction) for ep in episodes]
    return {k: float(np.mean([r[k] for r in rows])) for k in ("fscore", "kendall", "spearman")}
