"""Paired statistics over cells: how sure a table is of each difference and of each rank.

Two rows of a table that ran on the same task with the same seeds and folds form paired cells, one per
(seed, fold). Over the cells both rows have, the difference of their scores has a bootstrap interval
(a two-stage bootstrap: folds resampled, then cells within each drawn fold, from a fixed generator, so
the interval is the same every time), an
exact sign-flip test of "no difference" (every one of the 2^n sign patterns while that is affordable),
and Holm's correction across the rows of one table. The same resamples give each row's rank interval.
With n paired cells the smallest p a sign-flip test can reach is 2 / 2^n, so below ``MIN_CELLS`` no test
can come out significant at 5 % after a correction, and none is made. This is the uncertainty of training
(seeds and folds). The other kind, test-set sampling, is ``test_set_interval``: from the resamples of the
test sequences each cell's record holds, kept apart from the above and never pooled with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Hashable, Mapping, Sequence

import numpy as np

N_RESAMPLES = 10_000
MIN_CELLS = 6  # 2 / 2^6 = 0.031: the fewest cells whose exact test can fall below 0.05
MAX_EXACT = 20  # up to 2^20 sign patterns are enumerated; beyond, a seeded Monte Carlo draw of them
LEVEL = 0.95
SEED = 0

Cell = tuple[int, int]  # (seed, fold)
Resamples = tuple[int, np.ndarray]  # a cell's test-set resamples: the draws' seed, the main score on each


@dataclass(frozen=True)
class Paired:
    """One row against another over the cells both have."""

    n: int
    delta: float  # mean of row - against over the paired cells
    low: float | None  # the bootstrap interval; None under MIN_CELLS cells, whose few values cannot give one
    high: float | None
    p: float | None  # None: fewer than MIN_CELLS paired cells, not tested
    smallest: float  # the smallest and largest paired difference: whether the cells agree in sign
    largest: float
    # test-set sampling, apart from the above: the interval of the mean difference over resamples of the test
    # sequences, training fixed (``test_set_interval``); None where the cells hold no shared resamples
    test_low: float | None = None
    test_high: float | None = None
    test_cells: int = 0

    @property
    def tested(self) -> bool:
        return self.p is not None


def p_floor(n: int) -> float:
    """The smallest two-sided p an exact sign-flip test over n paired cells can give."""
    return min(1.0, 2.0 / 2 ** n)


def resample_weights(strata: Sequence[Hashable], n_resamples: int = N_RESAMPLES, seed: int = SEED) -> np.ndarray:
    """``[n_resamples, n]``: how often each cell is drawn in each resample of a two-stage bootstrap, folds
    first (as many as there are, with replacement), then within each drawn fold as many of its cells as it
    holds (with replacement). Resampling the folds keeps the fold-to-fold spread (which test videos) in the
    interval, as the sign-flip test keeps it; resampling only within folds would leave it out and give
    intervals that exclude 0 where the test finds nothing. One fold: the cells (seeds) alone are drawn."""
    strata = np.asarray(strata)
    rng = np.random.default_rng(seed)
    groups = [np.flatnonzero(strata == value) for value in sorted(set(strata.tolist()))]
    weights = np.zeros((n_resamples, len(strata)))
    if not groups:
        return weights
    picks = rng.integers(0, len(groups), size=(n_resamples, len(groups))) if len(groups) > 1 \
        else np.zeros((n_resamples, 1), dtype=int)
    rows = np.arange(n_resamples)
    for slot in range(len(groups)):
        for g, members in enumerate(groups):
            chosen = rows[picks[:, slot] == g]
            draws = members[rng.integers(0, len(members), size=(len(chosen), len(members)))]
            np.add.at(weights, (np.repeat(chosen, len(members)), draws.ravel()), 1)
    return weights


def bootstrap_interval(diffs: np.ndarray, strata: Sequence[Hashable], level: float = LEVEL,
                       n_resamples: int = N_RESAMPLES, seed: int = SEED) -> tuple[float, float]:
    """Percentile interval of the mean difference over two-stage resamples (``resample_weights``)."""
    if len(diffs) == 0:
        return float("nan"), float("nan")
    weights = resample_weights(strata, n_resamples, seed)
    means = weights @ diffs / weights.sum(axis=1)
    tail = (1 - level) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    return float(low), float(high)


def sign_flip_p(diffs: np.ndarray, max_exact: int = MAX_EXACT, n_draws: int = 100_000, seed: int = SEED) -> float:
    """Two-sided p of "no difference": the share of sign patterns whose mean is at least as far from 0 as
    the observed one (exact over all 2^n patterns for n <= ``max_exact``)."""
    n = len(diffs)
    if n == 0:
        return 1.0
    observed = abs(diffs.mean())
    if n <= max_exact:
        patterns = ((np.arange(2 ** n)[:, None] >> np.arange(n)) & 1) * 2 - 1
    else:
        patterns = np.random.default_rng(seed).choice([-1, 1], size=(n_draws, n))
    flipped = np.abs((patterns * diffs).mean(axis=1))
    tolerance = 1e-12 * max(1.0, observed)  # the observed pattern itself must count despite rounding
    return float(np.mean(flipped >= observed - tolerance))


def holm(pvalues: Sequence[float | None]) -> list[float | None]:
    """Holm's step-down adjustment of the p-values that exist (None stays None), in their given order."""
    present = [(p, i) for i, p in enumerate(pvalues) if p is not None]
    out: list[float | None] = [None] * len(pvalues)
    running = 0.0
    for k, (p, i) in enumerate(sorted(present)):
        running = max(running, min(1.0, (len(present) - k) * p))
        out[i] = running
    return out


