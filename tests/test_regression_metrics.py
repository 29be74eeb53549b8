import numpy as np
import pytest

from benchmark.api import Episode
from tasks.predictions import PredictionError
from tasks.regression_metrics import ccc, pearson, regression_scores


def ep(eid, targets):
    t = np.asarray(targets, dtype=np.float32).reshape(-1, 1)
    return Episode(eid, {"x": np.zeros((len(t), 1), np.float32)}, t)


def test_hand_computed_values():
    pred, true = np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 4.0])
    # errors 0, 0, -1: mse = mae = 1/3
    s = regression_scores({"a": pred}, [ep("a", true)], ["y"])
    assert s["mse/y"] == pytest.approx(1 / 3)
    assert s["rmse/y"] == pytest.approx(np.sqrt(1 / 3))
    assert s["mae/y"] == pytest.approx(1 / 3)
    # pearson: x-mean = [-1,0,1], y-mean = [-4/3,-1/3,5/3]; cov sum = 3, var sums 2 and 14/3
    assert s["pearson/y"] == pytest.approx(3 / np.sqrt(2 * 14 / 3))
    # ccc: cov = 1, var x = 2/3, var y = 14/9, (mx - my)^2 = 1/9 -> 2 / (6/9 + 14/9 + 1/9) = 18/21
    assert s["ccc/y"] == pytest.approx(18 / 21)
    assert s["mse"] == s["mse/y"]


def test_constant_series_correlation_is_zero():
    assert pearson(np.ones(5), np.arange(5.0)) == 0.0
    assert ccc(np.zeros(3), np.zeros(3)) == 0.0
    # a constant whose mean is not itself in floating point (0.1 x 7: mean 0.09999999999999999)
    constant, y = np.full(7, 0.1), np.linspace(-1, 1, 7) ** 3
    assert np.mean(constant) != 0.1
    assert pearson(constant, y) == 0.0 and ccc(constant, y) == 0.0
    assert str(pearson(y, constant)) == "0.0"  # not -6.5e-17: records and tables print exactly 0


def test_pooled_and_per_sequence_differ():
    eps = [ep("a", [0.0, 1.0]), ep("b", [10.0, 11.0])]
    preds = {"a": np.array([0.0, 1.0]), "b": np.array([11.0, 10.0])}
    pooled = regression_scores(preds, eps, ["y"], "pooled")
    per_seq = regression_scores(preds, eps, ["y"], "per_sequence")
    assert per_seq["pearson"] == pytest.approx(0.0)  # +1 and -1
    assert pooled["pearson"] > 0.9  # dominated by the offset between sequences
    assert pooled["mse"] == pytest.approx(per_seq["mse"])


@pytest.mark.parametrize(
    "preds, message",
    [
        ({}, "no prediction for sequence 'a'"),
        ({"a": np.zeros(3)}, "3 predicted steps, expected 2"),
        ({"a": np.array([0.0, np.nan])}, "NaN"),
        ({"a": np.zeros((2, 2))}, "shape"),
    ],
)
def test_bad_predictions_are_named(preds, message):
    with pytest.raises(PredictionError, match=message):
        regression_scores(preds, [ep("a", [0.0, 1.0])], ["y"])
