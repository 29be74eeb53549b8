"""The eccv16 protocol variants against independent, minimal ports of their reference code.

Each port below follows its reference line by line in plain Python loops (K. Zhou's vsum_tools +
knapsack_dp; DSNet's get_keyshot_summ + OR-tools' dynamic-programming knapsack; PGL-SUM's generate_summary
+ knapSack + evaluate_summary), with the arithmetic NumPy 1.x performed when the published numbers were
made: a Python float plus a float32 scalar, and a Python int times a float32 scalar, were computed in
float64; a float32 array's mean divided its float32 sum by the count in float64. None of rlbench's code
is used to build the expected values. Hundreds of seeded random videos are compared with continuous,
piecewise-constant and all-equal predictions, where ties decide which shots are picked.
"""

import math

import numpy as np
import pytest

from tasks.eccv16_protocols import knapsack_ortools_dp, machine_summary, mean_float32, variant_fscore


def np1_mean(x32):
    """float32 array mean as NumPy 1.x returned it."""
    return np.float32(float(np.sum(x32, dtype=np.float32)) / len(x32))


# ----- K. Zhou, pytorch-vsumm-reinforce (vsum_tools.generate_summary, knapsack.knapsack_dp) -----

def zhou_knapsack(values, weights, capacity):
    n = len(values)
    table = np.zeros((n + 1, capacity + 1), dtype=np.float32)
    keep = np.zeros((n + 1, capacity + 1), dtype=np.float32)
    for i in range(1, n + 1):
        for w in range(0, capacity + 1):
            wi, vi = weights[i - 1], values[i - 1]
            # NumPy 1.x: Python float + float32 scalar -> float64; stored back into the float32 table
            if wi <= w and vi + float(table[i - 1, w - wi]) > float(table[i - 1, w]):
                table[i, w] = vi + float(table[i - 1, w - wi])
                keep[i, w] = 1
            else:
                table[i, w] = table[i - 1, w]
    picks, k = [], capacity
    for i in range(n, 0, -1):
        if keep[i, k] == 1:
            picks.append(i)
            k -= weights[i - 1]
    return sorted(p - 1 for p in picks)


def zhou_summary(ypred, cps, n_frames, nfps, positions):
    frame_scores = np.zeros(n_frames, dtype=np.float32)
    positions = list(positions)
    if positions[-1] != n_frames:
        positions.append(n_frames)
    for i in range(len(positions) - 1):
        frame_scores[positions[i]:positions[i + 1]] = 0 if i == len(ypred) else ypred[i]
    seg_score = [float(np1_mean(frame_scores[int(s):int(e) + 1])) for s, e in cps]
    limits = int(math.floor(n_frames * 0.15))
    picks = zhou_knapsack(seg_score, [int(x) for x in nfps], limits)
    summary = []
    for seg, nf in enumerate(nfps):
        summary += [1.0 if seg in picks else 0.0] * int(nf)
    summary = np.array(summary, dtype=np.float32)
    return summary[:n_frames] if len(summary) > n_frames else np.concatenate([summary, np.zeros(n_frames - len(summary))])


def zhou_fscores(machine, users):
    out = []
    for gt in users.astype(np.float32):
        overlap = (machine * gt).sum()
        p, r = overlap / (machine.sum() + 1e-8), overlap / (gt.sum() + 1e-8)
        out.append(0.0 if p == 0 and r == 0 else 2 * p * r / (p + r))
    return out


# ----- DSNet (helpers/vsumm_helper.get_keyshot_summ) with OR-tools' DP knapsack -----

def ortools_dp(profits, weights, capacity):
    if sum(weights) <= capacity:  # KnapsackSolver::ReduceCapacities: no constraint left, all packed
        return list(range(len(weights)))
    best_solution = [False] * len(profits)
    remaining, num_items = capacity, len(profits)
    while remaining > 0 and num_items > 0:  # KnapsackDynamicProgrammingSolver::Solve
        computed = [0] * (remaining + 1)
        selected = [0] * (remaining + 1)
        for item in range(num_items):  # ::SolveSubProblem
            w, p = weights[item], profits[item]
            for used in range(remaining, w - 1, -1):
                if computed[used - w] + p > computed[used]:
                    computed[used] = computed[used - w] + p
                    selected[used] = item
        item = selected[remaining]
        remaining -= weights[item]
        num_items = item
        if remaining >= 0:
            best_solution[item] = True
    return [i for i, b in enumerate(best_solution) if b]


