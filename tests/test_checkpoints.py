"""Checkpoints inside a cell: an interrupted cell goes on from its last checkpoint and writes the record the
uninterrupted run writes; a checkpoint of other code or another cell is never used."""

import json
import signal
import subprocess
import sys
import time

import pytest
import torch
from typer.testing import CliRunner

from benchmark.api import Selector
from benchmark.cli import app
from benchmark.harness import checkpoints
from benchmark.harness.checkpoints import CellCheckpoint, checkpoint_path
from benchmark.harness.execution import Reporter, execute
from benchmark.harness.executors import Execution
from benchmark.harness.plan import RunRequest

# 30 updates, validated every 3, no early stop: ten evaluations to interrupt between
BUDGET = ["n_sequences=24", "length=40", "lag=6", "batch_size=4", "max_updates=30", "eval_every=3",
          "min_updates=30", "patience=10"]


class StopAt(Reporter):
    """Ctrl-C at the ``at``-th evaluation of the run (before that evaluation's checkpoint)."""

    def __init__(self, at: int):
        self.at, self.seen = at, 0

    def on_eval(self, update, total, metrics, cell=None):
        self.seen += 1
        if self.seen == self.at:
            raise KeyboardInterrupt


def _run(tmp_path, model, reporter=None, every=1e-9, results="res"):
    request = RunRequest(["synth-affect"], [model], overrides=BUDGET, results=tmp_path / results,
                         checkpoint_every=every)
    (outcome,) = execute(request, reporter=reporter)
    return outcome.path, json.loads(outcome.path.read_text())


def _same_training(a, b):
    assert a["history"] == b["history"]
    assert a["selection"] == b["selection"]
    assert a["scores"] == b["scores"]


@pytest.mark.slow
@pytest.mark.parametrize("model", ["transformer", "lstm", "memnet-bptt"])  # the transformer's dropout draws from the global generator
def test_interrupted_cell_resumes_to_the_record_of_an_uninterrupted_run(tmp_path, model):
    _, whole = _run(tmp_path, model, results="whole")
    with pytest.raises(KeyboardInterrupt):
        _run(tmp_path, model, StopAt(7))
    (ckpt,) = (tmp_path / "res").rglob("*" + checkpoints.SUFFIX)
    assert torch.load(ckpt, weights_only=True)["update"] == 18  # the 6th evaluation's
    path, resumed = _run(tmp_path, model)
    _same_training(resumed, whole)
    assert resumed["provenance"]["resumed_from_update"] == 18
    assert "resumed_from_update" not in whole["provenance"]
    assert not ckpt.exists()  # a completed record ends its checkpoint
    assert checkpoint_path(path) == ckpt


def test_a_checkpoint_of_other_code_or_another_cell_is_ignored(tmp_path, capsys):
    with pytest.raises(KeyboardInterrupt):
        _run(tmp_path, "mlp", StopAt(5))
    (ckpt,) = (tmp_path / "res").rglob("*" + checkpoints.SUFFIX)
    saved = torch.load(ckpt, weights_only=True)
    saved["key"] = {**saved["key"], "git_commit": "0" * 40}
    torch.save(saved, ckpt)
    _, record = _run(tmp_path, "mlp")
    assert "resumed_from_update" not in record["provenance"]
    assert "a checkpoint of other code or another configuration, not used" in capsys.readouterr().err
    _, whole = _run(tmp_path, "mlp", results="whole")
    _same_training(record, whole)


def test_truncated_bptt_and_no_checkpointing_start_over(tmp_path):
    # truncated BPTT carries its state from chunk to chunk within a batch, so it never saves mid-training
    with pytest.raises(KeyboardInterrupt):
        _run(tmp_path, "lstm-tbptt", StopAt(5))
    with pytest.raises(KeyboardInterrupt):
        _run(tmp_path, "mlp", StopAt(5), every=0, results="off")
    assert not list(tmp_path.rglob("*" + checkpoints.SUFFIX))


