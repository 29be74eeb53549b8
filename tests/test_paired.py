"""The paired statistics on known cases: a shift found, noise not, Holm by hand, a clear winner's rank."""

import numpy as np
import pytest
from scipy import stats

from benchmark.reporting.paired import (MIN_CELLS, bootstrap_interval, compare, holm, p_floor, rank_intervals,
                                        resample_weights, sign_flip_p)

CELLS = [(seed, fold) for seed in range(3) for fold in range(5)]  # 15 paired cells


def cells_of(values):
    return dict(zip(CELLS, values))


def test_a_clear_shift_over_15_cells_is_found():
    rng = np.random.default_rng(1)
    base = rng.normal(0.15, 0.03, len(CELLS))  # folds differ far more than the shift's noise
    worse = base + 0.02 + rng.normal(0, 0.003, len(CELLS))
    result = compare(cells_of(worse), cells_of(base))
    assert result.n == 15 and result.tested
    assert result.p == pytest.approx(p_floor(15))  # every cell worse: only the observed pattern and its mirror
    assert 0.015 < result.low < result.delta < result.high < 0.025


def test_identical_models_up_to_noise_are_not_told_apart():
    rng = np.random.default_rng(2)
    base = rng.normal(0.15, 0.03, len(CELLS))
    a, b = base + rng.normal(0, 0.002, len(CELLS)), base + rng.normal(0, 0.002, len(CELLS))
    result = compare(cells_of(a), cells_of(b))
    assert result.p > 0.2
    assert result.low < 0 < result.high


def test_the_exact_test_agrees_with_scipys_permutation_test():
    diffs = np.array([0.03, -0.01, 0.02, 0.05, 0.01, -0.02, 0.04, 0.00])
    ref = stats.permutation_test((diffs,), np.mean, permutation_type="samples", alternative="two-sided",
                                 n_resamples=np.inf)
    assert sign_flip_p(diffs) == pytest.approx(ref.pvalue)


def test_the_p_floor_is_two_over_two_to_the_n():
    assert p_floor(3) == 0.25 and p_floor(6) == pytest.approx(2 / 64)
    assert sign_flip_p(np.full(6, 0.01)) == pytest.approx(p_floor(6))
    assert p_floor(MIN_CELLS) < 0.05 <= p_floor(MIN_CELLS - 1)


def test_fewer_than_six_paired_cells_are_not_tested():
    a = {(s, 0): 0.1 + s for s in range(3)}
    b = {(s, 0): 0.2 + s + 0.01 * s for s in range(5)}
    result = compare(a, b)
    assert result.n == 3 and not result.tested and result.p is None
    assert result.delta == pytest.approx(-0.11)
    # no bootstrap interval from three values; their range instead
    assert result.low is None and result.high is None
    assert (result.smallest, result.largest) == pytest.approx((-0.12, -0.1))
    ranks, n = rank_intervals([a, b], higher_is_better=False)
    assert n == 3 and ranks == [(1, None, None), (2, None, None)]


def test_holm_by_hand():
    # sorted 0.005, 0.01, 0.03, 0.04 -> x4, x3, x2, x1 = 0.02, 0.03, 0.06, 0.04 -> made monotone: 0.06
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.5, None, 0.9]) == [1.0, None, 1.0]  # 0.5 x 2 = 1; 0.9 x 1 is raised to it


def test_a_clear_winner_ranks_first_in_every_resample():
    rng = np.random.default_rng(3)
    base = rng.normal(0.15, 0.01, len(CELLS))
    rows = [cells_of(base + 0.05), cells_of(base - 0.05), cells_of(base + rng.normal(0, 0.001, len(CELLS)))]
    ranks, n = rank_intervals(rows, higher_is_better=False)
    assert n == 15
    assert ranks[1] == (1, 1, 1)
    assert ranks[0] == (3, 3, 3)
    assert ranks[2] == (2, 2, 2)


def test_ranks_use_only_the_cells_every_row_has_and_follow_the_direction():
    a = {(s, f): 0.9 - 0.01 * s for s in range(4) for f in range(2)}
    b = {(s, f): 0.1 + 0.01 * s for s in range(3) for f in range(2)}
    ranks, n = rank_intervals([a, b], higher_is_better=True)
    assert n == 6 and ranks == [(1, 1, 1), (2, 2, 2)]
    ranks, _ = rank_intervals([a, b], higher_is_better=False)
    assert ranks == [(2, 2, 2), (1, 1, 1)]


