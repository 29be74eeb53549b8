"""No lost work, no tracebacks: unwritable results, a failing write, Ctrl-C, thread counts, sweep output."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from conftest import TINY_AFFECT
from typer.testing import CliRunner

from benchmark.cli import app
from helpers import record_files

runner = CliRunner()
TINY = [a for s in TINY_AFFECT for a in ("--set", s)]

SLOW = textwrap.dedent('''
    import os, time
    import numpy as np
    import torch
    from benchmark.api import FitInfo, Model

    class Slow(Model):
        """sleeps SLOW_SECONDS on seeds >= SLOW_FROM; records how many torch threads it ran on"""
        def fit(self, train, val, budget, selector, log):
            if self.seed >= int(os.environ.get("SLOW_FROM", "99")):
                time.sleep(float(os.environ.get("SLOW_SECONDS", "60")))
            self.mean = np.concatenate([e.targets for e in train]).mean(axis=0)
            return FitInfo(diagnostics={"torch_threads": torch.get_num_threads()})
        def predict(self, episodes):
            return {e.id: np.tile(self.mean, (e.length, 1)) for e in episodes}

    RLBENCH_MODELS = {"slow": Slow}
''')


def test_a_results_path_that_cannot_take_records_is_refused_before_anything_runs(tmp_path):
    blocker = tmp_path / "results.txt"
    blocker.write_text("not a folder")
    for command in ("run", "sweep"):
        r = runner.invoke(app, [command, "--task", "synth-affect", "--model", "mean", "--results", str(blocker), *TINY])
        assert r.exit_code == 2 and f"{blocker}: is a file, not a folder for records" in r.output, r.output
    r = runner.invoke(app, ["run", "--task", "synth-affect", "--model", "mean", "--results", str(blocker / "sub"),
                            *TINY])
    assert r.exit_code == 2 and "cannot write records there" in r.output and "Traceback" not in r.output


def test_a_record_that_cannot_be_written_is_saved_elsewhere_and_named(tmp_path, monkeypatch):
    import benchmark.harness.store as store

    original = store.write_record
    target = tmp_path / "res"

    def full_disk(path, record):
        if str(path).startswith(str(target)):
            raise OSError(28, "No space left on device")
        original(path, record)

    monkeypatch.setattr(store, "write_record", full_disk)
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)  # re-read TMPDIR
    r = runner.invoke(app, ["run", "--task", "synth-affect", "--model", "mean", "--results", str(target), *TINY])
    assert r.exit_code == 2, r.output
    assert "cannot write the record (No space left on device); it was saved to" in r.output
    (saved,) = (tmp_path / "tmp" / "rlbench-unsaved").rglob("fold=0.json")
    assert json.loads(saved.read_text())["status"] == "completed" and str(saved) in r.output.replace("\n", "")


def _cli(*args):
    return [sys.executable, "-m", "benchmark.cli", *args]


def _interrupt_after_records(cmd, results, n, env):
    # a suite started in the background (`pytest &`) inherits SIGINT ignored; Ctrl-C at a terminal is not
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 120
    while len(list(results.rglob("fold=*.json"))) < n and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    time.sleep(1.0)  # the slow cells are in flight now
    sent = time.time()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    return proc.returncode, out + err, time.time() - sent


@pytest.mark.slow
def test_ctrl_c_stops_run_and_sweep_keeps_finished_records_and_says_how_to_resume(tmp_path):
    plugin = tmp_path / "slow.py"
    plugin.write_text(SLOW)
    env = {**os.environ, "SLOW_FROM": "2", "SLOW_SECONDS": "120"}
    for command, extra in (("run", []), ("sweep", ["--workers", "2"])):
        results = tmp_path / command
        cmd = _cli(command, "--plugin", str(plugin), "--task", "synth-affect", "--model", "slow", "--seeds", "0..3",
                   "--results", str(results), *extra, *TINY)
        code, output, seconds = _interrupt_after_records(cmd, results, 2, env)
        assert code == 130, output
        assert "interrupted: rerun the same command to resume" in output and "Traceback" not in output
        assert seconds < 15
        assert sorted(r["seed"] for _, r in record_files(results)) == [0, 1]
        assert not list(results.rglob("*.tmp"))


def test_threads_per_process_and_per_worker(tmp_path):
    plugin = tmp_path / "slow.py"
    plugin.write_text(SLOW)
    common = ["--plugin", str(plugin), "--task", "synth-affect", "--model", "slow", *TINY]

    def threads(where):
        return {r["diagnostics"]["torch_threads"] for _, r in record_files(tmp_path / where)}

    assert runner.invoke(app, ["sweep", "--workers", "2", "--seeds", "0,1", "--results", str(tmp_path / "a"),
                               *common]).exit_code == 0
    assert threads("a") == {1}  # one per worker by default
    assert runner.invoke(app, ["sweep", "--workers", "1", "--threads", "2", "--results", str(tmp_path / "b"),
                               *common]).exit_code == 0
    assert threads("b") == {2}
    assert runner.invoke(app, ["run", "--threads", "1", "--results", str(tmp_path / "c"), *common]).exit_code == 0
    assert threads("c") == {1}
    help_text = runner.invoke(app, ["sweep", "--help"]).output
    assert "--threads" in help_text and "each worker" in help_text


def test_sweep_summary_names_the_grid_values_of_each_cell(tmp_path):
    r = runner.invoke(app, ["sweep", "--task", "synth-affect", "--model", "mlp", "--grid", "hidden=8,16",
                            "--workers", "1", "--results", str(tmp_path), *TINY])
    assert r.exit_code == 0, r.output
    assert "mlp [epochs=3, hidden=8, patience=2]" in r.output and "mlp [epochs=3, hidden=16, patience=2]" in r.output