def test_an_unreadable_or_unwritable_checkpoint_costs_time_not_the_cell(tmp_path, capsys):
    sel = Selector(lambda p: {"mse": 0.0}, "mse", False, 3)
    bad = tmp_path / "x.ckpt.pt"
    bad.write_bytes(b"not a checkpoint")
    saver = CellCheckpoint(bad, {"seed": 0})
    assert saver.load() is None and "unreadable checkpoint" in capsys.readouterr().err
    (tmp_path / "file").write_text("a file where the folder should be")
    saver = CellCheckpoint(tmp_path / "file" / "y.ckpt.pt", {"seed": 0}, every_s=1e-9)
    saver.save(3, {"selector": sel.state_dict()})
    assert not saver.enabled and "cannot write a checkpoint" in capsys.readouterr().err
    assert not saver.due()


def test_selector_state_round_trips():
    sel = Selector(lambda p: p, "mse", False, 2)
    for step, score in ((3, {"mse": 1.0}), (6, {"mse": 0.5}), (9, {"mse": 0.7})):
        sel.observe(step, score)
    copy = Selector(lambda p: p, "mse", False, 2)
    copy.load_state_dict(sel.state_dict())
    assert (copy.history, copy.best_step, copy.best_score, copy.should_stop) == ([(3, 1.0), (6, 0.5), (9, 0.7)], 6, 0.5, False)
    copy.observe(12, {"mse": 0.9})
    assert copy.should_stop


def test_cli_checkpoint_option(tmp_path):
    runner = CliRunner()
    r = runner.invoke(app, ["run", "--task", "synth-affect", "--model", "mlp", "--checkpoint-every", "-1",
                            "--results", str(tmp_path)])
    assert r.exit_code == 2 and "--checkpoint-every must be >= 0" in r.output, r.output
    assert "--checkpoint-every" in runner.invoke(app, ["sweep", "--help"]).output


def test_a_sweep_worker_resumes_a_cell_that_a_plain_run_left(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        _run(tmp_path, "mlp", StopAt(4))
    request = RunRequest(["synth-affect"], ["mlp"], overrides=BUDGET, results=tmp_path / "res", checkpoint_every=1e-9)
    (outcome,) = execute(request, Execution("local", workers=2))
    resumed = json.loads(outcome.path.read_text())
    assert resumed["provenance"]["resumed_from_update"] == 9
    _, whole = _run(tmp_path, "mlp", results="whole")
    _same_training(resumed, whole)
    assert not list(tmp_path.rglob("*" + checkpoints.SUFFIX))


@pytest.mark.slow
def test_a_killed_run_goes_on_from_its_checkpoint_from_the_cli(tmp_path):
    # a process killed outright (no Ctrl-C handler runs): the checkpoint on disk is whole, and the same
    # command finishes the cell with the uninterrupted run's record
    long = [*BUDGET[:4], "max_updates=1500", "eval_every=10", "min_updates=1500"]
    args = ["run", "--task", "synth-affect", "--model", "mlp", "--checkpoint-every", "0.0001"]
    for s in long:
        args += ["--set", s]
    cmd = [sys.executable, "-m", "benchmark.cli", *args, "--results", str(tmp_path / "res")]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while not list((tmp_path / "res").rglob("*" + checkpoints.SUFFIX)) and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not list((tmp_path / "res").rglob("fold=0.json")), "the cell ended before it was killed"
    runner = CliRunner()
    r = runner.invoke(app, [*args, "--results", str(tmp_path / "res")])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, [*args, "--checkpoint-every", "0", "--results", str(tmp_path / "whole")])
    assert r.exit_code == 0, r.output
    (resumed,), (whole,) = ([json.loads(p.read_text()) for p in (tmp_path / d).rglob("fold=0.json")]
                            for d in ("res", "whole"))
    assert resumed["provenance"]["resumed_from_update"] > 0
    _same_training(resumed, whole)
