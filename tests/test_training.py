"""Baselines train for real: better than their untrained selves, deterministic, selected on val only."""

import numpy as np
import pytest

from baselines.lstm import LSTMModel, LSTMOptions
from baselines.mlp import MLPModel
from baselines.sequence_regressor import SequenceRegressorOptions
from benchmark.interfaces import NullLog, TrainBudget
from benchmark.runner import RunRequest, run
from benchmark.selection import Selector
from tasks.synthetic import SynthAffect, SynthAffectOptions


def small_task(lag=3, n=40, length=120):
    task = SynthAffect(SynthAffectOptions(n_sequences=n, length=length, lag=lag))
    return task, task.load()


def split(data):
    f = data.folds[0]
    return data.episodes_of(f.train), data.episodes_of(f.val), data.episodes_of(f.test)


def selector_for(task, val, patience=3):
    return Selector(lambda p: task.evaluate(p, val), "mse", False, patience)


@pytest.mark.parametrize("model_cls, options", [(LSTMModel, LSTMOptions()), (MLPModel, SequenceRegressorOptions())])
def test_trained_model_beats_its_untrained_self(model_cls, options):
    task, data = small_task()
    train, val, test = split(data)
    model = model_cls(options, data.spec, seed=0)
    model.scaler.fit(train)
    untrained = task.evaluate(model.predict(test), test)["mse"]
    model.fit(train, val, TrainBudget(epochs=8, patience=8), selector_for(task, val), NullLog())
    trained = task.evaluate(model.predict(test), test)["mse"]
    assert trained < 0.7 * untrained


def test_lstm_bridges_a_short_lag_that_the_mlp_cannot():
    task, data = small_task(lag=4, n=60, length=150)
    train, val, test = split(data)
    scores = {}
    for name, cls, opts in (("lstm", LSTMModel, LSTMOptions()), ("mlp", MLPModel, SequenceRegressorOptions())):
        model = cls(opts, data.spec, seed=0)
        model.fit(train, val, TrainBudget(epochs=25, patience=25), selector_for(task, val), NullLog())
        scores[name] = task.evaluate(model.predict(test), test)["mse"]
    assert scores["lstm"] < 0.8 * scores["mlp"], scores


def test_same_seed_same_scores_other_seed_other_scores(tmp_path):
    def once(seed, where):
        req = RunRequest(["synth-affect"], ["lstm"], seeds=[seed], results=tmp_path / where,
                         overrides=["n_sequences=20", "length=50", "lag=5", "epochs=2"])
        (o,) = run(req)
        return o.test_score

    assert once(0, "a") == once(0, "b")
    assert once(0, "c") != once(1, "d")


def test_selector_keeps_the_best_validation_epoch_and_stops_after_patience():
    scores = iter([0.5, 0.4, 0.45, 0.41, 0.39, 0.6, 0.6, 0.6])
    sel = Selector(lambda p: {"mse": next(scores)}, "mse", higher_is_better=False, patience=3)
    improved, stopped_at = [], None
    for epoch in range(1, 9):
        improved.append(sel.observe(epoch, {}))
        if sel.should_stop:
            stopped_at = epoch
            break
    assert improved == [True, True, False, False, True, False, False, False]
    assert (sel.best_epoch, sel.best_score, stopped_at) == (5, 0.39, 8)
    short = Selector(lambda p: {"mse": 1.0}, "mse", higher_is_better=False, patience=2)
    for epoch in (1, 2, 3):
        short.observe(epoch, {})
    assert short.should_stop and short.best_epoch == 1


def test_selector_never_prefers_nan_and_respects_direction():
    sel = Selector(lambda p: p, "f", higher_is_better=True, patience=5)
    assert sel.observe(1, {"f": float("nan")}) is False
    assert sel.observe(2, {"f": 0.2}) is True
    assert sel.observe(3, {"f": 0.1}) is False
    assert sel.best_epoch == 2


def test_fit_restores_the_selected_epoch():
    task, data = small_task(n=20, length=60)
    train, val, _ = split(data)
    model = LSTMModel(LSTMOptions(hidden=8), data.spec, seed=0)
    sel = selector_for(task, val, patience=10)
    info = model.fit(train, val, TrainBudget(epochs=6, patience=10), sel, NullLog())
    assert task.evaluate(model.predict(val), val)["mse"] == pytest.approx(sel.best_score)
    assert info.best_epoch == sel.best_epoch and info.epochs_run == 6
    assert np.argmin([h["val_mse"] for h in info.history]) + 1 == info.best_epoch
