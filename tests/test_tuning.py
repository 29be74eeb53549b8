"""rlbench tune: equal random search per model on validation only, presets that --tuned applies."""

import json
import textwrap

import pytest
from conftest import TINY_AFFECT
from helpers import has_row
from typer.testing import CliRunner

from benchmark.cli import app
from benchmark.harness.config import ConfigError
from helpers import record_files
from benchmark.studies.tuning import sample_trials, search_space

runner = CliRunner()
TINY = [a for s in [*TINY_AFFECT[:3], "epochs=2", "patience=2"] for a in ("--set", s)]

# A task whose test episodes cannot be read: any code path that touches the test split fails.
GUARDED = textwrap.dedent('''
    from tasks.synthetic import SynthAffect

    class TestSplitRead(KeyError):
        pass

    class Guarded(dict):
        def __init__(self, episodes, forbidden):
            super().__init__(episodes)
            self.forbidden = set(forbidden)

        def __getitem__(self, key):
            if key in self.forbidden:
                raise TestSplitRead(f"test split read: {key}")
            return super().__getitem__(key)

    class GuardedAffect(SynthAffect):
        def load(self):
            data = super().load()
            data.episodes = Guarded(data.episodes, {i for f in data.folds for i in f.test})
            return data

    RLBENCH_TASKS = {"guarded-affect": GuardedAffect}
''')


def test_trials_are_drawn_by_parameter_sampler_reproducibly_within_the_declared_space():
    space = search_space("lstm")
    assert {"lr", "hidden", "layers"} <= set(space)
    a, b = sample_trials(space, 6, seed=3), sample_trials(space, 6, seed=3)
    assert a == b and len(a) == 6 and a != sample_trials(space, 6, seed=4)
    for trial in a:
        assert 3e-4 <= trial["lr"] <= 1e-2 and trial["hidden"] in (32, 64, 128) and trial["layers"] in (1, 2)
    with pytest.raises(ConfigError, match="declares no search space"):
        search_space("mean")


def test_tune_end_to_end_then_run_tuned(tmp_path):
    res = tmp_path / "res"
    r = runner.invoke(app, ["tune", "--task", "synth-affect", "--model", "lstm,mlp", "--trials", "4",
                            "--results", str(res), "--workers", "1", *TINY])
    assert r.exit_code == 0, r.output
    trials = [rec for _, rec in record_files(res)]
    assert len(trials) == 8 and {t["purpose"] for t in trials} == {"tuning"}  # 4 trials for each model
    assert all("test" not in t["scores"] and t["main_score"] is None for t in trials)
    for model in ("lstm", "mlp"):
        preset = json.loads((res / "synth-affect" / "tuned" / f"{model}.json").read_text())
        assert preset["n_trials"] == 4 and len(preset["trials"]) == 4 and preset["folds"] == [0]
        scores = [t["val_score"] for t in preset["trials"]]
        assert preset["best"]["val_score"] == min(scores)  # mse: lower is better
        assert preset["best"]["params"] == preset["trials"][scores.index(min(scores))]["params"]
    # the presets round-trip: a tuned run uses the best parameters and says so
    r = runner.invoke(app, ["run", "--task", "synth-affect", "--model", "lstm,mean", "--tuned", "--results", str(res),
                            *TINY])
    assert r.exit_code == 0, r.output
    runs = {rec["model"]["name"]: rec for _, rec in record_files(res) if rec["purpose"] == "run"}
    best = json.loads((res / "synth-affect" / "tuned" / "lstm.json").read_text())["best"]["params"]
    lstm = runs["lstm"]
    assert {k: lstm["config"]["model"]["options"][k] for k in best} == best
    assert lstm["model"]["tuned"]["params"] == best and lstm["model"]["tuned"]["n_trials"] == 4
    assert runs["mean"]["model"]["tuned"] is None  # references have nothing to tune
    table = runner.invoke(app, ["table", "--results", str(res)]).output
    assert has_row(table, "lstm [epochs=2, patience=2] (tuned)")
    assert "tuned: 4 random-search trials per model on validation" in table
    paper = runner.invoke(app, ["paper", "--results", str(res)])  # trials (no test scores) stay out of it
    assert paper.exit_code == 0, paper.output
    curves = next((res / "paper" / "figures").glob("curves_synth-affect*.png"))
    assert curves.is_file() and "(tuned)" in paper.output
    # --set still wins over a preset
    r = runner.invoke(app, ["run", "--task", "synth-affect", "--model", "lstm", "--tuned", "--results", str(res),
                            "--set", "hidden=8", *TINY])
    assert r.exit_code == 0, r.output
    assert any(rec["config"]["model"]["options"]["hidden"] == 8 and rec["model"]["tuned"] for _, rec in record_files(res))


def test_tuned_without_a_preset_names_the_command_that_makes_it(tmp_path):
    r = runner.invoke(app, ["run", "--task", "synth-affect", "--model", "lstm", "--tuned", "--results",
                            str(tmp_path), *TINY])
    assert r.exit_code == 2
    assert "no preset for 'lstm' on 'synth-affect'" in r.output and "rlbench tune --task synth-affect" in r.output


def test_tuning_never_reads_the_test_split(tmp_path):
    plugin = tmp_path / "guarded.py"
    plugin.write_text(GUARDED)
    common = ["--plugin", str(plugin), "--task", "guarded-affect", "--model", "mlp", "--workers", "1", *TINY]
    r = runner.invoke(app, ["tune", "--trials", "2", "--results", str(tmp_path / "tune"), *common])
    assert r.exit_code == 0, r.output
    assert {rec["status"] for _, rec in record_files(tmp_path / "tune")} == {"completed"}
    # the guard bites: an ordinary run does read the test split, and fails on it
    r = runner.invoke(app, ["sweep", "--results", str(tmp_path / "run"), *common])
    assert r.exit_code == 1 and "test split read" in r.output