def dsnet_summary(pred, cps, n_frames, nfps, picks):
    frame_scores = np.zeros(n_frames, dtype=np.float32)
    for i in range(len(picks)):
        hi = picks[i + 1] if i + 1 < len(picks) else n_frames
        frame_scores[picks[i]:hi] = pred[i]
    seg_scores = np.zeros(len(cps), dtype=np.int32)
    for k, (first, last) in enumerate(cps):
        seg_scores[k] = int(1000 * float(np1_mean(frame_scores[first:last + 1])))  # NumPy 1.x: float64 product
    packed = ortools_dp([int(v) for v in seg_scores], [int(w) for w in nfps], int(n_frames * 0.15))
    summary = np.zeros(n_frames, dtype=bool)
    for k in packed:
        summary[cps[k][0]:cps[k][1] + 1] = True
    return summary


def dsnet_fscores(machine, users):
    out = []
    for test in users.astype(bool):
        overlap = (machine & test).sum()
        out.append(0.0 if overlap == 0 else float(2 * (overlap / machine.sum()) * (overlap / test.sum())
                                                  / (overlap / machine.sum() + overlap / test.sum())))
    return out


# ----- PGL-SUM (generate_summary, knapsack_implementation.knapSack, evaluation_metrics) -----

def pgl_knapsack(W, wt, val, n):
    K = [[0 for _ in range(W + 1)] for _ in range(n + 1)]
    for i in range(n + 1):
        for w in range(W + 1):
            if i == 0 or w == 0:
                K[i][w] = 0
            elif wt[i - 1] <= w:
                K[i][w] = max(val[i - 1] + K[i - 1][w - wt[i - 1]], K[i - 1][w])
            else:
                K[i][w] = K[i - 1][w]
    selected, w = [], W
    for i in range(n, 0, -1):
        if K[i][w] != K[i - 1][w]:
            selected.insert(0, i - 1)
            w -= wt[i - 1]
    return selected


def pgl_summary(scores, shot_bound, n_frames, positions):
    frame_scores = np.zeros(n_frames, dtype=np.float32)
    positions = list(positions)
    if positions[-1] != n_frames:
        positions.append(n_frames)
    for i in range(len(positions) - 1):
        frame_scores[positions[i]:positions[i + 1]] = 0 if i == len(scores) else scores[i]
    lengths = [int(e - s + 1) for s, e in shot_bound]
    values = [np1_mean(frame_scores[s:e + 1]).item() for s, e in shot_bound]
    final = shot_bound[-1]
    selected = pgl_knapsack(int((final[1] + 1) * 0.15), lengths, values, len(lengths))
    summary = np.zeros(final[1] + 1, dtype=np.int8)
    for k in selected:
        summary[shot_bound[k][0]:shot_bound[k][1] + 1] = 1
    return summary


def pgl_fscores(summary, users):
    max_len = max(len(summary), users.shape[1])
    S, G = np.zeros(max_len, dtype=int), np.zeros(max_len, dtype=int)
    S[:len(summary)] = summary
    out = []
    for user in users.astype(int):
        G[:users.shape[1]] = user
        overlapped = S & G
        with np.errstate(invalid="ignore", divide="ignore"):
            p, r = overlapped.sum() / S.sum(), overlapped.sum() / G.sum()
        out.append(0 if p + r == 0 else 2 * p * r * 100 / (p + r))  # NaN when S is empty
    return out


# ----- seeded random videos -----

