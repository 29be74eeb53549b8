"""rlbench paper: golden paper tables from fixture records; reported rows stay separate, with sources."""

import os
from pathlib import Path

import pytest

from helpers import make_record, record_files
from test_leaderboard import fixture_records
from typer.testing import CliRunner

from benchmark.cli import app
from benchmark.reporting.paper import TABLES, reported_numbers, write_paper
from benchmark.harness.store import write_record

GOLDEN = Path(__file__).parent / "golden"


def test_golden_paper(tmp_path):
    written = write_paper(fixture_records(), tmp_path / "paper")
    text = (tmp_path / "paper" / "paper.md").read_text()
    if os.environ.get("RLBENCH_UPDATE_GOLDEN"):
        (GOLDEN / "paper.md").write_text(text)
    assert text == (GOLDEN / "paper.md").read_text()
    assert len(written) == 1 + 3 * len(TABLES) + 2  # paper.md, each table in 3 formats, the order and selection tables


def test_reported_rows_are_marked_and_sourced():
    reported = reported_numbers()
    for key in ("affect", "summarization_fscore", "summarization_rank"):
        for row in reported[key]["rows"]:
            assert row["source"] and row["tag"] in ("P", "S")
            assert len(row["values"]) == len(reported[key]["columns"])
            assert all(float(v) == float(v) for v in row["values"])  # numbers, kept as published strings
    md = (GOLDEN / "paper.md").read_text()
    assert "| GLA (Google) *(reported, S)* | 0.084 | 0.278 | 0.133 | 0.351 |" in md
    assert "VASNet (released models) *(reported, P, ⚠ LEAKY: epoch chosen on test)*" in md
    assert "No records for mediaeval18, liris-accede on this machine" in md
    assert "rlbench sweep --task mediaeval18" in md


def test_cli_paper(tmp_path):
    for i, rec in enumerate(fixture_records()):
        write_record(tmp_path / "res" / f"r{i}" / "fold=0.json", rec)
    r = CliRunner().invoke(app, ["paper", "--results", str(tmp_path / "res")])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "res" / "paper" / "summarization.tex").read_text().count(r"\begin{tabular}") == 2
    assert "## Long-range dependencies (synth-affect)" in r.output


@pytest.mark.slow
def test_figures_are_written_and_not_trivial(tmp_path):
    from benchmark.harness.execution import execute as run
    from benchmark.harness.plan import RunRequest

    tiny = ["n_sequences=16", "length=40", "epochs=1", "warmup=10", "rl_batch_size=8"]
    for lag in (3, 9):
        run(RunRequest(["synth-affect"], ["mlp", "mean"], seeds=[0, 1], overrides=[*tiny[:3], f"lag={lag}"],
                       results=tmp_path / "res"))
    run(RunRequest(["synth-affect"], ["rlmem"], overrides=[*tiny, "lag=3", "record_memory=true"],
                   results=tmp_path / "res"))
    r = CliRunner().invoke(app, ["paper", "--results", str(tmp_path / "res")])
    assert r.exit_code == 0, r.output
    figs = tmp_path / "res" / "paper" / "figures"
    horizon = figs / "memory_horizon_synth-affect.png"
    trace = next(figs.glob("memory_trace_synth-affect_rlmem_seed0.png"))
    for png in (horizon, trace):
        assert png.stat().st_size > 10_000 and png.with_suffix(".pdf").is_file()
    import matplotlib.image

    image = matplotlib.image.imread(horizon)
    assert image.std() > 0.05  # lines, axes and labels: not a blank canvas
    assert "![memory_horizon_synth-affect](figures/memory_horizon_synth-affect.png)" in r.output
    # the same records again: every figure byte for byte the same (a PDF with its creation date would differ)
    before = {p.name: p.read_bytes() for p in figs.iterdir()}
    assert CliRunner().invoke(app, ["paper", "--results", str(tmp_path / "res")]).exit_code == 0
    assert {p.name: p.read_bytes() for p in figs.iterdir()} == before


def test_a_figure_save_cut_off_midway_leaves_the_old_figure(tmp_path, monkeypatch):
    import benchmark.harness.record as record_module
    from benchmark.reporting.figures import _plt, _save

    def figure(y):
        fig, ax = _plt().subplots()
        ax.plot([0, 1], y)
        return fig

    png, pdf = _save(figure([0, 1]), tmp_path, "f")
    before = png.read_bytes(), pdf.read_bytes()
    monkeypatch.setattr(record_module.os, "fsync", lambda fd: (_ for _ in ()).throw(OSError(28, "disk full")))
    with pytest.raises(OSError):
        _save(figure([1, 0]), tmp_path, "f")
    assert (png.read_bytes(), pdf.read_bytes()) == before
    assert sorted(os.listdir(tmp_path)) == ["f.pdf", "f.png"]


