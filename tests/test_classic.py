"""ridge and svr: per-step scikit-learn regressors on standardised features, on every regression task."""

import numpy as np
import pytest
from helpers import has_row, write_generic
from test_liris_accede import write_fixture as write_liris
from test_liris_accede import write_mediaeval18
from test_pmemo import write_fixture as write_pmemo
from typer.testing import CliRunner

from baselines.classic import RidgeModel, RidgeOptions, SVRModel, SVROptions
from baselines.reference import MeanModel
from benchmark.cli import app
from benchmark.api import Episode, TaskSpec
from benchmark.api import NoOptions, NullLog, TrainBudget
from helpers import record_files
from tasks.synthetic import SynthAffect, SynthAffectOptions


def linear_episodes(n=6, T=40, seed=0):
    rng = np.random.default_rng(seed)
    w = np.array([[1.5, -0.5], [0.0, 2.0], [-1.0, 0.25]])
    eps = []
    for i in range(n):
        x = rng.normal(loc=3.0, scale=2.0, size=(T, 3)).astype(np.float32)  # not standardised on purpose
        eps.append(Episode(f"e{i}", {"a": x[:, :2], "b": x[:, 2:]}, (x.astype(np.float64) @ w + 0.7).astype(np.float32)))
    return eps, TaskSpec((("a", 2), ("b", 1)), ("y0", "y1"), "affect_regression")


def fit(model, train):
    return model.fit(train, train[:1], TrainBudget(), None, NullLog())


def test_ridge_recovers_a_linear_map_exactly_and_reports_what_it_fitted():
    eps, spec = linear_episodes()
    model = RidgeModel(RidgeOptions(alpha=1e-9), spec, seed=0)
    info = fit(model, eps[:4])
    for e in eps[4:]:
        np.testing.assert_allclose(model.predict([e])[e.id], e.targets, atol=1e-4)
    assert info.updates_run == 0 and info.convergence is None  # closed form: nothing to converge
    assert info.diagnostics["train_steps_used"] == 160 and model.n_parameters() == 2 * (3 + 1)


def test_svr_fits_on_a_seeded_subset_of_at_most_max_train_steps():
    eps, spec = linear_episodes(n=10, T=50)
    a, b = (SVRModel(SVROptions(kernel="linear", C=10.0, epsilon=0.01, max_train_steps=120), spec, seed=s)
            for s in (0, 0))
    info = fit(a, eps[:8])
    fit(b, eps[:8])
    assert info.diagnostics["train_steps_used"] == 120
    test = eps[8]
    np.testing.assert_array_equal(a.predict([test])[test.id], b.predict([test])[test.id])  # same seed
    assert np.abs(a.predict([test])[test.id] - test.targets).max() < 0.1


@pytest.mark.parametrize("cls, options", [(RidgeModel, RidgeOptions()), (SVRModel, SVROptions(max_train_steps=1500))])
def test_per_step_regressors_beat_the_training_mean_on_synth_affect(cls, options):
    task = SynthAffect(SynthAffectOptions(n_sequences=30, length=80, lag=5))
    data = task.load()
    f = data.folds[0]
    train, test = data.episodes_of(f.train), data.episodes_of(f.test)
    mean = MeanModel(NoOptions(), data.spec, 0)
    fit(mean, train)
    model = cls(options, data.spec, seed=0)
    fit(model, train)
    assert task.evaluate(model.predict(test), test)["mse"] < 0.8 * task.evaluate(mean.predict(test), test)["mse"]


def test_bad_options_are_refused():
    with pytest.raises(ValueError, match="kernel must be one of rbf, linear"):
        SVROptions(kernel="poly")
    with pytest.raises(ValueError, match="alpha must be >= 0"):
        RidgeOptions(alpha=-1)


def _generic(root):
    return write_generic(root / "g.h5", n_seq=10)


@pytest.mark.parametrize("task, make, extra", [
    ("synth-affect", None, ["--set", "n_sequences=20", "--set", "length=40", "--set", "lag=5"]),
    ("generic", _generic, []),
    ("pmemo", write_pmemo, []),
    ("liris-accede", write_liris, ["--set", "modalities=audio,face"]),
    ("mediaeval18", write_mediaeval18, []),
])
def test_ridge_and_svr_run_on_every_regression_task(tmp_path, task, make, extra):
    root = make(tmp_path) if make else None
    data_root = ["--data-root", str(root if task == "generic" else tmp_path)] if make else []
    r = CliRunner().invoke(app, ["run", "--task", task, "--model", "ridge,svr,mean", "--folds", "0", *data_root,
                                 "--results", str(tmp_path / "res"), *extra])
    assert r.exit_code == 0, r.output
    records = {rec["model"]["name"]: rec for _, rec in record_files(tmp_path / "res")}
    assert {records[m]["status"] for m in ("ridge", "svr")} == {"completed"}
    assert records["ridge"]["selection"]["convergence"] is None  # no iterative training to judge
    table = CliRunner().invoke(app, ["table", "--results", str(tmp_path / "res")]).output
    label = "" if not extra or task == "synth-affect" else f" [{extra[1]}]"
    assert has_row(table, f"ridge{label}") and has_row(table, f"svr{label}")
