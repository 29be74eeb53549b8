"""Runner: records, resume, failure isolation, and a sweep killed half-way."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import torch
from conftest import TINY_AFFECT
from helpers import has_row
from typer.testing import CliRunner

from benchmark.cli import app
from helpers import record_files
from benchmark.harness.execution import execute
from benchmark.harness.plan import RunRequest

PLUGIN = textwrap.dedent('''
    import os
    import numpy as np
    from benchmark.api import FitInfo, Model

    class Flaky(Model):
        """fails (or dies) on the seed named by FLAKY_FAIL_SEED / FLAKY_KILL_SEED"""
        def fit(self, train, val, budget, selector, log):
            if os.environ.get("FLAKY_KILL_SEED") == str(self.seed):
                os._exit(9)  # as if the machine died mid-sweep
            if os.environ.get("FLAKY_FAIL_SEED") == str(self.seed):
                raise RuntimeError(f"boom on seed {self.seed}")
            self.mean = np.concatenate([e.targets for e in train]).mean(axis=0)
            return FitInfo()
        def predict(self, episodes):
            return {e.id: np.tile(self.mean, (e.length, 1)) for e in episodes}

    RLBENCH_MODELS = {"flaky": Flaky}
''')


def request(tmp_path, **kw):
    base = dict(tasks=["synth-affect"], models=["mean", "mlp"], seeds=[0, 1], overrides=TINY_AFFECT,
                results=tmp_path / "res")
    return RunRequest(**{**base, **kw})


def test_records_hold_config_scores_and_provenance(tmp_path):
    outcomes = execute(request(tmp_path, models=["mlp"], seeds=[0]))
    (o,) = outcomes
    rec = json.loads(o.path.read_text())
    assert rec["status"] == "completed" and rec["schema_version"] == 1
    assert rec["config"]["task"]["options"]["lag"] == 8 and rec["config"]["train"]["epochs"] == 3
    assert rec["task"]["overrides"] == {"n_sequences": 24, "length": 60, "lag": 8}
    assert rec["model"]["overrides"] == {"epochs": 3, "patience": 2} and rec["model"]["n_parameters"] > 0
    assert set(rec["scores"]) == {"val", "test"} and rec["main_score"] == rec["scores"]["test"]["mse"]
    assert rec["selection"]["criterion"] == "val.mse"
    best = min(rec["history"], key=lambda h: h["val_mse"])
    assert rec["selection"]["epoch"] == best["epoch"]
    assert rec["task"]["data_sha256"] and rec["task"]["split_sha256"]
    prov = rec["provenance"]
    assert prov["python"] and prov["numpy"] and prov["torch"] and prov["started_at"] and prov["scikit_learn"]
    # what decides the last digits on another machine: the kernels torch picks for this CPU, its threads
    assert prov["cpu_capability"] == torch.backends.cpu.get_cpu_capability() and prov["cpu_count"] >= 1
    assert prov["torch_threads"] == torch.get_num_threads() and "cpu" in prov
    assert rec["timing"]["train_s"] >= 0 and rec["timing"]["peak_rss_mb"] > 0


def test_resume_skips_finished_cells_and_reruns_changed_configs(tmp_path):
    first = execute(request(tmp_path))
    assert [o.status for o in first] == ["completed"] * 4
    mtimes = {o.path: o.path.stat().st_mtime_ns for o in first}
    again = execute(request(tmp_path))
    assert [o.status for o in again] == ["skipped"] * 4
    assert all(o.path.stat().st_mtime_ns == mtimes[o.path] for o in again)
    assert [o.test_score for o in again] == [o.test_score for o in first]
    changed = execute(request(tmp_path, overrides=[*TINY_AFFECT, "hidden=8"]))
    assert [(o.model, o.status) for o in changed] == [("mean", "skipped")] * 2 + [("mlp", "completed")] * 2
    overwrite = execute(request(tmp_path, models=["mean"], resume=False))
    assert [o.status for o in overwrite] == ["completed"] * 2


def test_a_variant_equal_to_a_finished_config_reuses_its_record_instead_of_training(tmp_path):
    (first,) = execute(request(tmp_path, models=["mlp"], seeds=[0]))
    # hidden=64 is mlp's default: a new variant folder, the same configuration
    (again,) = execute(request(tmp_path, models=["mlp"], seeds=[0], overrides=[*TINY_AFFECT, "hidden=64"]))
    assert again.status == "skipped" and again.path != first.path and again.path.exists()
    assert again.test_score == first.test_score
    copy = json.loads(again.path.read_text())
    assert copy["model"]["variant"] == "hidden=64,epochs=3,patience=2" and copy["model"]["overrides"]["hidden"] == 64
    assert copy["provenance"]["reused_from"] == first.path.relative_to(tmp_path / "res").as_posix()
    assert copy["config_hash"] == json.loads(first.path.read_text())["config_hash"]
    # a third name for it copies again, and names the record that was trained, not the copy
    (third,) = execute(request(tmp_path, models=["mlp"], seeds=[0], overrides=[*TINY_AFFECT, "hidden=64", "lr=0.003"]))
    assert third.status == "skipped" and third.path not in (first.path, again.path)
    assert json.loads(third.path.read_text())["provenance"]["reused_from"] == copy["provenance"]["reused_from"]
    # a different configuration, or --no-resume, still trains
    (other,) = execute(request(tmp_path, models=["mlp"], seeds=[0], overrides=[*TINY_AFFECT, "hidden=8"]))
    assert other.status == "completed"
    (forced,) = execute(request(tmp_path, models=["mlp"], seeds=[0], overrides=[*TINY_AFFECT, "hidden=64"], resume=False))
    assert forced.status == "completed"


def test_a_failing_cell_is_recorded_and_the_others_go_on(tmp_path, monkeypatch):
    plugin = tmp_path / "flaky.py"
    plugin.write_text(PLUGIN)
    monkeypatch.setenv("FLAKY_FAIL_SEED", "1")
    res = CliRunner().invoke(app, ["run", "--plugin", str(plugin), "--task", "synth-affect", "--model", "flaky",
                                   "--seeds", "0..2", "--results", str(tmp_path / "res"), *sum((["--set", s] for s in TINY_AFFECT), [])])
    assert res.exit_code == 1
    assert "boom on seed 1" in res.output
    records = {r["seed"]: r for _, r in record_files(tmp_path / "res")}
    assert {s: r["status"] for s, r in records.items()} == {0: "completed", 1: "failed", 2: "completed"}
    assert records[1]["error"]["type"] == "RuntimeError" and "Traceback" in records[1]["error"]["traceback"]
    # a failed record never counts as finished: the next run retries it
    monkeypatch.delenv("FLAKY_FAIL_SEED")
    res = CliRunner().invoke(app, ["run", "--plugin", str(plugin), "--task", "synth-affect", "--model", "flaky",
                                   "--seeds", "0..2", "--results", str(tmp_path / "res"), *sum((["--set", s] for s in TINY_AFFECT), [])])
    assert res.exit_code == 0
    assert {r["seed"]: r["status"] for _, r in record_files(tmp_path / "res")} == {s: "completed" for s in range(3)}


@pytest.mark.slow
def test_killed_sweep_resumes_only_unfinished_cells(tmp_path):
    plugin = tmp_path / "flaky.py"
    plugin.write_text(PLUGIN)
    cmd = [sys.executable, "-m", "benchmark.cli", "run", "--plugin", str(plugin), "--task", "synth-affect",
           "--model", "flaky", "--seeds", "0..3", "--results", str(tmp_path / "res")]
    for s in TINY_AFFECT:
        cmd += ["--set", s]
    killed = subprocess.run(cmd, env={**os.environ, "FLAKY_KILL_SEED": "2"}, capture_output=True, text=True)
    assert killed.returncode == 9
    done = {r["seed"] for _, r in record_files(tmp_path / "res")}
    assert done == {0, 1}  # finished cells survived the crash, nothing half-written
    assert not list((tmp_path / "res").rglob("*.tmp"))
    resumed = subprocess.run(cmd, env=os.environ, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    lines = [ln for ln in resumed.stdout.splitlines() if "flaky" in ln and "│" in ln]
    status = {int(ln.split("│")[3]): ln.split("│")[5].strip() for ln in lines}
    assert status == {0: "skipped", 1: "skipped", 2: "completed", 3: "completed"}


def test_leaky_test_selection_is_explicit_and_flagged(tmp_path):
    from benchmark.harness.record import iter_records
    from benchmark.reporting.leaderboard import build_boards, render_markdown

    (honest,) = execute(request(tmp_path, models=["mlp"], seeds=[0]))
    (leaky,) = execute(request(tmp_path, models=["mlp"], seeds=[0], overrides=[*TINY_AFFECT, "selection=leaky-test-max"]))
    rec = json.loads(leaky.path.read_text())
    assert rec["selection"]["leaky"] is True and rec["selection"]["criterion"] == "test.mse"
    assert "test_mse" in rec["history"][0]
    best = min(rec["history"], key=lambda h: h["test_mse"])
    assert rec["selection"]["epoch"] == best["epoch"]
    assert json.loads(honest.path.read_text())["selection"]["leaky"] is False
    table = render_markdown(build_boards(r for _, r in iter_records(tmp_path / "res")))
    assert "mlp [epochs=3, patience=2, selection=leaky-test-max] ⚠ LEAKY: epoch chosen on test" in table
    assert has_row(table, "mlp [epochs=3, patience=2]")


def test_every_cell_scores_the_same_resamples_of_its_test_sequences(tmp_path):
    from benchmark.harness.record import Record
    from benchmark.harness.test_resamples import N_RESAMPLES
    from benchmark.reporting.leaderboard import RENDERERS, build_boards

    execute(request(tmp_path, seeds=[0]))
    recs = {d["model"]["name"]: d for _, d in record_files(tmp_path / "res")}
    mean, mlp = recs["mean"]["test_resamples"], recs["mlp"]["test_resamples"]
    assert mean["seed"] == mlp["seed"] and mean["metric"] == "mse" and len(mlp["scores"]) == mlp["n"] == N_RESAMPLES
    assert mlp["sequences"] == recs["mlp"]["task"]["sizes"]["test"]
    # a resample's mean is near the cell's own test score, and which sequences were drawn moves it
    assert np.mean(mlp["scores"]) == pytest.approx(recs["mlp"]["main_score"], rel=0.1) and np.std(mlp["scores"]) > 0
    typed = [Record.from_json(d, "r") for d in recs.values()]
    assert typed[0].test_resamples == recs[typed[0].model.name]["test_resamples"]
    (board,) = build_boards(typed)
    assert "test-set [" in RENDERERS["md"]([board])  # one seed x one fold: too few to test, the test set shown
