"""Sweeps: local process pool and Ray give the records of a plain run; resume; failures stay local."""

import json

import pytest
from conftest import TINY_AFFECT
from helpers import read_record, record_files
from test_runner import PLUGIN
from typer.testing import CliRunner

from benchmark.cli import app
from benchmark.harness.config import ConfigError
from benchmark.harness.execution import Reporter, execute, expand_grid, grid_requests
from benchmark.harness.executors import Execution
from benchmark.harness.plan import RunRequest


def sweep(request, grid=(), executor="local", workers=None, reporter=None):
    return execute(grid_requests(request, grid) if grid else request, Execution(executor, workers), reporter)


def scores_by_cell(results):
    return {(r["model"]["name"], json.dumps(r["model"]["overrides"], sort_keys=True), r["seed"], r["task"]["fold"]):
            (r["status"], r["scores"]) for _, r in record_files(results)}


def request(tmp_path, where, **kw):
    base = dict(tasks=["synth-affect"], models=["mlp", "mean"], seeds=[0, 1], overrides=TINY_AFFECT,
                results=tmp_path / where)
    return RunRequest(**{**base, **kw})


class Recorder(Reporter):
    """Every progress event of a sweep, in the order the driver reports them."""

    def __init__(self):
        self.events = []

    def start_cell(self, label, cell=None):
        self.events.append(("start", cell, label))

    def on_eval(self, update, total, metrics, cell=None):
        self.events.append(("eval", cell, update, metrics["val_mse"]))

    def end_cell(self, outcome):
        self.events.append(("end", outcome.path, outcome.status))


def assert_reported(recorder, outcomes):
    """Each cell: its start (named by task, model and seed), then every evaluation of its record's history
    in order, then its end, all under its record path."""
    assert outcomes and all(o.status == "completed" for o in outcomes)
    for o in outcomes:
        mine = [e for e in recorder.events if e[1] == o.path]
        assert mine[0][0] == "start" and all(part in mine[0][2] for part in (o.task, o.model, f"seed {o.seed}"))
        history = read_record(o.path)["history"]
        assert [e[2:] for e in mine[1:-1]] == [(row["update"], row["val_mse"]) for row in history]
        assert mine[-1] == ("end", o.path, "completed")


@pytest.mark.parametrize("workers", [1, 2])
def test_a_sweep_reports_every_evaluation_of_each_cell_in_flight(tmp_path, workers):
    recorder = Recorder()
    outcomes = sweep(request(tmp_path, "pool", models=["mlp"]), workers=workers, reporter=recorder)
    assert len(outcomes) == 2
    assert_reported(recorder, outcomes)


def test_expand_grid():
    assert expand_grid(["hidden=8,16", "lr=0.01"]) == [("hidden=8", "lr=0.01"), ("hidden=16", "lr=0.01")]
    assert expand_grid([]) == [()]
    with pytest.raises(ConfigError, match="expected key=value1,value2"):
        expand_grid(["hidden"])


def test_local_pool_matches_a_plain_run_and_resumes(tmp_path):
    outcomes = sweep(request(tmp_path, "pool"), grid=["hidden=8,16"], workers=2)
    # mean does not know `hidden`: it runs once per grid value with the same config, then is skipped
    assert sorted(o.status for o in outcomes).count("completed") >= 6
    for hidden in ("8", "16"):
        execute(request(tmp_path, "plain", overrides=[*TINY_AFFECT, f"hidden={hidden}"]))
    pool, plain = scores_by_cell(tmp_path / "pool"), scores_by_cell(tmp_path / "plain")
    assert pool.keys() == plain.keys() and len(pool) == 6
    for key in pool:
        assert pool[key][0] == "completed"
        for split in ("val", "test"):
            for metric, value in plain[key][1][split].items():
                assert pool[key][1][split][metric] == pytest.approx(value, rel=1e-5, abs=1e-7)
    again = sweep(request(tmp_path, "pool"), grid=["hidden=8,16"], workers=2)
    assert {o.status for o in again} == {"skipped"}


def test_failing_cell_in_a_worker_is_recorded_and_the_rest_go_on(tmp_path, monkeypatch):
    plugin = tmp_path / "flaky.py"
    plugin.write_text(PLUGIN)
    monkeypatch.setenv("FLAKY_FAIL_SEED", "1")
    res = CliRunner().invoke(app, ["sweep", "--plugin", str(plugin), "--task", "synth-affect", "--model", "flaky",
                                   "--seeds", "0..2", "--workers", "2", "--results", str(tmp_path / "res"),
                                   *sum((["--set", s] for s in TINY_AFFECT), [])])
    assert res.exit_code == 1, res.output
    status = {r["seed"]: r["status"] for _, r in record_files(tmp_path / "res")}
    assert status == {0: "completed", 1: "failed", 2: "completed"}


@pytest.mark.parametrize("command", ["sweep", "run"])
def test_bad_executor_is_a_clear_error(tmp_path, command):
    res = CliRunner().invoke(app, [command, "--task", "synth-affect", "--model", "mean", "--executor", "slurm",
                                   "--results", str(tmp_path)])
    assert res.exit_code == 2 and "--executor must be one of inline, local, ray" in res.output


