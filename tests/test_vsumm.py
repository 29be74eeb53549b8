"""Golden values for the keyshot protocol: knapsack, F-score, reductions, rank correlation."""

import itertools

import numpy as np
import pytest

from tasks import vsumm


def brute_force(values, weights, capacity):
    best = 0.0
    for r in range(len(values) + 1):
        for combo in itertools.combinations(range(len(values)), r):
            w = sum(weights[i] for i in combo)
            v = sum(values[i] for i in combo)
            if w <= capacity and v > best + 1e-12:
                best = v
    return best


def test_knapsack_textbook_instance():
    assert vsumm.knapsack([60, 100, 120], [10, 20, 30], 50) == [1, 2]


def test_knapsack_fsu_p01():
    # FSU knapsack instance P01 (Kreher & Stinson): optimum 309 with items 1,2,3,4,6 (1-based).
    w = [23, 31, 29, 44, 53, 38, 63, 85, 89, 82]
    v = [92, 57, 49, 68, 60, 43, 67, 84, 87, 72]
    chosen = vsumm.knapsack(v, w, 165)
    assert chosen == [0, 1, 2, 3, 5]
    assert sum(v[i] for i in chosen) == 309


@pytest.mark.parametrize("seed", range(20))
def test_knapsack_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 9))
    values = rng.uniform(-0.2, 1, n).round(3).tolist()
    weights = rng.integers(1, 12, n).tolist()
    cap = int(rng.integers(0, 30))
    chosen = vsumm.knapsack(values, weights, cap)
    assert sum(weights[i] for i in chosen) <= cap
    assert sum(values[i] for i in chosen) == pytest.approx(brute_force(values, weights, cap))


def test_knapsack_rejects_mismatched_inputs():
    with pytest.raises(ValueError, match="3 values but 2 weights"):
        vsumm.knapsack([1, 2, 3], [1, 2], 5)


def test_fscore_hand_cases():
    machine = np.array([1, 1, 0, 0, 0, 0], bool)
    user = np.array([0, 1, 1, 0, 0, 0], bool)
    assert vsumm.fscore(machine, user) == pytest.approx(0.5)  # P = R = 1/2
    assert vsumm.fscore(machine, np.array([0, 0, 0, 1, 1, 0], bool)) == 0.0
    # P = 1/4, R = 1/1 -> F = 2 * 0.25 / 1.25 = 0.4
    assert vsumm.fscore(np.array([1, 1, 1, 1, 0], bool), np.array([1, 0, 0, 0, 0], bool)) == pytest.approx(0.4)
    # a machine summary longer than the video is truncated, a shorter one zero-padded
    assert vsumm.fscore(np.array([1, 1, 1], bool), np.array([1, 1], bool)) == pytest.approx(1.0)
    assert vsumm.fscore(np.array([1], bool), np.array([1, 1], bool)) == pytest.approx(2 / 3)


def test_summary_fscore_mean_versus_max():
    machine = np.array([1, 1, 0, 0], bool)
    users = np.array([[1, 1, 0, 0], [0, 0, 1, 1], [0, 1, 1, 0]], bool)
    # per user: 1.0, 0.0, 0.5
    assert vsumm.summary_fscore(machine, users, "mean") == pytest.approx(0.5)
    assert vsumm.summary_fscore(machine, users, "max") == pytest.approx(1.0)
    with pytest.raises(ValueError, match="reduction"):
        vsumm.summary_fscore(machine, users, "median")


def test_keyshot_summary_budget_and_shot_means():
    # 20 frames, budget floor(0.15 * 20) = 3 frames; shots of 2, 3, 5, 10 frames
    cps = np.array([[0, 1], [2, 4], [5, 9], [10, 19]])
    scores = np.zeros(20)
    scores[0:2] = 0.9  # shot 0 (2 frames) best
    scores[2:5] = 0.8  # shot 1 (3 frames) second, but 2 + 3 > 3
    scores[5:10] = 0.1
    summary = vsumm.keyshot_summary(scores, cps, 20, budget=0.15)
    assert summary.tolist() == [True, True] + [False] * 18
    summary = vsumm.keyshot_summary(scores, cps, 20, budget=0.25)  # 5 frames: shots 0 and 1
    assert summary.sum() == 5 and summary[:5].all()


