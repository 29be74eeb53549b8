"""The three keyshot-summary variants of the eccv16 tasks, computed as their reference code computed them.

Each published number was produced by one of three widely copied implementations, all of which hold
scores and average shots in float32, and all of which ran under NumPy 1.x promotion rules (DSNet pins
numpy 1.19.5). NumPy 2 (NEP 50) changed what ``python_float + float32_scalar`` and ``1000 * float32``
compute, which moves ties; so the arithmetic here names every dtype instead of relying on promotion:

- ``reference`` (K. Zhou, pytorch-vsumm-reinforce ``vsum_tools.generate_summary`` + ``knapsack_dp``):
  float32 frame scores, float32 shot means; a float32 DP table whose candidate ``value + table[...]`` is
  computed in float64 (a Python float plus a float32 scalar under NumPy 1.x), compared with the float32
  entry, stored back rounded to float32; weights ``n_frame_per_seg``; budget ``floor(0.15 n_frames)``;
  the summary concatenates the shots, then is cut or zero-padded to ``n_frames``.
- ``dsnet`` (li-plus/DSNet ``get_keyshot_summ``): shot value ``int(1000 * mean)`` with the product in
  float64 (NumPy 1.x: Python int times float32 scalar) truncated towards zero; OR-tools' dynamic
  programming knapsack (its item-by-item reconstruction included: with no profitable item it still packs
  item 0 when it fits); budget ``int(0.15 n_frames)``; the summary is ``n_frames`` long.
- ``pgl-sum`` (e-apostolidis/PGL-SUM ``generate_summary`` + ``knapSack``; CA-SUM and CSTA copy it): shot
  means as Python floats, a float64 DP; weights from ``change_points``; budget
  ``int((last_end + 1) * 0.15)`` from the last shot's end as stored (before any clipping to the video);
  the summary is ``last_end + 1`` frames long and both it and the user summary are zero-padded to the
  longer of the two before the F-score.

An empty machine summary scores F = 0 in every variant (PGL-SUM's code divides 0 by 0 there and yields
NaN; the others give 0).
"""

from __future__ import annotations

import math

import numpy as np

VARIANTS = ("reference", "dsnet", "pgl-sum")


def hold_float32(step_scores: np.ndarray, picks: np.ndarray, n_frames: int) -> np.ndarray:
    """Each step's score held from its pick to the next (the last to ``n_frames``), in float32."""
    frames = np.zeros(n_frames, dtype=np.float32)
    bounds = np.append(np.asarray(picks, dtype=np.int64), n_frames)
    scores = np.asarray(step_scores, dtype=np.float64).astype(np.float32)
    for i, s in enumerate(scores):
        frames[bounds[i]: bounds[i + 1]] = s
    return frames


def mean_float32(x: np.ndarray) -> np.float32:
    """``x.mean()`` of a float32 array as NumPy 1.x returned it: numpy's float32 (pairwise) sum, divided by
    the count in float64, rounded to float32."""
    total = np.add.reduce(np.asarray(x, dtype=np.float32), dtype=np.float32)
    return np.float32(np.float64(total) / np.float64(len(x)))


def knapsack_float32_table(values: np.ndarray, weights: np.ndarray, capacity: int) -> list[int]:
    """Zhou's ``knapsack_dp`` (see the module docstring); returns the chosen indices, ascending."""
    values = np.asarray(values, dtype=np.float64)
    weights = np.asarray(weights, dtype=np.int64)
    table = np.zeros(capacity + 1, dtype=np.float32)
    keep = np.zeros((len(values), capacity + 1), dtype=bool)
    for i, (v, w) in enumerate(zip(values, weights)):
        if w > capacity:
            continue
        candidate = v + table[: capacity + 1 - w].astype(np.float64)  # exact: float64 holds both
        better = candidate > table[w:].astype(np.float64)
        keep[i, w:] = better
        table[w:] = np.where(better, candidate.astype(np.float32), table[w:])
    chosen, c = [], capacity
    for i in range(len(values) - 1, -1, -1):
        if keep[i, c]:
            chosen.append(i)
            c -= int(weights[i])
    return sorted(chosen)