def random_video(rng):
    n_frames = int(rng.integers(90, 360))
    picks = np.arange(0, n_frames, 15)
    bounds = [0]
    while bounds[-1] < n_frames:
        bounds.append(min(n_frames, bounds[-1] + int(rng.integers(4, 40))))
    cps = np.array([[s, e - 1] for s, e in zip(bounds[:-1], bounds[1:])])
    tail = int(rng.integers(-2, 2))  # stored last shots end up to 2 frames early, or 1 past the video
    cps[-1, 1] = max(cps[-1, 0], cps[-1, 1] + tail)
    nfps = cps[:, 1] - cps[:, 0] + 1
    users = np.zeros((4, n_frames), dtype=bool)
    for u in users:  # each user keeps a random handful of shots: built without any knapsack
        for k in rng.choice(len(cps), size=max(1, len(cps) // 5), replace=False):
            u[cps[k, 0]:min(n_frames, cps[k, 1] + 1)] = True
    return n_frames, picks, cps, nfps, users


def predictions(kind, rng, n):
    if kind == "continuous":
        return rng.uniform(0, 1, n)
    if kind == "piecewise-constant":
        levels = rng.choice([0.1, 0.2, 0.3, 0.4, 0.5, 0.7], size=n)
        return np.repeat(levels[::3], 3)[:n]  # runs of 3 steps, values that float32 cannot hold exactly
    return np.full(n, rng.choice([0.4, 0.5, 1 / 3, 0.0]))


KINDS = ("continuous", "piecewise-constant", "all-equal")


@pytest.mark.parametrize("kind", KINDS)
def test_every_variant_picks_the_shots_its_reference_picks(kind):
    rng = np.random.default_rng({"continuous": 1, "piecewise-constant": 2, "all-equal": 3}[kind])
    for _ in range(150):
        n_frames, picks, cps, nfps, users = random_video(rng)
        pred = predictions(kind, rng, len(picks))

        ours = machine_summary(pred, picks, n_frames, cps, nfps, 0.15, "reference")
        theirs = zhou_summary(pred, cps, n_frames, nfps, picks)
        assert np.array_equal(ours, theirs > 0)
        np.testing.assert_allclose([variant_fscore(ours, u, "reference") for u in users],
                                   zhou_fscores(theirs, users), atol=1e-7)

        ours = machine_summary(pred, picks, n_frames, cps, nfps, 0.15, "dsnet")
        theirs = dsnet_summary(pred, cps, n_frames, nfps, picks)
        assert np.array_equal(ours, theirs)
        np.testing.assert_allclose([variant_fscore(ours, u, "dsnet") for u in users], dsnet_fscores(theirs, users),
                                   atol=1e-12)

        ours = machine_summary(pred, picks, n_frames, cps, nfps, 0.15, "pgl-sum")
        theirs = pgl_summary(pred, cps, n_frames, picks)
        assert np.array_equal(ours, theirs > 0)
        expected = np.array(pgl_fscores(theirs, users), dtype=np.float64) / 100
        got = np.array([variant_fscore(ours, u, "pgl-sum") for u in users])
        if theirs.sum() == 0:  # PGL-SUM divides 0 by 0; rlbench scores an empty summary 0
            assert np.isnan(expected).all() and (got == 0).all()
        else:
            np.testing.assert_allclose(got, expected, atol=1e-12)


def test_the_three_variants_disagree_on_ties_as_their_references_do():
    """On tied predictions the variants are not interchangeable: over the same videos each picks other
    shots somewhere, so a table must say which one it used."""
    rng = np.random.default_rng(7)
    differ = {("reference", "dsnet"): 0, ("reference", "pgl-sum"): 0}
    for _ in range(100):
        n_frames, picks, cps, nfps, _ = random_video(rng)
        pred = predictions("piecewise-constant", rng, len(picks))
        s = {v: machine_summary(pred, picks, n_frames, cps, nfps, 0.15, v)[:n_frames]
             for v in ("reference", "dsnet", "pgl-sum")}
        for a, b in differ:
            differ[(a, b)] += not np.array_equal(s[a], np.pad(s[b], (0, n_frames - len(s[b]))))
    assert all(n > 0 for n in differ.values()), differ


def test_float32_mean_is_numpy1s():
    # a shot of 21 frames held at 0.4 averages to 0.39999998 in float32, so DSNet's int(1000 * mean) is 399
    shot = np.full(21, 0.4, dtype=np.float32)
    assert mean_float32(shot) == np.float32(0.39999998) == np1_mean(shot)
    scores = machine_summary(np.array([0.4, 0.4]), np.array([0, 21]), 42, np.array([[0, 20], [21, 41]]),
                             np.array([21, 21]), 0.5, "dsnet")
    assert scores.sum() == 21  # one shot fits; both quantise to 399: the earlier one is kept
    x = np.array([0.1, 0.2, 0.3], dtype=np.float32)
    assert mean_float32(x) == np1_mean(x) and mean_float32(x).dtype == np.float32


def test_ortools_packs_item_zero_when_nothing_is_profitable():
    # OR-tools' reconstruction falls back to item 0 at a capacity no item improved
    assert knapsack_ortools_dp([0, 0, 0], [3, 4, 5], 6) == [0] == ortools_dp([0, 0, 0], [3, 4, 5], 6)
    assert knapsack_ortools_dp([5, 1], [2, 2], 10) == [0, 1]  # everything fits: everything packed