def assign_holm(rows: Sequence) -> None:
    """Set each row's ``p_holm``: its comparison's p (``row.versus.p``; a row without one: None),
    Holm-corrected across the rows."""
    for r, p in zip(rows, holm([r.versus.p if r.versus else None for r in rows])):
        r.p_holm = p


def paired_cells(row: Mapping[Cell, float], against: Mapping[Cell, float]) -> tuple[np.ndarray, np.ndarray]:
    """The differences row - against over the cells both have, in a fixed order, and each cell's fold;
    one cell only for a fold where neither row depends on the seed: two such rows
    (ridge against the human reference, say) repeat one comparison per fold, and counting its copies as
    independent cells would make a test of 5 folds look like one of 15."""
    cells = sorted(set(row) & set(against))
    keep = []
    for fold in sorted({c[1] for c in cells}):
        members = [c for c in cells if c[1] == fold]
        fixed = all(np.ptp([table[c] for c in members]) <= 1e-12 * max(1.0, max(abs(table[c]) for c in members))
                    for table in (row, against))
        keep += members[:1] if fixed else members
    keep.sort()
    return np.array([row[c] - against[c] for c in keep], dtype=float), np.array([c[1] for c in keep])


def compare(row: Mapping[Cell, float], against: Mapping[Cell, float], seed: int = SEED,
            row_resamples: Mapping[Cell, Resamples] | None = None,
            against_resamples: Mapping[Cell, Resamples] | None = None) -> Paired:
    """Below ``MIN_CELLS`` paired cells neither an interval nor a test: a percentile bootstrap over two to
    five values is narrower than the truth, and no exact p can reach 0.05; the cells' range is given instead,
    and, where the cells hold them, the interval over test-set resamples (``test_set_interval``)."""
    diffs, folds = paired_cells(row, against)
    if len(diffs) == 0:
        nan = float("nan")
        return Paired(0, nan, None, None, None, nan, nan)
    low, high, p = None, None, None
    if len(diffs) >= MIN_CELLS:
        low, high = bootstrap_interval(diffs, folds, seed=seed)
        p = sign_flip_p(diffs)
    test_low, test_high, test_cells = test_set_interval(row_resamples or {}, against_resamples or {})
    return Paired(len(diffs), float(diffs.mean()), low, high, p, float(diffs.min()), float(diffs.max()),
                  test_low, test_high, test_cells)


def test_set_interval(row: Mapping[Cell, Resamples], against: Mapping[Cell, Resamples],
                      level: float = LEVEL) -> tuple[float | None, float | None, int]:
    """The percentile interval of the mean paired difference over resamples of the test sequences, with
    training held fixed: on each resample, row - against in every cell both scored on the same draws
    (the same seed: the same fold of the same split), averaged over those cells. How many cells that is
    comes third; (None, None, 0) where there are none. The uncertainty of which sequences were tested,
    not of training; a cell's resamples share its test set, so they are never pooled with the cells'
    own spread."""
    cells = sorted(c for c in set(row) & set(against)
                   if row[c][0] == against[c][0] and len(row[c][1]) == len(against[c][1]))
    if not cells:
        return None, None, 0
    means = np.mean([row[c][1] - against[c][1] for c in cells], axis=0)
    tail = (1 - level) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    return float(low), float(high), len(cells)


def rank_intervals(rows: Sequence[Mapping[Cell, float]], higher_is_better: bool, level: float = LEVEL,
                   n_resamples: int = N_RESAMPLES, seed: int = SEED) -> tuple[list[tuple[int, int | None, int | None]], int]:
    """Each row's rank (1 = best) on the mean over the cells every row has, with its 95 % interval over
    resamples of those cells (None, None under ``MIN_CELLS`` cells), and how many cells that is. Ties share
    the better rank."""
    if not rows:
        return [], 0
    cells = sorted(set.intersection(*(set(r) for r in rows)))
    if not cells:
        return [], 0
    scores = np.array([[r[c] for c in cells] for r in rows])  # [rows, cells]
    if len(cells) < MIN_CELLS:
        return [(int(at), None, None) for at in _ranks(scores.mean(axis=1, keepdims=True), higher_is_better)[:, 0]], \
            len(cells)
    weights = resample_weights([c[1] for c in cells], n_resamples, seed)
    means = scores @ weights.T / weights.sum(axis=1)  # [rows, resamples]
    observed = _ranks(scores.mean(axis=1, keepdims=True), higher_is_better)[:, 0]
    ranks = _ranks(means, higher_is_better)
    tail = (1 - level) / 2
    out = [(int(at), int(np.quantile(r, tail, method="inverted_cdf")), int(np.quantile(r, 1 - tail, method="inverted_cdf")))
           for at, r in zip(observed, ranks)]
    return out, len(cells)


def _ranks(means: np.ndarray, higher_is_better: bool) -> np.ndarray:
    """``[rows, k]`` means -> ranks per column: 1 + the number of rows strictly better."""
    signed = -means if higher_is_better else means
    return (signed[None, :, :] < signed[:, None, :]).sum(axis=1) + 1