def knapsack_ortools_dp(values: np.ndarray, weights: np.ndarray, capacity: int) -> list[int]:
    """OR-tools' ``KNAPSACK_DYNAMIC_PROGRAMMING_SOLVER`` as DSNet calls it, integer profits.

    With its preprocessing: when every item fits, every item is packed. Otherwise a one-row DP over the
    items (capacities from high to low, strict improvement) remembers, per capacity, the last item that
    improved it; the item remembered at the remaining capacity is packed (if it still fits), and the search
    repeats on the items before it. A capacity no item ever improved remembers item 0."""
    profits = [int(v) for v in values]
    weights = [int(w) for w in weights]
    if sum(weights) <= capacity:
        return list(range(len(weights)))
    chosen, remaining, n_items = [], int(capacity), len(profits)
    while remaining > 0 and n_items > 0:
        best = np.zeros(remaining + 1, dtype=np.int64)
        last = np.zeros(remaining + 1, dtype=np.int64)
        for item in range(n_items):
            w, p = weights[item], profits[item]
            if w > remaining:
                continue
            # capacities from high to low read the previous item's row: one vectorised step does the same
            candidate = best[: remaining + 1 - w] + p
            improved = candidate > best[w:]
            last[w:] = np.where(improved, item, last[w:])
            best[w:] = np.where(improved, candidate, best[w:])
        item = int(last[remaining])
        remaining -= weights[item]
        n_items = item
        if remaining >= 0:
            chosen.append(item)
    return sorted(chosen)


def knapsack_float64(values: np.ndarray, weights: np.ndarray, capacity: int) -> list[int]:
    """PGL-SUM's ``knapSack``: Python floats, an item taken only when it strictly raises the value."""
    from tasks.vsumm import knapsack

    return knapsack(np.asarray(values, dtype=np.float64), np.asarray(weights, dtype=np.int64), capacity)


def machine_summary(step_scores: np.ndarray, picks: np.ndarray, n_frames: int, change_points: np.ndarray,
                    n_frame_per_seg: np.ndarray, budget: float, variant: str) -> np.ndarray:
    """The binary machine summary of one video under ``variant``, with the length that variant gives it
    (``n_frames``, or ``last_end + 1`` for pgl-sum)."""
    cps = np.asarray(change_points, dtype=np.int64)
    frames = hold_float32(step_scores, picks, n_frames)
    means = [mean_float32(frames[s: e + 1]) for s, e in cps]
    if variant == "reference":
        weights = np.asarray(n_frame_per_seg, dtype=np.int64)
        chosen = knapsack_float32_table(np.array(means, dtype=np.float64), weights,
                                        int(math.floor(np.float64(n_frames) * budget)))
        length = n_frames
    elif variant == "dsnet":
        weights = np.asarray(n_frame_per_seg, dtype=np.int64)
        values = np.array([int(np.float64(1000) * np.float64(m)) for m in means], dtype=np.int32)
        chosen = knapsack_ortools_dp(values, weights, int(np.float64(n_frames) * budget))
        length = n_frames
    elif variant == "pgl-sum":
        weights = cps[:, 1] - cps[:, 0] + 1
        chosen = knapsack_float64(np.array(means, dtype=np.float64), weights, int((int(cps[-1, 1]) + 1) * budget))
        length = int(cps[-1, 1]) + 1
    else:
        raise ValueError(f"unknown protocol variant {variant!r}; choose one of {', '.join(VARIANTS)}")
    summary = np.zeros(max(length, int(cps[-1, 1]) + 1), dtype=bool)
    for i in chosen:
        summary[cps[i, 0]: cps[i, 1] + 1] = True
    return summary[:length]


def variant_fscore(machine: np.ndarray, user: np.ndarray, variant: str) -> float:
    """F1 of a machine summary against one user summary, aligned as ``variant`` aligns them: cut or padded
    to the user's length (reference, dsnet), or both padded to the longer (pgl-sum). 0 without overlap."""
    machine, user = np.asarray(machine, dtype=bool), np.asarray(user, dtype=bool)
    if variant == "pgl-sum":
        n = max(len(machine), len(user))
        machine, user = (np.pad(a, (0, n - len(a))) for a in (machine, user))
    else:
        n = len(user)
        machine = machine[:n] if len(machine) >= n else np.pad(machine, (0, n - len(machine)))
    overlap = int(np.sum(machine & user))
    if overlap == 0:
        return 0.0
    precision, recall = overlap / int(machine.sum()), overlap / int(user.sum())
    return 2 * precision * recall / (precision + recall)