def test_frame_scores_hold_each_pick():
    out = vsumm.frame_scores(np.array([1.0, 2.0, 3.0]), np.array([0, 2, 5]), 7)
    assert out.tolist() == [1, 1, 2, 2, 2, 3, 3]


def test_rank_correlations_known_values():
    scores = np.array([1.0, 2.0, 3.0, 4.0])
    users = np.array([[1, 2, 3, 4], [4, 3, 2, 1]], float)
    tau, rho = vsumm.rank_correlations(scores, users)
    assert (tau, rho) == pytest.approx((0.0, 0.0))  # +1 and -1 averaged
    tau, rho = vsumm.rank_correlations(scores, users[:1])
    assert (tau, rho) == pytest.approx((1.0, 1.0))
    # one swapped pair out of 6: tau = (5 - 1) / 6; rho = 1 - 6 * 2 / (4 * 15) = 0.8
    tau, rho = vsumm.rank_correlations(scores, np.array([[2, 1, 3, 4]], float))
    assert (tau, rho) == pytest.approx((4 / 6, 0.8))
    # a constant prediction carries no ranking: 0, not NaN
    assert vsumm.rank_correlations(np.ones(4), users) == (0.0, 0.0)


@pytest.mark.parametrize("seed", range(5))
def test_vectorised_rank_correlations_match_scipy(seed):
    from scipy import stats

    rng = np.random.default_rng(seed)
    scores = rng.integers(0, 6, 40).astype(float)  # many ties, like 1-5 ratings
    users = rng.integers(1, 6, (7, 40)).astype(float)
    tau, rho = vsumm.rank_correlations(scores, users)
    assert tau == pytest.approx(np.mean([stats.kendalltau(scores, u).statistic for u in users]))
    assert rho == pytest.approx(np.mean([stats.spearmanr(scores, u).statistic for u in users]))


def test_human_agreement_hand_case():
    # three annotators over 4 steps: 0 and 1 agree perfectly, 2 is reversed
    users = np.array([[1, 2, 3, 4], [1, 2, 3, 4], [4, 3, 2, 1]], float)
    summaries = np.array([[1, 1, 0, 0], [1, 1, 0, 0], [0, 0, 1, 1]], bool)
    h = vsumm.human_agreement(users, summaries, "mean")
    # ordered pairs: (0,1)=(1,0)=+1, the four pairs with 2 are -1 -> (2 - 4) / 6
    assert h["kendall"] == pytest.approx(-1 / 3) and h["spearman"] == pytest.approx(-1 / 3)
    # F: annotator 0 vs {1, 2} = mean(1, 0) = 0.5, same for 1, annotator 2 vs {0, 1} = 0
    assert h["fscore"] == pytest.approx(1 / 3)
    assert vsumm.human_agreement(users, summaries, "max")["fscore"] == pytest.approx(2 / 3)


def test_frame_level_series_take_the_long_path_and_agree(monkeypatch):
    # tens of thousands of frames: SciPy's O(n log n) tau-b per annotator instead of the pairs matrix
    from scipy import stats

    rng = np.random.default_rng(3)
    scores = rng.integers(0, 30, vsumm.PAIRWISE_MAX + 500).astype(float)
    users = rng.integers(1, 6, (3, len(scores))) + scores / 10
    long_tau, long_rho = vsumm.rank_correlations(scores, users)
    assert long_tau == pytest.approx(np.mean([stats.kendalltau(scores, u).statistic for u in users]))
    monkeypatch.setattr(vsumm, "PAIRWISE_MAX", 10**6)
    assert vsumm.rank_correlations(scores, users) == pytest.approx((long_tau, long_rho))
    assert vsumm.rank_correlations(np.ones(len(scores)), users) == (0.0, 0.0)
