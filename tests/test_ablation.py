"""rlbench ablate: variants run as a sweep, a report with deltas against the reference variant."""

import pytest
from conftest import TINY_AFFECT
from helpers import has_row
from typer.testing import CliRunner

from benchmark.cli import app

FAST_RL = ["warmup=10", "rl_batch_size=8", "epochs=2"]


def sets(items):
    return [a for s in items for a in ("--set", s)]


@pytest.mark.parametrize("kind, args, rows", [
    ("memory-size", ["--values", "1,10"], ["rlmem N=1", "rlmem N=10"]),
    ("update-rule", ["--values", "rlmem,lstm-tbptt"], ["rlmem", "lstm-tbptt"]),
    ("modality", ["--model", "mlp", "--values", "audio,face"], ["mlp all", "mlp audio only", "mlp face only"]),
    ("rl-design", ["--values", "retain,then RL"],
     ["rlmem (paper: DDPG, V(s'), retain scales)", "retain gates the write", "probe: BPTT for 2/3 of the updates, then RL"]),
])
@pytest.mark.slow
def test_ablations_write_reports(tmp_path, kind, args, rows):
    extra = FAST_RL if kind != "modality" else ["epochs=2"]
    if kind == "update-rule":
        extra = ["model.warmup=10", "model.rl_batch_size=8", "epochs=2"]
    if kind == "rl-design":  # a budget of 3 epochs: the probe warms up for 2
        extra = ["model.warmup=10", "model.rl_batch_size=8", "epochs=3"]
    r = CliRunner().invoke(app, ["ablate", kind, "--task", "synth-affect", "--results", str(tmp_path / "res"),
                                 "--workers", "1", *args, *sets([*TINY_AFFECT[:3], *extra])])
    assert r.exit_code == 0, r.output
    prefix = f"synth-affect-{kind}" + ("-mlp" if kind == "modality" else "")  # --model names the report
    (report,) = (tmp_path / "res" / "ablations").glob(f"{prefix}__*.md")  # then its overrides and values
    name = report.stem
    md = report.read_text()
    assert "Settings: `--set n_sequences=24 --set length=60 --set lag=8" in md
    for row in rows:
        assert has_row(md, row), row
    assert "Change of mse against" in md and "+0.0000" in md  # the reference against itself
    assert ("| val mse, last evaluation |" in md) == (kind == "rl-design")  # how each variant trained
    assert (tmp_path / "res" / "ablations" / f"{name}.csv").read_text().startswith("task,")
    assert r"\begin{tabular}" in (tmp_path / "res" / "ablations" / f"{name}.tex").read_text()
    curves = tmp_path / "res" / "ablations" / f"{name}-curves.png"
    assert curves.is_file() and (tmp_path / "res" / "ablations" / f"{name}-curves.pdf").is_file()
    from matplotlib.image import imread

    assert imread(curves).std() > 0.05  # one line per trained variant: not a blank canvas


def test_unknown_ablation(tmp_path):
    r = CliRunner().invoke(app, ["ablate", "depth", "--task", "synth-affect", "--results", str(tmp_path)])
    assert r.exit_code == 2 and "unknown ablation 'depth'" in r.output


def test_report_names_keep_different_ablations_apart():
    from benchmark.harness.plan import RunRequest
    from benchmark.studies.ablation import Ablation

    def name(values=(), **kw):
        return Ablation("memory-size", RunRequest(["synth-affect"], ["-"], **kw), None, tuple(values)).name

    assert name() == "synth-affect-memory-size"
    names = {name(overrides=["lag=10"]), name(overrides=["lag=50"]), name(overrides=["lag=10"], seeds=[0, 1]),
             name(folds=[1])}
    assert len(names) == 4 and "synth-affect-memory-size__lag=10,seeds=0+1" in names
    long = name(overrides=[f"option{i}=value{i}" for i in range(12)])
    assert len(long) < 60  # very long settings are named by their hash


def test_rl_design_summary_shows_the_last_evaluation_beside_the_selected_one():
    from helpers import make_record

    from benchmark.reporting.ablation_report import learning_summary

    def rec(label, curve, cos=None, runs=300, warm=0):
        history = [{"update": 50 * (i + 1), "val_mse": v, **({"critic_cos": cos, "critic_cos_top": cos, "critic_cos_later": cos} if cos else {})}
                   for i, v in enumerate(curve)]
        ceiling = {"ceiling_cos": cos / 10, "ceiling_cos_top": cos / 5} if cos else {}
        return make_record({"model": {"name": label}, "history": history, "selection": {"updates_run": runs},
                            "diagnostics": {"bptt_warmup_updates": warm, **ceiling}})

    # the probes hand over after 100 updates: their second evaluation is what RL was handed
    md = learning_summary([rec("probe", [0.05, 0.03, 0.09], cos=0.5, warm=100),
                           rec("probe", [0.07, 0.05, 0.11], cos=0.3, warm=120),
                           rec("memnet-bptt", [0.2, 0.1], runs=100)], "mse", higher_is_better=False)
    assert has_row(md, "probe", " 2 | 0.0400 | 0.0400 | 0.1000 | 300 | 0.4000 / 0.4000 / 0.4000 | 0.0400 / 0.0800 |")  # best, handed, last
    assert has_row(md, "memnet-bptt", " 1 | 0.1000 | – | 0.1000 | 100 | – | – |")
    higher = learning_summary([rec("a", [0.2, 0.6, 0.4])], "mse", higher_is_better=True)
    assert has_row(higher, "a", " 1 | 0.6000 | – | 0.4000 |")