@pytest.mark.slow
def test_traced_runs_give_prediction_and_importance_figures(tmp_path):
    from benchmark.harness.execution import execute as run
    from benchmark.harness.plan import RunRequest

    run(RunRequest(["synth-summary"], ["mlp", "human"], trace=True, results=tmp_path / "res",
                   overrides=["n_sequences=20", "length=80", "n_annotators=4", "epochs=1"]))
    cli = CliRunner().invoke(app, ["sweep", "--task", "synth-affect", "--model", "mlp", "--trace", "--workers", "1",
                                   "--results", str(tmp_path / "res"), "--set", "n_sequences=16", "--set",
                                   "length=40", "--set", "lag=3", "--set", "epochs=1"])
    assert cli.exit_code == 0, cli.output
    records = {r["model"]["name"] + "/" + r["task"]["name"]: r for _, r in record_files(tmp_path / "res")}
    trace = records["mlp/synth-summary"]["trace"]
    assert len(trace["predictions"]) == len(trace["targets"]) == 80 and len(trace["user_scores"]) == 4
    assert records["human/synth-summary"]["trace"] is None  # no per-step predictions to keep
    r = CliRunner().invoke(app, ["paper", "--results", str(tmp_path / "res")])
    assert r.exit_code == 0, r.output
    figs = tmp_path / "res" / "paper" / "figures"
    for name in ("importance_trace_synth-summary_mlp_seed0.png", "prediction_trace_synth-affect_mlp_seed0.png"):
        assert (figs / name).stat().st_size > 10_000 and (figs / name).with_suffix(".pdf").is_file()


@pytest.mark.slow
def test_every_panel_is_labelled_and_names_its_task(tmp_path, monkeypatch):
    """Each figure's panels have axis labels and a title naming the task; log-scale ticks read as 0.11,
    not 1.1x10^-1; lines that may overlap differ in marker and style."""
    import benchmark.reporting.figures as figures
    from benchmark.harness.execution import execute as run
    from benchmark.harness.plan import RunRequest
    from benchmark.harness.record import iter_records

    tiny = ["n_sequences=16", "length=40", "epochs=2", "warmup=10", "rl_batch_size=8"]
    for lag in (3, 9):
        run(RunRequest(["synth-affect"], ["mlp", "lstm"], seeds=[0, 1], overrides=[*tiny[:3], f"lag={lag}"],
                       results=tmp_path / "res", trace=True))
    run(RunRequest(["synth-affect"], ["rlmem"], overrides=[*tiny, "lag=3", "record_memory=true"],
                   results=tmp_path / "res"))
    records = [r for _, r in iter_records(tmp_path / "res")]
    captured = []
    original = figures._save

    def capture(fig, out, name):
        fig.canvas.draw()
        captured.append((name, fig))
        return original(fig, out, name)

    monkeypatch.setattr(figures, "_save", capture)
    figures.all_figures(records, tmp_path / "figs")
    figures.training_curves([(r.label, r) for r in records], tmp_path / "figs", "curves",
                            "synth-affect: validation curves")
    names = {name for name, _ in captured}
    assert {"memory_horizon_synth-affect", "curves"} <= names and any(n.startswith("memory_trace") for n in names)
    assert any(n.startswith("prediction_trace") for n in names)
    for name, fig in captured:
        for ax in fig.axes:
            if ax.get_label() == "<colorbar>":
                continue
            assert ax.get_xlabel() and ax.get_ylabel(), (name, ax.get_title())
            assert "synth-affect" in ax.get_title(), (name, ax.get_title())
            for axis, scale in ((ax.xaxis, ax.get_xscale()), (ax.yaxis, ax.get_yscale())):
                if scale == "log":
                    labels = [t.get_text() for t in axis.get_ticklabels() + axis.get_ticklabels(minor=True)]
                    assert labels and not any("times" in t or "^" in t or "$" in t for t in labels), (name, labels)
        if name == "curves" or name.startswith("memory_horizon"):
            handles, _ = fig.axes[0].get_legend_handles_labels()
            lines = [h[0] if isinstance(h, tuple) else h for h in handles]  # an error bar's data line comes first
            styles = {(line.get_marker(), line.get_linestyle()) for line in lines}
            assert len(styles) == len(lines) >= 2, (name, styles)


def test_memory_horizon_does_not_mix_task_versions():
    from benchmark.reporting.figures import horizon_points

    def rec(version, lag, score, overrides=None, model_overrides=None, length=None):
        return make_record({"task": {"name": "synth-affect", "version": version, "main_score": "mse",
                                     "overrides": overrides if overrides is not None else {"lag": lag}},
                            "config": {"task": {"options": {"lag": lag, **({"length": length} if length else {})}}},
                            "model": {"name": "lstm", "overrides": model_overrides or {}},
                            "scores": {"test": {"mse": score}}})

    old = [rec("1.0", 10, 0.03), rec("1.0", 50, 0.08), rec("1.0", 200, 0.1)]
    new = [rec("2.0", 50, 0.07, overrides={})]  # the new version's default lag, no override
    horizon = horizon_points(old + new)
    assert horizon.version == "1.0" and horizon.main == "mse"
    assert {lag: v for lag, v in horizon.points["lstm"].items()} == {10: [0.03], 50: [0.08], 200: [0.1]}
    # a variant run at one lag beside the study draws no line
    horizon = horizon_points(old + [rec("1.0", 50, 0.09, model_overrides={"truncation": 32})])
    assert list(horizon.points) == ["lstm"]