def test_resamples_draw_folds_then_cells_and_repeat_with_the_seed():
    folds = [0, 0, 0, 1, 1, 2, 2]
    weights = resample_weights(folds, n_resamples=2000)
    assert weights.shape == (2000, 7) and np.array_equal(weights, resample_weights(folds, n_resamples=2000))
    # each drawn fold brings as many cells as it holds, so a resample has 5 to 9 cells (three folds drawn)
    sizes = weights.sum(axis=1)
    assert sizes.min() >= 6 and sizes.max() <= 9 and len(set(sizes.tolist())) > 1
    # a fold is left out of some resamples: its spread is part of the interval
    assert (weights[:, 5:].sum(axis=1) == 0).any()
    diffs = np.linspace(-0.01, 0.03, 7)
    assert bootstrap_interval(diffs, folds) == bootstrap_interval(diffs, folds)
    # one fold: only its cells (seeds) are drawn, n each time
    assert (resample_weights([0, 0, 0, 0], n_resamples=100).sum(axis=1) == 4).all()


def test_the_interval_keeps_the_spread_between_folds():
    # the seeds agree within each fold, the folds disagree in sign: the test finds nothing, nor may the interval
    diffs = np.repeat([0.03, -0.01, 0.02, -0.015, 0.025], 3) + np.tile([0.0, 0.0005, -0.0005], 5)
    folds = np.repeat(np.arange(5), 3)
    low, high = bootstrap_interval(diffs, folds)
    assert low < 0 < high and sign_flip_p(diffs) > 0.05


def test_folds_of_one_cell_are_resampled_not_frozen():
    folds = [0, 1, 2, 3, 4]  # one seed x 5 folds
    low, high = bootstrap_interval(np.array([0.01, 0.02, -0.01, 0.03, 0.0]), folds)
    assert low < high


def test_rows_that_ignore_the_seed_count_one_cell_per_fold():
    # both deterministic: 3 seeds x 5 folds repeat 5 comparisons, so 5 cells (too few), not 15
    a = {(s, f): 0.10 + 0.01 * f for s in range(3) for f in range(5)}
    b = {(s, f): 0.12 + 0.01 * f for s in range(3) for f in range(5)}
    result = compare(a, b)
    assert result.n == 5 and result.p is None
    # one row varies with the seed: every cell counts
    c = {(s, f): 0.12 + 0.01 * f + 0.001 * s for s in range(3) for f in range(5)}
    assert compare(a, c).n == 15


def test_the_test_set_interval_finds_a_shift_on_the_same_draws_and_not_identical_scores():
    from benchmark.reporting.paired import test_set_interval
    rng = np.random.default_rng(3)
    # one cell: what varies from resample to resample is which test sequences were drawn, shared by both rows
    shared = rng.normal(0.15, 0.02, 1000)
    row = {(0, 0): (7, shared + 0.01 + rng.normal(0, 0.001, 1000))}
    against = {(0, 0): (7, shared)}
    low, high, n = test_set_interval(row, against)
    assert n == 1 and 0.007 < low < 0.01 < high < 0.013
    assert test_set_interval(against, against) == (0.0, 0.0, 1)


def test_the_test_set_interval_pairs_only_cells_scored_on_the_same_draws():
    from benchmark.reporting.paired import test_set_interval
    scores = np.linspace(0, 1, 1000)
    row = {(0, 0): (7, scores + 1), (0, 1): (8, scores + 3), (1, 0): (7, scores[:10])}
    against = {(0, 0): (7, scores), (0, 1): (9, scores), (1, 0): (7, scores)}
    # (0, 1) was drawn from another split, (1, 0) holds another number of resamples: only (0, 0) pairs
    assert test_set_interval(row, against) == pytest.approx((1.0, 1.0, 1))
    assert test_set_interval(row, {}) == (None, None, 0)
    # the mean over cells, resample by resample: a cell +1 and a cell -1 on the same draws cancel
    two = {(0, 0): (7, scores + 1), (1, 0): (7, scores - 1)}
    base = {(0, 0): (7, scores), (1, 0): (7, scores)}
    assert test_set_interval(two, base) == pytest.approx((0.0, 0.0, 2))
    p = compare({c: 0.0 for c in two}, {c: 0.0 for c in base}, row_resamples=two, against_resamples=base)
    assert p.low is None and (p.test_low, p.test_high, p.test_cells) == pytest.approx((0.0, 0.0, 2))
