"""The test-set bootstrap of one cell: a resample scored from per-sequence scores is the protocol's own score
of that resample, the draws are shared by every model on a fold, and a cell's record carries them."""

import json

import numpy as np
import pytest

from benchmark.harness.test_resamples import draw_seed, draws, resampled_scores
from tasks.synthetic import SynthAffect, SynthAffectOptions, SynthSummary, SynthSummaryOptions
from tasks.tvsum_clips import TVSumClips, TVSumClipsOptions


def random_predictions(episodes, seed=0):
    rng = np.random.default_rng(seed)
    return {ep.id: rng.uniform(size=ep.targets.shape) for ep in episodes}


def both_ways(task, data, metric):
    episodes = [data.episodes[i] for i in data.folds[0].test]
    predictions = random_predictions(episodes)
    score = lambda chosen: task.evaluate(predictions, chosen)  # noqa: E731
    seed = draw_seed(data.split_sha256, 0)
    fast, slow = (resampled_scores(score, episodes, metric, seed, means, n_resamples=25) for means in (True, False))
    return fast, slow


@pytest.mark.parametrize("make, metric", [
    (lambda: SynthSummary(SynthSummaryOptions(n_sequences=20, length=120)), "fscore"),
    (lambda: SynthAffect(SynthAffectOptions(n_sequences=20, length=120, lag=20, aggregation="per_sequence")), "mse"),
])
def test_a_resample_of_sequence_means_is_the_protocols_score_of_that_resample(make, metric):
    task = make()
    assert task.scores_are_sequence_means()
    fast, slow = both_ways(task, task.load(), metric)
    assert fast["scores"] == pytest.approx(slow["scores"], rel=1e-6)
    assert len(set(fast["scores"])) > 5  # the resamples differ: the draws are not all the same


def test_real_tvsum_resamples_equal_the_protocol_at_both_rank_levels(shared_data):
    for rank in ("frames", "clips"):
        task = TVSumClips(TVSumClipsOptions(rank=rank), shared_data / "tvsum")
        assert task.scores_are_sequence_means()
        fast, slow = both_ways(task, task.load(), "kendall")
        assert fast["scores"] == pytest.approx(slow["scores"], rel=1e-6)


def test_pooled_metrics_are_not_claimed_as_sequence_means():
    assert not SynthAffect(SynthAffectOptions()).scores_are_sequence_means()  # one MSE over all steps


def test_draws_depend_on_the_split_and_fold_only_and_repeat():
    a, b = draw_seed("abc", 0), draw_seed("abc", 1)
    assert a == draw_seed("abc", 0) and a != b != draw_seed("abd", 1)
    np.testing.assert_array_equal(draws(a, 10, 50), draws(a, 10, 50))
    assert draws(a, 10, 50).shape == (50, 10) and draws(a, 10, 50).max() < 10
