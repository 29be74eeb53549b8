"""F-score over the random summarizer's on the same splits (Apostolidis et al., ACM MM 2020, "Performance
over Random"): the F-score of a split is as much a property of the split as of the model (some test videos
are easy for anything), so each cell's F-score is divided by the random row's on the same fold, and the
ratio is averaged like any other metric: over the folds of a seed, then over seeds."""

from __future__ import annotations

from collections import defaultdict
from typing import Mapping

METRIC = "fscore/random"
SOURCE = "fscore"
RANDOM = "random"

Cell = tuple[int, int]  # (seed, fold)


def random_per_fold(random_cells: Mapping[Cell, float]) -> dict[int, float]:
    """The random row's F-score per fold, averaged over its seeds: the denominator where a row's seed is
    not one of random's (a deterministic model's, say)."""
    by_fold: dict[int, list[float]] = defaultdict(list)
    for (_, fold), f in random_cells.items():
        by_fold[fold].append(f)
    return {fold: sum(v) / len(v) for fold, v in by_fold.items()}


def ratio_cells(cells: Mapping[Cell, float], random_cells: Mapping[Cell, float]) -> dict[Cell, float] | None:
    """Each cell's F-score over random's on the same seed and fold (its fold mean where that seed is
    missing); None where random lacks a fold of the row or scores 0 there."""
    per_fold = random_per_fold(random_cells)
    out = {}
    for cell, f in cells.items():
        denominator = random_cells.get(cell, per_fold.get(cell[1]))
        if not denominator:
            return None
        out[cell] = f / denominator
    return out
