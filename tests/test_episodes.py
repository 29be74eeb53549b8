"""Padded, standardised batches: training-part statistics, padding left at exactly 0, windows."""

import numpy as np

from benchmark.api import Episode, FeatureScaler, pad_batch


def _episodes():
    rng = np.random.default_rng(0)
    return [Episode(f"e{i}", {"a": rng.normal(3.0, 2.0, (n, 2)).astype(np.float32),
                              "b": rng.normal(-1.0, 0.5, (n, 3)).astype(np.float32)},
                    rng.random((n, 1)).astype(np.float32)) for i, n in enumerate((5, 9, 2))]


def test_scaler_standardises_real_steps_with_training_statistics_and_leaves_padding_zero():
    eps = _episodes()
    scaler = FeatureScaler(["a", "b"]).fit(eps[:2])  # statistics of the training part only
    train = np.concatenate([np.concatenate([e.features["a"], e.features["b"]], 1) for e in eps[:2]]).astype(np.float64)
    x, y, mask = scaler.batch(eps)
    assert x.shape == (3, 9, 5) and mask.sum(1).tolist() == [5, 9, 2]
    for i, e in enumerate(eps):
        raw = np.concatenate([e.features["a"], e.features["b"]], 1)
        want = (raw - train.mean(0)) / (train.std(0) + 1e-6)
        np.testing.assert_allclose(x[i, : e.length], want, rtol=1e-4, atol=1e-5)
        np.testing.assert_array_equal(y[i, : e.length], e.targets)
        assert not x[i, e.length:].any() and not y[i, e.length:].any()
    stacked = np.concatenate([x[i, : e.length] for i, e in enumerate(eps[:2])])
    np.testing.assert_allclose(stacked.mean(0), 0.0, atol=1e-5)
    np.testing.assert_allclose(stacked.std(0), 1.0, atol=1e-4)


def test_a_window_of_steps_is_the_same_slice_of_the_whole_batch():
    eps = _episodes()
    scaler = FeatureScaler(["b", "a"]).fit(eps)
    whole = scaler.batch(eps)
    window = scaler.batch(eps, 3, 7)
    for full, part in zip(whole, window):
        np.testing.assert_array_equal(part, full[:, 3:7])
    raw = pad_batch(eps, ["b", "a"])[0]  # unstandardised: the features as they are, modality order kept
    np.testing.assert_array_equal(raw[1, :, :3], eps[1].features["b"])
