import numpy as np
import pytest

from tasks.synthetic import SynthAffect, SynthAffectOptions, SynthSummary, SynthSummaryOptions


def affect(**kw):
    return SynthAffect(SynthAffectOptions(**{"n_sequences": 10, "length": 300, "lag": 40, **kw})).load()


def test_same_seed_same_data_other_seed_other_data():
    a, b, c = affect(), affect(), affect(data_seed=1)
    ea, eb, ec = a.episodes["seq0003"], b.episodes["seq0003"], c.episodes["seq0003"]
    for m in ea.features:
        np.testing.assert_array_equal(ea.features[m], eb.features[m])
    np.testing.assert_array_equal(ea.targets, eb.targets)
    assert not np.array_equal(ea.targets, ec.targets)
    assert a.data_sha256 == b.data_sha256 != c.data_sha256


def test_cues_are_spaced_by_at_least_lag_and_targets_in_range():
    data = affect(lag=40)
    for e in data.episodes.values():
        times = [t for t, _ in e.meta["cues"]]
        assert np.all(np.diff(times) >= 40) and np.all(np.diff(times) <= 80)
        assert e.targets.min() >= -1 and e.targets.max() <= 1
        assert set(e.features) == {"audio", "music", "scene", "pose", "face"}


def test_cue_is_visible_only_at_the_cue_segment():
    data = affect(feature_noise=0.0)  # without noise, scene is exactly zero except at cues
    for e in data.episodes.values():
        active = np.flatnonzero(np.abs(e.features["scene"]).sum(axis=1) > 0)
        assert active.tolist() == [t for t, _ in e.meta["cues"]]


def test_the_state_shifts_the_targets_until_the_next_cue():
    data = affect(noise=0.0)
    for e in data.episodes.values():
        m = e.meta
        (t0, s0), (t1, _) = m["cues"][:2]
        assert (m["state"][:t0] == -1).all() and (m["state"][t0:t1] == s0).all()
        shift = np.where(m["state"][:, None] >= 0, m["shifts"][m["state"]], 0.0)
        np.testing.assert_allclose(m["oracle"], np.clip(0.5 * np.tanh(m["mood"]) + shift, -1, 1))
        np.testing.assert_allclose(e.targets, m["oracle"], atol=1e-6)  # no target noise asked for
    assert len({tuple(np.round(r, 6)) for r in data.episodes["seq0000"].meta["shifts"]}) == 4


def test_bad_options_are_reported():
    with pytest.raises(ValueError, match="lag must be >= 1"):
        affect(lag=0)


def test_summary_has_annotators_shots_and_a_budgeted_summary_each():
    data = SynthSummary(SynthSummaryOptions(n_sequences=6, length=120, n_annotators=5)).load()
    for e in data.episodes.values():
        m = e.meta
        cps = m["change_points"]
        assert cps[0, 0] == 0 and cps[-1, 1] == 119 and np.all(cps[1:, 0] == cps[:-1, 1] + 1)
        assert m["user_scores"].shape == (5, 120) and set(np.unique(m["user_scores"])) <= {1, 2, 3, 4, 5}
        assert np.all(m["user_summaries"].sum(axis=1) <= int(0.15 * 120))
        assert e.targets.min() >= 0 and e.targets.max() <= 1


def test_summary_oracle_beats_random_on_every_metric():
    task = SynthSummary(SynthSummaryOptions(n_sequences=12, length=200, n_annotators=6))
    data = task.load()
    eps = list(data.episodes.values())
    oracle = task.evaluate({e.id: e.meta["oracle"] for e in eps}, eps)
    rng = np.random.default_rng(0)
    rand = task.evaluate({e.id: rng.uniform(size=(e.length, 1)) for e in eps}, eps)
    for metric in ("fscore", "kendall", "spearman"):
        assert oracle[metric] > rand[metric] + 0.05
