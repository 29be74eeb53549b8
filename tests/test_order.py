"""The temporal-order control: seeded per-sequence permutations, predictions scored in the original order,
per-step models and references untouched by it, and a model with temporal context hurt."""

import json

import numpy as np
import pytest
from conftest import TINY_AFFECT, TINY_SUMMARY
from typer.testing import CliRunner

from benchmark.cli import app
from benchmark.harness.execution import execute
from benchmark.harness.order import ReorderedTask, permutation
from benchmark.harness.plan import RunRequest
from helpers import record_files
from tasks.synthetic import SynthSummary, SynthSummaryOptions


def test_permutations_are_seeded_by_the_sequence_and_reversed_is_reversed():
    a = permutation("shuffled", "seq001", 50)
    assert sorted(a.tolist()) == list(range(50)) and a.tolist() != list(range(50))
    np.testing.assert_array_equal(a, permutation("shuffled", "seq001", 50))
    assert a.tolist() != permutation("shuffled", "seq002", 50).tolist()
    assert permutation("reversed", "x", 4).tolist() == [3, 2, 1, 0]
    assert permutation("original", "x", 3).tolist() == [0, 1, 2]
    with pytest.raises(ValueError, match="order must be one of"):
        permutation("sorted", "x", 3)


def test_predictions_are_scored_in_the_original_order():
    task = SynthSummary(SynthSummaryOptions(n_sequences=12, length=60, n_annotators=4))
    data = task.load()
    wrapped = ReorderedTask(task, "shuffled")
    moved = wrapped.reorder(data)
    test = [moved.episodes[i] for i in data.folds[0].test]
    originals = [data.episodes[i] for i in data.folds[0].test]
    eid, perm = test[0].id, wrapped.perms[test[0].id]
    np.testing.assert_array_equal(moved.episodes[eid].targets, data.episodes[eid].targets[perm])
    for m in data.episodes[eid].features:
        np.testing.assert_array_equal(moved.episodes[eid].features[m], data.episodes[eid].features[m][perm])
    # predictions made on the moved steps (here: their own targets) come back to each step's original place
    own = {ep.id: ep.targets for ep in test}
    np.testing.assert_array_equal(wrapped.restored(own)[eid], data.episodes[eid].targets)
    assert wrapped.evaluate(own, test) == task.evaluate({ep.id: ep.targets for ep in originals}, originals)
    # scored without restoring, the same predictions are wrong: the control is not a no-op
    assert task.evaluate(own, originals)["kendall"] < wrapped.evaluate(own, test)["kendall"]
    assert wrapped.evaluate_humans(test) == task.evaluate_humans(originals)


def run(tmp_path, order, models, overrides):
    execute(RunRequest(tasks=[overrides[0]], models=models, seeds=[0], results=tmp_path / order,
                       overrides=[*overrides[1], f"order={order}"]))
    return {d["model"]["name"]: d for _, d in record_files(tmp_path / order)}


def test_shuffling_leaves_per_step_models_and_references_alone_and_hurts_the_lstm(tmp_path):
    task = ("synth-affect", [*TINY_AFFECT, "n_sequences=40", "epochs=5"])
    original = run(tmp_path, "original", ["mlp", "lstm", "oracle", "mean"], task)
    shuffled = run(tmp_path, "shuffled", ["mlp", "lstm", "oracle", "mean"], task)
    for name in ("mlp", "oracle", "mean"):  # one step at a time: the order of the steps cannot matter
        assert shuffled[name]["main_score"] == pytest.approx(original[name]["main_score"], rel=1e-5), name
    assert shuffled["lstm"]["main_score"] > original["lstm"]["main_score"] + 0.005  # its context is gone
    assert shuffled["lstm"]["task"]["overrides"]["order"] == "shuffled"
    assert shuffled["lstm"]["config"]["task"]["order"] == "shuffled"
    assert "order" not in original["lstm"]["config"]["task"]  # old records keep their config hash
    assert shuffled["lstm"]["config_hash"] != original["lstm"]["config_hash"]


def test_reversed_summaries_score_the_references_as_before(tmp_path):
    task = ("synth-summary", TINY_SUMMARY)
    original = run(tmp_path, "original", ["oracle", "human", "random"], task)
    reversed_ = run(tmp_path, "reversed", ["oracle", "human", "random"], task)
    for name in ("oracle", "human"):
        assert reversed_[name]["scores"]["test"] == pytest.approx(original[name]["scores"]["test"]), name


def test_a_bad_order_is_one_clear_line_and_score_refuses_it(tmp_path):
    r = CliRunner().invoke(app, ["run", "--task", "synth-affect", "--model", "mean", "--set", "order=sorted",
                                 "--results", str(tmp_path)])
    assert r.exit_code == 2 and "--set order=sorted: expected one of original, shuffled, reversed" in r.output
    preds = tmp_path / "p.json"
    preds.write_text(json.dumps({"seq0000": [[0.0, 0.0]]}))
    r = CliRunner().invoke(app, ["score", "--task", "synth-affect", "--predictions", str(preds), "--set",
                                 "order=shuffled"])
    assert r.exit_code == 2 and "scored in the original order" in r.output, r.output


def order_record(model, seed, fold, mse, order=None):
    from helpers import make_record
    return make_record({"seed": seed, "task": {"fold": fold, "overrides": {"order": order} if order else {}},
                        "model": {"name": model}, "scores": {"test": {"mse": mse, "pearson": 0.5}}})


def test_the_order_table_pairs_each_model_with_itself_in_the_original_order():
    from benchmark.reporting.order_control import order_rows, render_order_md
    cells = [(s, f) for s in range(3) for f in range(2)]
    recs = [order_record("lstm", s, f, 0.10 + 0.01 * f) for s, f in cells]
    recs += [order_record("lstm", s, f, 0.15 + 0.01 * f + 0.001 * s, "shuffled") for s, f in cells]
    recs += [order_record("mlp", s, f, 0.2) for s, f in cells] + [order_record("mlp", s, f, 0.2, "shuffled")
                                                                   for s, f in cells]
    recs += [order_record("gru", 0, 0, 0.1, "shuffled")]  # no original-order run: nothing to pair with
    rows = {r.model: r for r in order_rows(recs)}
    assert set(rows) == {"lstm", "mlp"} and rows["lstm"].task == "synth-affect"
    lstm, mlp = rows["lstm"], rows["mlp"]
    assert lstm.versus.n == 6 and lstm.drop == pytest.approx(0.051) and lstm.versus.low > 0
    assert lstm.p_holm == pytest.approx(2 / 2 ** 6)  # the one tested row: Holm over one
    # mlp's seeds give the same scores, so each fold counts once: 2 cells, too few to test, a drop of 0
    assert mlp.drop == 0 and mlp.versus.n == 2 and mlp.p_holm is None
    text = render_order_md(order_rows(recs))
    assert "| synth-affect (v1.0) | lstm | shuffled | mse ↓ | 0.1050 | 0.1560 |" in text