def test_tuned_ablation_starts_every_variant_from_the_preset_and_keeps_its_own_setting(tmp_path):
    import json

    from helpers import record_files

    res = tmp_path / "res"
    preset = {"task": "synth-affect", "model": "mlp", "task_overrides": {}, "n_trials": 4, "seeds": [0], "folds": [0],
              "method": "random search, scikit-learn ParameterSampler",
              "best": {"params": {"hidden": 8, "lr": 0.003}, "val_score": 0.1}}
    (res / "synth-affect" / "tuned").mkdir(parents=True)
    (res / "synth-affect" / "tuned" / "mlp.json").write_text(json.dumps(preset))
    args = ["ablate", "modality", "--task", "synth-affect", "--model", "mlp", "--values", "audio", "--results", str(res),
            "--workers", "1", *sets([*TINY_AFFECT[:3], "epochs=2"])]
    r = CliRunner().invoke(app, [*args, "--tuned"])
    assert r.exit_code == 0, r.output
    assert "[2/2]" in r.output  # the variants run as one sweep: one plan, one count
    records = [rec for _, rec in record_files(res)]
    assert {rec["config"]["model"]["options"]["modalities"] for rec in records} == {"all", "audio"}
    for rec in records:  # the preset under every variant, the variant's own option over it
        assert rec["config"]["model"]["options"]["hidden"] == 8 and rec["model"]["tuned"]["params"]["hidden"] == 8
    (report,) = (res / "ablations").glob("synth-affect-modality-mlp__*tuned*.md")
    text = report.read_text()
    assert "--tuned" in text
    # the reference found under the name the table gives a tuned row, and the rows in the variants' order
    assert "Change of mse against `mlp all (tuned)`" in text and "- mlp audio only (tuned): " in text
    assert text.index("| mlp all (tuned)") < text.index("| mlp audio only (tuned)")
    (res / "synth-affect" / "tuned" / "mlp.json").unlink()  # no preset: refused with the command that makes one
    r = CliRunner().invoke(app, [*args, "--tuned"])
    assert r.exit_code != 0 and "no preset for 'mlp'" in r.output


@pytest.mark.slow
def test_a_report_is_drawn_again_from_its_manifest_and_from_records_alone(tmp_path):
    """The manifest beside a report names its variants and records: `rlbench paper` draws the report again
    from them, byte for byte; `--from-records` makes the same report without training anything, whatever the
    config hash of the records (here: records moved to another hash folder, as a new model option does)."""
    import json
    import shutil

    res = tmp_path / "res"
    args = ["ablate", "memory-size", "--task", "synth-affect", "--model", "memnet-bptt", "--values", "8,16",
            "--results", str(res), "--workers", "1", *sets([*TINY_AFFECT[:3], "epochs=2"])]
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0, r.output
    folder = res / "ablations"
    (manifest,) = folder.glob("*.json")
    content = json.loads(manifest.read_text())
    assert [v["label"] for v in content["variants"]] == ["memnet-bptt N=8", "memnet-bptt N=16"]
    assert all(len(v["records"]) == 1 and (res / v["records"][0]).is_file() for v in content["variants"])
    drawn = {p.name: p.read_bytes() for p in folder.iterdir()}
    for p in folder.iterdir():
        if p.suffix != ".json":
            p.unlink()
    assert CliRunner().invoke(app, ["paper", "--results", str(res)]).exit_code == 0
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == drawn
    # the records under another config hash (an option added since): --from-records finds them, trains nothing
    for v in content["variants"]:
        record = res / v["records"][0]
        moved = record.parents[2] / "0123456789ab" / record.parent.name / record.name
        moved.parent.mkdir(parents=True)
        shutil.move(record, moved)
    shutil.rmtree(folder)
    r = CliRunner().invoke(app, [*args, "--from-records"])
    assert r.exit_code == 0, r.output
    assert "completed" not in r.output  # nothing ran
    assert {p.name: p.read_bytes() for p in folder.iterdir() if p.suffix != ".json"} == \
        {k: v for k, v in drawn.items() if not k.endswith(".json")}
    shutil.rmtree(res / "synth-affect")
    r = CliRunner().invoke(app, [*args, "--from-records"])
    assert r.exit_code == 2 and "--from-records: no finished record for 2 cell(s)" in r.output