def test_run_with_workers_runs_its_cells_in_a_pool(tmp_path, monkeypatch):
    import benchmark.harness.executors as ex

    pools = []
    real = ex._run_local
    monkeypatch.setattr(ex, "_run_local", lambda cells, *a: pools.append((len(cells), a[2])) or real(cells, *a))
    args = ["run", "--task", "synth-affect", "--model", "mlp", "--seeds", "0,1",
            *sum((["--set", s] for s in TINY_AFFECT), [])]
    import torch

    before = torch.get_num_threads()
    try:  # one thread, as in a pool worker, so that the numbers are the same to the last digit
        plain = CliRunner().invoke(app, [*args, "--threads", "1", "--results", str(tmp_path / "plain")])
    finally:
        torch.set_num_threads(before)
    pooled = CliRunner().invoke(app, [*args, "--workers", "2", "--results", str(tmp_path / "pool")])
    assert plain.exit_code == 0 and pooled.exit_code == 0, pooled.output
    assert scores_by_cell(tmp_path / "pool") == scores_by_cell(tmp_path / "plain")
    assert len(scores_by_cell(tmp_path / "pool")) == 2 and pools == [(2, 2)]  # both cells, one pool of 2


@pytest.mark.slow
def test_ray_gives_the_records_of_the_local_pool(tmp_path):
    pytest.importorskip("ray", reason="Ray is not installed (pip install 'rlbench[ray]')")
    sweep(request(tmp_path, "pool", seeds=[0]), workers=2)
    recorder = Recorder()
    assert_reported(recorder, sweep(request(tmp_path, "ray", seeds=[0]), executor="ray", workers=2, reporter=recorder))
    pool, ray_ = scores_by_cell(tmp_path / "pool"), scores_by_cell(tmp_path / "ray")
    assert pool == ray_ and len(pool) == 2

    def comparable(results):  # the whole record, less when and how fast it ran and the command line
        out = {}
        for path, r in record_files(results):
            r = {k: v for k, v in r.items() if k != "timing"}
            r["provenance"] = {k: v for k, v in r["provenance"].items() if k not in ("started_at", "command")}
            out[str(path.relative_to(results))] = r
        return out

    pool_records, ray_records = comparable(tmp_path / "pool"), comparable(tmp_path / "ray")
    assert pool_records.keys() == ray_records.keys() and len(pool_records) == 2  # same paths, same config hashes
    assert pool_records == ray_records  # config, history, diagnostics, scores: identical


def test_a_grid_over_model_options_loads_the_task_data_once_per_process(tmp_path, monkeypatch):
    from benchmark.harness.execution import plan
    from tasks.synthetic import SynthAffect

    calls = []
    original = SynthAffect.load
    monkeypatch.setattr(SynthAffect, "load", lambda self: calls.append(1) or original(self))
    grid = grid_requests(request(tmp_path, "p", models=["mlp", "mean"], seeds=[0]), ["hidden=8,16,32"])
    assert len(plan(grid, Execution())) == 6 and len(calls) == 1
    execute(grid, Execution("inline"))  # planning and running inline: the same process, the same data
    assert len(calls) == 1
    cells = plan(grid_requests(request(tmp_path, "p", models=["mlp"], seeds=[0]), ["lag=3,4"]), Execution())
    assert len(cells) == 2 and len(calls) == 3  # a task option changes the data: loaded per value


def test_a_worker_loads_a_tasks_data_once_for_all_its_models(tmp_path, monkeypatch):
    from benchmark.harness.executors import CellSpec, execute_cell
    from tasks.synthetic import SynthAffect

    calls = []
    original = SynthAffect.load
    monkeypatch.setattr(SynthAffect, "load", lambda self: calls.append(1) or original(self))
    overrides = tuple(f"task.{o}" if not o.startswith(("epochs", "patience")) else f"train.{o}" for o in TINY_AFFECT)
    for model in ("mlp", "mean"):
        record = execute_cell(CellSpec("synth-affect", model, overrides, None, 0, 0, (), False))
        assert record.completed, record.error
    assert len(calls) == 1


def test_two_requests_naming_the_same_cell_run_it_once(tmp_path, monkeypatch):
    import benchmark.harness.executors as ex

    calls = []
    real = ex.run_cell
    monkeypatch.setattr(ex, "run_cell", lambda pair, *a: calls.append(pair) or real(pair, *a))
    a = request(tmp_path, "r", models=["mlp"], seeds=[0], overrides=[*TINY_AFFECT, "hidden=8", "lr=0.01"])
    b = request(tmp_path, "r", models=["mlp"], seeds=[0], overrides=[*TINY_AFFECT, "lr=0.01", "hidden=8"])
    outcomes = sweep([a, b], workers=1)
    assert len(calls) == 1  # the same options in another order: one cell, one run
    assert sorted(o.status for o in outcomes) == ["completed", "skipped"]
    assert {o.request for o in outcomes} == {0, 1} and len({o.path for o in outcomes}) == 1
