"""The CLI contract through typer's CliRunner: run, table, listings, and clean errors."""

import json
import subprocess
import sys

from pathlib import Path

import pytest
from conftest import TINY_AFFECT, TINY_SUMMARY
from helpers import has_row
from typer.testing import CliRunner

from benchmark.cli import app

runner = CliRunner()


COMMITTED = Path(__file__).resolve().parents[1] / "results"


def sets(items):
    return [a for s in items for a in ("--set", s)]


def test_run_then_table_on_both_synthetic_tasks(tmp_path):
    res_dir = str(tmp_path / "res")
    r = runner.invoke(app, ["run", "--task", "synth-affect", "--model", "lstm", "--model", "mlp,mean,oracle",
                            "--seeds", "0,1", "--results", res_dir, *sets(TINY_AFFECT)])
    assert r.exit_code == 0, r.output
    assert "run summary" in r.output and r.output.count("completed") == 16  # 8 summary rows, 8 plain lines
    # without a terminal, one plain line per finished cell, with the overrides that set it apart
    assert "[8/8] synth-affect oracle seed 1 fold 0: completed" in r.output
    assert "[1/8] synth-affect lstm [epochs=3, patience=2] seed 0 fold 0: completed val" in r.output
    r = runner.invoke(app, ["run", "--task", "synth-summary", "--model", "mlp,random,oracle", "--results", res_dir,
                            *sets(TINY_SUMMARY)])
    assert r.exit_code == 0, r.output
    md = runner.invoke(app, ["table", "--results", res_dir])
    assert md.exit_code == 0
    assert "### synth-affect [lag=8, length=60, n_sequences=24] (v2.0, test)" in md.output
    assert has_row(md.output, "oracle *(reference)*", " 2 |") and "fscore ↑" in md.output
    lines = [ln for ln in md.output.splitlines() if ln.startswith("| ")]
    lstm = next(ln for ln in lines if ln.startswith("| lstm"))
    assert " ± " in lstm  # two seeds: mean ± std
    csv = runner.invoke(app, ["table", "--results", res_dir, "--format", "csv", "--task", "synth-summary"])
    assert csv.output.startswith("task,version,split,model") and "synth-affect" not in csv.output
    out = tmp_path / "t.tex"
    tex = runner.invoke(app, ["table", "--results", res_dir, "--format", "latex", "--out", str(out)])
    assert tex.exit_code == 0 and r"\begin{tabular}" in out.read_text()
    # each row against the best trained row, or against the row --against names
    assert "| Δ mse [95 % CI] | p (Holm) | rank [95 %] |" in md.output and "too few (2)" in md.output
    vs = runner.invoke(app, ["table", "--results", res_dir, "--task", "synth-affect", "--against", "mlp"])
    assert vs.exit_code == 0 and "minus mlp [" in vs.output
    assert next(ln for ln in vs.output.splitlines() if ln.startswith("| mlp")).count("(against)") == 1


@pytest.mark.parametrize("args, message", [
    (["run", "--task", "synth-afect", "--model", "lstm"], "unknown task 'synth-afect'. Did you mean 'synth-affect'"),
    (["run", "--task", "synth-affect", "--model", "lstn"], "unknown model 'lstn'. Did you mean 'lstm'"),
    (["run", "--task", "synth-affect", "--model", "lstm", "--set", "hiden=2"], "Did you mean hidden"),
    (["run", "--task", "synth-affect", "--model", "lstm", "--set", "lag=soon"], "expected int, got 'soon'"),
    (["run", "--task", "synth-affect", "--model", "lstm", "--folds", "3"], "has folds 0..0; --folds asked for [3]"),
    (["run", "--task", "generic", "--model", "lstm", "--data-root", "/nonexistent/x.h5"], "x.h5: no such file"),
    (["run", "--task", "synth-affect", "--model", "lstm", "--plugin", "/nonexistent/p.py"], "no such file"),
    (["table", "--results", "/nonexistent/results"], "no such folder of records"),
    (["table", "--format", "xls"], "--format must be one of md, csv, latex"),
    (["table", "--results", str(COMMITTED), "--against", "lsmt"], "no table has such a row; unknown row 'lsmt'. Did you mean"),
    # model options are checked when they are built, before any data is loaded or anything trains
    (["run", "--task", "synth-affect", "--model", "rlmem", "--set", "retain=foo"], "retain must be one of scale, gate, got 'foo'"),
    (["run", "--task", "synth-affect", "--model", "lstm", "--set", "hidden=0"], "hidden must be >= 1, got 0"),
    (["run", "--task", "synth-affect", "--model", "transformer", "--set", "dropout=1.5"], "dropout must be in [0, 1)"),
    (["run", "--task", "generic", "--model", "lstm", "--data-root", "{tmp}"], "is a directory"),
    (["run", "--task", "synth-affect", "--model", "lstm", "--plugin", "{tmp}"], "is a directory"),
])
def test_bad_input_gives_one_clear_line(args, message, tmp_path):
    r = runner.invoke(app, [a.replace("{tmp}", str(tmp_path)) for a in args])
    assert r.exit_code == 2, r.output
    assert message in r.output
    assert "Traceback" not in r.output


