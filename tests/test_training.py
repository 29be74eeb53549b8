"""Baselines train for real: better than their untrained selves, deterministic, selected on val only."""

import json

import numpy as np
import pytest

from baselines.lstm import LSTMModel, LSTMOptions
from baselines.mlp import MLPModel
from baselines.sequence_regressor import SequenceRegressorOptions
from benchmark.api import NullLog, TrainBudget
from benchmark.harness.execution import execute
from benchmark.harness.plan import RunRequest
from benchmark.api import Selector
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


@pytest.mark.slow
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
        (o,) = execute(req)
        return o.test_score

    assert once(0, "a") == once(0, "b")
    assert once(0, "c") != once(1, "d")


def test_selector_keeps_the_best_validation_checkpoint_and_stops_after_patience():
    scores = iter([0.5, 0.4, 0.45, 0.41, 0.39, 0.6, 0.6, 0.6])
    sel = Selector(lambda p: {"mse": next(scores)}, "mse", higher_is_better=False, patience=3)
    improved, stopped_at = [], None
    for step in range(50, 450, 50):  # checkpoints are named by update; patience counts evaluations
        improved.append(sel.observe(step, {}))
        if sel.should_stop:
            stopped_at = step
            break
    assert improved == [True, True, False, False, True, False, False, False]
    assert (sel.best_step, sel.best_score, stopped_at) == (250, 0.39, 400)
    short = Selector(lambda p: {"mse": 1.0}, "mse", higher_is_better=False, patience=2)
    for step in (10, 20, 30):
        short.observe(step, {})
    assert short.should_stop and short.best_step == 10


def test_selector_never_prefers_nan_and_respects_direction():
    sel = Selector(lambda p: p, "f", higher_is_better=True, patience=5)
    assert sel.observe(1, {"f": float("nan")}) is False
    assert sel.observe(2, {"f": 0.2}) is True
    assert sel.observe(3, {"f": 0.1}) is False
    assert sel.best_step == 2


def test_fit_restores_the_selected_checkpoint():
    task, data = small_task(n=20, length=60)
    train, val, _ = split(data)
    model = LSTMModel(LSTMOptions(hidden=8, batch_size=4), data.spec, seed=0)
    sel = selector_for(task, val, patience=10)
    info = model.fit(train, val, TrainBudget(max_updates=18, eval_every=3, patience=10), sel, NullLog())
    assert task.evaluate(model.predict(val), val)["mse"] == pytest.approx(sel.best_score)
    assert info.best_update == sel.best_step and info.updates_run == 18 and info.stopped_by == "cap"
    assert [h["update"] for h in info.history] == [3, 6, 9, 12, 15, 18]
    assert info.history[int(np.argmin([h["val_mse"] for h in info.history]))]["update"] == info.best_update


@pytest.mark.slow
def test_default_budget_lets_the_lstm_carry_a_cue_on_a_few_dozen_sequences(tmp_path):
    """40 sequences in the generic layout, 24 for training: 2 batches per epoch. Under the old per-epoch
    budget the LSTM got 7 epochs x 2 updates and scored at the floor; the update budget gives it as many
    updates as a large dataset gets, it converges, and it carries the cue that the MLP cannot see."""
    from benchmark.harness.registry import task_registry
    from helpers import write_cue_task

    path = write_cue_task(tmp_path / "cue.h5", n_seq=40, carry=150)
    budget = task_registry().get("generic").default_budget
    assert budget.min_updates >= 20 * 7 * 2 and budget.max_updates >= 100 * 7 * 2
    outcomes = execute(RunRequest(["generic"], ["lstm", "mlp"], folds=[0], data_root=path, results=tmp_path / "res"))
    records = {o.model: json.loads(o.path.read_text()) for o in outcomes}
    lstm = records["lstm"]
    assert lstm["selection"]["updates_per_epoch"] == 2
    assert lstm["selection"]["updates_run"] >= 20 * 7 * 2
    assert lstm["selection"]["convergence"] == "converged", lstm["selection"]
    assert lstm["main_score"] < 0.3 * records["mlp"]["main_score"]


def test_convergence_verdict():
    from benchmark.api import verdict

    assert verdict(400, 1000, "early-stop") == "converged"
    assert verdict(900, 1000, "early-stop") == "still-improving"  # best in the last fifth
    assert verdict(400, 1000, "cap") == "still-improving"  # the cap, not early stopping, ended it
    assert verdict(None, 0, None) is None  # nothing trained iteratively


def test_epochs_is_a_convenience_translated_into_updates():
    plan = TrainBudget(epochs=3, patience=2, min_updates=500).plan(updates_per_epoch=7)
    assert (plan.max_updates, plan.eval_every, plan.min_updates, plan.patience) == (21, 7, 21, 2)
    plan = TrainBudget(max_updates=900, eval_every=30, min_updates=100).plan(updates_per_epoch=7)
    assert (plan.max_updates, plan.eval_every, plan.min_updates) == (900, 30, 100)


def test_training_stops_early_but_never_before_min_updates():
    task, data = small_task(n=20, length=40)
    train, val, _ = split(data)
    model = MLPModel(SequenceRegressorOptions(hidden=4, batch_size=4), data.spec, seed=0)
    sel = Selector(lambda p: {"mse": 1.0}, "mse", False, 2)  # never improves after the first evaluation
    info = model.fit(train, val, TrainBudget(max_updates=100, eval_every=5, patience=2, min_updates=40), sel, NullLog())
    assert info.stopped_by == "early-stop" and info.updates_run == 40 and info.best_update == 5
    assert info.convergence == "converged"