def test_memory_horizon_takes_a_longer_lag_at_longer_sequences_and_labels_its_length():
    from benchmark.reporting.figures import horizon_points

    def rec(lag, length, score, model="lstm"):
        overrides = {"lag": lag, **({"length": length} if length != 250 else {})}
        return make_record({"task": {"name": "synth-affect", "version": "2.0", "main_score": "mse",
                                     "overrides": overrides},
                            "config": {"task": {"options": {"lag": lag, "length": length}}},
                            "model": {"name": model, "overrides": {}}, "scores": {"test": {"mse": score}}})

    study = [rec(lag, 250, 0.05 * i) for i, lag in enumerate((10, 50, 200))] + [rec(1000, 1250, 0.2)]
    horizon = horizon_points(study)
    assert horizon.points["lstm"] == {10: [0.0], 50: [0.05], 200: [0.1], 1000: [0.2]}
    assert [horizon.tick(lag) for lag in (10, 200, 1000)] == ["10", "200", "1,000\n(length 1,250)"]
    # a lag run at two lengths: the one with more records stands for it, the other is not drawn beside it
    horizon = horizon_points(study + [rec(200, 1250, 0.9)] + [rec(200, 250, 0.1, model="mlp")] * 2)
    assert horizon.points["lstm"][200] == [0.1] and horizon.lengths[200] == 250
    assert "mlp" not in horizon.points  # one lag only


def test_validation_curves_do_not_mix_task_versions(tmp_path, monkeypatch):
    import benchmark.reporting.figures as figures

    def rec(version, curve, history=None):
        return make_record({"task": {"name": "synth-affect", "version": version, "overrides": {}},
                            "model": {"name": "lstm", "overrides": {}}, "selection": {"update": 50},
                            "history": history or [{"update": 50 * (i + 1), "val_mse": v} for i, v in enumerate(curve)]})

    drawn = []
    monkeypatch.setattr(figures, "training_curves",
                        lambda recs, out, name, title: drawn.append((name, title, [r.task.version for _, r in recs])) or [])
    figures.validation_curves([rec("1.0", [0.3, 0.2]), rec("2.0", [0.1, 0.05]), rec("2.0", [0.12, 0.06])], tmp_path)
    assert sorted(drawn) == [("curves_synth-affect_v1_0", "synth-affect (v1.0): validation score while training", ["1.0"]),
                             ("curves_synth-affect_v2_0", "synth-affect (v2.0): validation score while training", ["2.0", "2.0"])]
    drawn.clear()
    per_epoch = rec("1.0", [], history=[{"epoch": 1, "val_mse": 0.3}])  # the earlier budget: no update axis
    figures.validation_curves([per_epoch, rec("2.0", [0.1, 0.05])], tmp_path)  # one version drawn: the name stays
    assert drawn == [("curves_synth-affect", "synth-affect (v2.0): validation score while training", ["2.0"])]


def test_validation_curves_of_a_score_are_drawn_on_a_linear_axis(tmp_path, monkeypatch):
    import benchmark.reporting.figures as figures

    def rec(higher, curve):
        return ("lstm", make_record({"selection": {"update": 50, "higher_is_better": higher},
                                     "history": [{"update": 50 * (i + 1), "val_x": v} for i, v in enumerate(curve)]}))

    scales = []
    monkeypatch.setattr(figures, "_save", lambda fig, out, name: scales.append(fig.axes[0].get_yscale()) or [])
    figures.training_curves([rec(True, [0.5, 0.7])], tmp_path, "f", "synth-summary: curves")  # an F-score
    figures.training_curves([rec(False, [0.5, 0.07])], tmp_path, "m", "synth-affect: curves")  # an error
    assert scales == ["linear", "log"]


def test_error_curves_within_a_decade_keep_several_labelled_ticks():
    from benchmark.reporting.figures import _log_errors, _plt

    def labels(low: float, high: float) -> list[str]:
        fig, ax = _plt().subplots()
        ax.plot([0, 1, 2], [low, (low + high) / 2, high])
        _log_errors(ax)
        fig.canvas.draw()
        shown = [t.get_text() for t in [*ax.get_yticklabels(), *ax.get_yticklabels(minor=True)]
                 if t.get_text() and low <= t.get_position()[1] <= high]
        _plt().close(fig)
        return shown

    assert len(labels(0.105, 0.21)) >= 3  # 1x-2x-5x ticks alone would label only 0.2 here
    wide = labels(0.01, 20.0)  # beyond a decade the plain 1x, 2x, 5x labels stay
    assert "0.1" in wide and "1" in wide and "10" in wide


def test_no_two_of_many_lines_are_drawn_alike():
    """The horizon figure has more models than there are colours or markers: the eleventh line must not
    be drawn as the first (it was: lru and svr looked the same)."""
    from benchmark.reporting.figures import line_style

    looks = [(s["color"], s["marker"]) for s in map(line_style, range(40))]
    assert len(set(looks)) == len(looks)
    assert line_style(0) != line_style(10)