def test_bad_seeds_are_a_usage_error():
    r = runner.invoke(app, ["run", "--task", "synth-affect", "--model", "lstm", "--seeds", "a,b"])
    assert r.exit_code == 2 and "--seeds must be integers" in r.output


def test_help_and_listings_do_not_import_torch():
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from benchmark.cli import app\n"
        "r = CliRunner()\n"
        "outs = [r.invoke(app, a) for a in (['--help'], ['models'], ['tasks'], ['run', '--help'])]\n"
        "assert all(o.exit_code == 0 for o in outs), [o.output for o in outs]\n"
        "assert 'lstm' in outs[1].output and 'synth-affect' in outs[2].output\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'scipy', 'h5py'))))\n"
    )
    out = subprocess.run([sys.executable, "-c", "import json\n" + code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


def test_table_skips_a_corrupt_record_and_says_so(tmp_path):
    res = tmp_path / "res"
    r = runner.invoke(app, ["run", "--task", "synth-affect", "--model", "mean,oracle", "--seeds", "0,1",
                            "--results", str(res), *sets(TINY_AFFECT)])
    assert r.exit_code == 0, r.output
    paths = sorted(res.rglob("fold=0.json"))
    paths[0].write_text(paths[0].read_text()[:40])  # cut short, as a full disk would leave it
    paths[1].write_text('{"schema_version": 1}')  # JSON, but not a record
    t = runner.invoke(app, ["table", "--results", str(res)])
    assert t.exit_code == 0, t.output
    assert "| model | seeds |" in t.output and t.output.count("skipped: ") == 2
    assert f"{paths[0]}: not a readable record" in t.output and "not a whole record" in t.output
    assert runner.invoke(app, ["table", "--results", str(res), "--strict"]).exit_code == 1


def test_runs_go_to_runs_unless_results_says_otherwise(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = runner.invoke(app, ["run", "--task", "synth-affect", "--model", "mean", *sets(TINY_AFFECT)])
    assert r.exit_code == 0, r.output
    assert list((tmp_path / "runs").rglob("fold=0.json")) and not (tmp_path / "results").exists()
    assert runner.invoke(app, ["table"]).exit_code == 0  # tables read runs/ by default as well


def test_a_log_gets_a_progress_line_per_long_cell_every_interval(capsys):
    from benchmark.cli.progress import PlainReporter

    now = [0.0]
    reporter = PlainReporter(every=60, clock=lambda: now[0])
    reporter.plan(2)
    reporter.start_cell("synth-affect · mlp · seed 0 · fold 0", cell="a")
    reporter.start_cell("synth-affect · lstm · seed 0 · fold 0", cell="b")
    for t, update in [(10, 50), (61, 100), (90, 150), (125, 200)]:
        now[0] = t
        reporter.on_eval(update, 1000, {"train_loss": 0.5, "val_mse": 0.25, "epoch": 2.0}, cell="a")
    reporter.on_eval(50, 1000, {"val_mse": 0.2}, cell="never started")
    assert capsys.readouterr().out.splitlines() == [
        "  synth-affect · mlp · seed 0 · fold 0: update 100/1000  train_loss 0.5000  val_mse 0.2500 (1.0 min)",
        "  synth-affect · mlp · seed 0 · fold 0: update 200/1000  train_loss 0.5000  val_mse 0.2500 (2.1 min)"]


def test_a_terminal_gets_a_bar_per_cell_in_training():
    from pathlib import Path

    from rich.progress import Progress

    from benchmark.cli.progress import RichReporter
    from benchmark.harness.execution import CellOutcome

    progress = Progress()
    reporter = RichReporter(progress)
    reporter.plan(2)
    for cell in ("a", "b"):
        reporter.start_cell(f"synth-affect · mlp · seed {cell}", cell=Path(cell))
    reporter.on_eval(100, 400, {"val_mse": 0.25, "epoch": 2.0}, cell=Path("b"))
    bars = {t.description.split("  ")[0]: t for t in progress.tasks}
    assert bars["synth-affect · mlp · seed b"].completed == 100 and bars["synth-affect · mlp · seed b"].total == 400
    assert "val_mse 0.2500" in bars["synth-affect · mlp · seed b"].description
    reporter.end_cell(CellOutcome("synth-affect", "mlp", 0, 0, "completed", Path("b"), "mse"))
    assert [t.description for t in progress.tasks] == ["cells", "synth-affect · mlp · seed a"]
    assert progress.tasks[0].completed == 1


def all_commands():
    """(name, click command) of every command, the data group's included."""
    import typer.main

    def walk(command, prefix):
        if hasattr(command, "commands"):
            for name, sub in command.commands.items():
                yield from walk(sub, f"{prefix} {name}".strip())
        else:
            yield prefix, command

    return list(walk(typer.main.get_command(app), ""))


def test_a_shared_option_has_one_help_text_in_every_command():
    helps: dict[str, dict[str, list[str]]] = {}
    for name, command in all_commands():
        for param in command.params:
            for flag in param.opts:
                if flag.startswith("--") and flag != "--help":
                    helps.setdefault(flag, {}).setdefault(getattr(param, "help", None) or "", []).append(name)
    drifted = {flag: texts for flag, texts in helps.items() if len(texts) > 1}
    assert drifted == {}
    shared = {flag for flag, texts in helps.items() if len(next(iter(texts.values()))) > 1}
    assert {"--task", "--model", "--set", "--results", "--executor", "--workers", "--address", "--threads",
            "--resume", "--data-root", "--plugin", "--checkpoint-every", "--against"} <= shared
    # every command that trains takes every execution option
    trainers = {name: {flag for p in command.params for flag in (*p.opts, *p.secondary_opts)}
                for name, command in all_commands() if name in ("run", "sweep", "tune", "ablate")}
    for name, flags in trainers.items():
        assert {"--executor", "--workers", "--address", "--threads", "--device", "--checkpoint-every", "--resume",
                "--overwrite", "--plugin"} <= flags, name


def test_help_groups_commands_and_options_in_panels():
    top = runner.invoke(app, ["--help"]).output
    for panel in ("Run", "Reports", "Data", "Registry"):
        assert f"─ {panel} ─" in top, top
    run = runner.invoke(app, ["run", "--help"]).output
    for panel in ("What to run", "Data", "Execution", "Output"):
        assert f"─ {panel} ─" in run, run
    assert "[env RLBENCH_DATA" in run and "[default: runs]" in run  # brackets are text, not markup


def test_execution_options_resolve_the_same_way_for_every_command(tmp_path):
    from benchmark.cli.common import make_execution
    from benchmark.harness.config import ConfigError

    def ex(default="local", **kw):
        kw = {"executor": None, "workers": None, "address": None, "threads": None, "plugins": (), **kw}
        e = make_execution(default=default, **kw)
        return e.executor, e.workers, e.address, e.threads

    assert ex() == ("local", None, None, 1) and ex("inline") == ("inline", None, None, None)
    assert ex("inline", workers=2) == ("local", 2, None, 1)
    assert ex("inline", address="head:6379") == ("ray", None, "head:6379", 1)
    assert ex(executor="local", threads=2) == ("local", None, None, 2)
    for bad in ({"executor": "inline", "workers": 2}, {"executor": "local", "address": "x"}, {"threads": 0},
                {"executor": "slurm"}, {"workers": 0}):
        with pytest.raises(ConfigError):
            ex(**bad)
    r = runner.invoke(app, ["ablate", "memory-size", "--task", "synth-affect", "--executor", "inline", "--workers",
                            "2", "--results", str(tmp_path)])
    assert r.exit_code == 2 and "--executor inline runs cells in this process" in r.output
