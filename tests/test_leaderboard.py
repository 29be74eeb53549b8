"""Golden leaderboard files from fixture records (set RLBENCH_UPDATE_GOLDEN=1 to rewrite them)."""

import dataclasses
import os
from pathlib import Path

import pytest

from helpers import make_record

from benchmark.reporting.leaderboard import RENDERERS, build_boards

GOLDEN = Path(__file__).parent / "golden"


def record(model, seed, fold, mse, pearson, reference=False, status="completed", overrides=None, task_overrides=None,
           convergence="converged", dirty=False, tuned=None, purpose="run", n_folds=2,
           started_at="2026-01-01T00:00:00+00:00"):
    return make_record({
        "purpose": purpose,
        "selection": {"convergence": None if reference else convergence},
        "provenance": {"git_dirty": dirty, "started_at": started_at},
        "schema_version": 1,
        "status": status,
        "error": None if status == "completed" else {"type": "RuntimeError", "message": "boom", "traceback": ""},
        "seed": seed,
        "task": {
            "name": "synth-affect", "version": "1.0", "fold": fold, "main_score": "mse",
            "leaderboard_metrics": ["mse", "pearson"], "higher_is_better": {"mse": False, "pearson": True},
            "overrides": task_overrides or {}, "n_folds": n_folds,
        },
        "model": {"name": model, "reference": reference, "overrides": overrides or {}, "n_parameters": 10,
                  "tuned": tuned},
        "scores": None if status != "completed" else {
            "test": {"mse": mse, "pearson": pearson}, "val": {"mse": mse + 0.01, "pearson": pearson - 0.01}},
    })


TUNED = {"n_trials": 8, "seeds": [0], "folds": [0], "task_overrides": {},
         "method": "random search, scikit-learn ParameterSampler", "params": {"lr": 0.002}}


def fixture_records():
    recs = []
    # lstm: 3 seeds x 2 folds; per-seed means 0.10, 0.12, 0.14 -> 0.12 ± 0.02
    for seed, (a, b) in enumerate([(0.09, 0.11), (0.12, 0.12), (0.13, 0.15)]):
        recs += [record("lstm", seed, 0, a, 0.5 + seed / 10), record("lstm", seed, 1, b, 0.5 + seed / 10)]
    recs += [record("mlp", s, f, 0.2 + s / 100, 0.3) for s in range(2) for f in range(2)]
    recs += [record("oracle", 0, f, 0.0025, 0.99, reference=True) for f in range(2)]
    # one fold still improving when its budget ran out, the other made from uncommitted code
    recs += [record("lstm", 0, 0, 0.05, 0.7, overrides={"hidden": 128}, convergence="still-improving"),
             record("lstm", 0, 1, 0.05, 0.7, overrides={"hidden": 128}, dirty=True)]
    recs += [record("transformer", s, 0, 0.08, 0.6, tuned=TUNED) for s in range(2)]
    recs.append(record("transformer", 0, 0, 0.01, 0.9, purpose="tuning"))  # a trial: never in a table
    recs.append(record("mlp", 2, 0, None, None, status="failed"))
    recs += [record("lstm", 0, f, 0.3, 0.1, task_overrides={"lag": 500}) for f in range(2)]
    return recs


def assert_golden(text: str, name: str) -> None:
    path = GOLDEN / name
    if os.environ.get("RLBENCH_UPDATE_GOLDEN"):
        path.write_text(text)
    assert text == path.read_text()


@pytest.mark.parametrize("fmt, suffix", [("md", "md"), ("csv", "csv"), ("latex", "tex")])
def test_golden_tables(fmt, suffix):
    assert_golden(RENDERERS[fmt](build_boards(fixture_records())), f"leaderboard.{suffix}")


def test_aggregation_is_mean_over_folds_then_mean_std_over_seeds():
    (board, _) = build_boards(fixture_records())
    row = {r.model: r for r in board.rows}
    mean, std = row["lstm"].stats["mse"]
    assert mean == pytest.approx(0.12) and std == pytest.approx(0.02)
    assert row["lstm"].n_seeds == 3 and row["lstm"].n_folds == 2
    assert row["oracle"].stats["mse"][1] is None  # one seed: no std
    assert [r.model for r in board.rows][0] == "oracle"  # best main score first (lower mse)
    assert board.failed == ["mlp seed 2 fold 0: boom"]


def test_task_filter_and_split():
    boards = build_boards(fixture_records(), split="val", tasks=["nope"])
    assert boards == []
    (board, _) = build_boards(fixture_records(), split="val")
    assert {r.model: r for r in board.rows}["oracle"].stats["mse"][0] == pytest.approx(0.0125)


def test_a_cell_run_again_is_counted_once_newest_first():
    old = record("mlp", 0, 0, 0.5, 0.1, started_at="2026-01-01T00:00:00+00:00")
    new = record("mlp", 0, 0, 0.2, 0.3, started_at="2026-02-01T00:00:00+00:00")
    for order in ([old, new], [new, old]):
        (board,) = build_boards(order)
        (row,) = board.rows
        assert row.n_seeds == 1 and row.n_folds == 1 and row.stats["mse"][0] == pytest.approx(0.2)


def test_marks_count_still_improving_and_uncommitted_cells_and_converged_only_leaves_them_out():
    (board, _) = build_boards(fixture_records())
    row = {r.model: r for r in board.rows}["lstm [hidden=128]"]
    assert (row.n_cells, row.still_improving, row.dirty, row.marks) == (2, 1, 1, " ↗ ‡")
    assert "transformer (tuned)" in {r.model for r in board.rows}
    assert any(n.startswith("tuned: 8 random-search trials per model on validation") for n in board.notes())
    assert not any("reused here" in n for n in board.notes())  # tuned at the setting it is shown at
    (strict, _) = build_boards(fixture_records(), converged_only=True)
    row = {r.model: r for r in strict.rows}["lstm [hidden=128]"]
    assert (row.n_cells, row.still_improving, strict.left_out) == (1, 0, 1)
    assert row.stats["mse"][0] == pytest.approx(0.05)


def test_tuning_trials_never_reach_a_table():
    (board, _) = build_boards(fixture_records())
    assert {r.model: r for r in board.rows}["transformer (tuned)"].n_cells == 2  # the trial is not counted
    assert build_boards([record("lstm", 0, 0, 0.1, 0.5, purpose="tuning")]) == []


def test_presets_tuned_at_another_setting_are_captioned_as_reused():
    recs = [record("transformer", s, 0, 0.08, 0.6, tuned=TUNED, task_overrides={"lag": 10}) for s in range(2)]
    (board,) = build_boards(recs)
    (note,) = [n for n in board.notes() if n.startswith("tuned:")]
    assert "at the task defaults, reused here (not tuned at this setting)" in note
    at_lag_10 = {**TUNED, "task_overrides": {"lag": 10}}
    (board,) = build_boards([record("transformer", 0, 0, 0.08, 0.6, tuned=at_lag_10, task_overrides={"lag": 10})])
    (note,) = [n for n in board.notes() if n.startswith("tuned:")]
    assert "on validation at lag=10 (seeds 0" in note and "reused" not in note


def test_a_row_with_fewer_folds_than_the_task_is_marked_partial_and_named_with_its_folds():
    recs = [record("lstm", 0, f, 0.1, 0.5, n_folds=5) for f in range(5)]
    recs += [record("mlp", s, f, 0.2, 0.3, n_folds=5) for s in range(2) for f in (0, 3)]
    recs += [record("mlp", 2, f, 0.2, 0.3, n_folds=5) for f in range(5)]  # one full seed does not make it whole
    (board,) = build_boards(recs)
    rows = {r.model: r for r in board.rows}
    assert board.n_folds == 5
    assert not rows["lstm"].partial and rows["lstm"].marks == ""
    assert rows["mlp"].partial and rows["mlp"].folds == (0, 1, 2, 3, 4) and rows["mlp"].marks == " ◐"
    (note,) = [n for n in board.notes() if n.startswith("◐")]
    assert "task's 5" in note and "mlp (folds 0, 1, 2, 3, 4)" in note and "lstm" not in note
    # the same mlp cells with the third seed's extra folds gone: the folds named are the ones covered
    (board,) = build_boards([r for r in recs if not (r.model.name == "mlp" and r.seed == 2)])
    assert any(n.startswith("◐") and "mlp (folds 0, 3)" in n for n in board.notes())


def paired_fixture():
    """Three trained models over 3 seeds x 2 folds (6 paired cells) and a reference row: lstm beats mlp in
    every cell, gru equals lstm up to noise."""
    recs = []
    for seed in range(3):
        for fold in range(2):
            base = 0.10 + 0.01 * seed + 0.02 * fold
            noise = 0.0002 + 0.001 * (-1) ** (seed + fold)
            recs += [record("lstm", seed, fold, base, 0.5), record("mlp", seed, fold, base + 0.03, 0.4),
                     record("gru", seed, fold, base + noise, 0.5)]
    recs += [record("oracle", s, f, 0.0025, 0.99, reference=True) for s in range(3) for f in range(2)]
    return recs


@pytest.mark.parametrize("fmt, suffix", [("md", "md"), ("csv", "csv"), ("latex", "tex")])
def test_golden_paired_columns(fmt, suffix):
    assert_golden(RENDERERS[fmt](build_boards(paired_fixture())), f"leaderboard_paired.{suffix}")


def test_paired_columns_find_the_clear_loss_and_not_the_noise():
    (board,) = build_boards(paired_fixture())
    rows = {r.model: r for r in board.rows}
    assert board.against == "lstm"  # the best trained row; the reference oracle is better but not a competitor
    assert rows["lstm"].versus is None and rows["lstm"].rank[0] == 1
    mlp, gru = rows["mlp"], rows["gru"]
    assert mlp.versus.n == 6 and mlp.versus.delta == pytest.approx(0.03) and mlp.versus.low > 0
    assert mlp.p_holm == pytest.approx(3 * 2 / 2 ** 6)  # the exact floor, tripled by Holm (oracle, gru, mlp)
    assert gru.p_holm > 0.5 and gru.versus.low < 0 < gru.versus.high
    assert mlp.rank == (3, 3, 3) and gru.rank[1:] == (1, 2)
    (against_mlp,) = build_boards(paired_fixture(), against="mlp")
    assert against_mlp.against == "mlp" and {r.model: r for r in against_mlp.rows}["lstm"].versus.delta < 0
    (missing,) = build_boards(paired_fixture(), against="svr")
    assert missing.against == "lstm" and "--against svr: no such row here" in missing.notes()[-1]


def fixture_test_set():
    """One seed x 2 folds, too few cells to test: mlp is worse than lstm on every resample of the test
    sequences; gru's records were drawn from another split, so they share no draws with lstm."""
    import numpy as np
    rng = np.random.default_rng(0)
    recs = []
    for fold in range(2):
        shared = 0.1 + 0.02 * fold + rng.normal(0, 0.01, 200)  # which sequences were drawn moves both rows

        def with_resamples(rec, scores, seed):
            return dataclasses.replace(rec, test_resamples={"metric": "mse", "n": 200, "seed": seed,
                                                            "sequences": 20, "scores": scores.tolist()})
        recs += [with_resamples(record("lstm", 0, fold, 0.1 + 0.02 * fold, 0.5), shared, 100 + fold),
                 with_resamples(record("mlp", 0, fold, 0.13 + 0.02 * fold, 0.4),
                                shared + 0.03 + rng.normal(0, 0.002, 200), 100 + fold),
                 with_resamples(record("gru", 0, fold, 0.105 + 0.02 * fold, 0.45), shared, 900 + fold)]
    return recs


@pytest.mark.parametrize("fmt, suffix", [("md", "md"), ("csv", "csv")])
def test_golden_test_set_interval(fmt, suffix):
    assert_golden(RENDERERS[fmt](build_boards(fixture_test_set())), f"leaderboard_test_set.{suffix}")


def test_too_few_cells_show_the_test_set_interval_apart_and_only_on_shared_draws():
    (board,) = build_boards(fixture_test_set())
    rows = {r.model: r for r in board.rows}
    mlp, gru = rows["mlp"].versus, rows["gru"].versus
    assert mlp.p is None and mlp.test_cells == 2 and 0.025 < mlp.test_low < 0.03 < mlp.test_high < 0.035
    assert gru.test_cells == 0 and gru.test_low is None
    text = RENDERERS["md"]([board])
    assert "test-set [+0.0" in text and text.count("test-set [+") == 1
    assert "200 resamples of the test sequences" in board.notes()[-1]
    assert "test-set [a, b]" not in " ".join(build_boards(paired_fixture())[0].notes())  # nothing to say there


def summary_record(model, seed, fold, f, reference=False):
    return make_record({
        "seed": seed, "selection": {"convergence": None if reference else "converged"},
        "task": {"name": "synth-summary", "fold": fold, "main_score": "fscore", "leaderboard_metrics": ["fscore"],
                 "higher_is_better": {"fscore": True}, "n_folds": 2},
        "model": {"name": model, "reference": reference},
        "scores": {"test": {"fscore": f}, "val": {"fscore": f}}})


def test_fscore_over_random_divides_each_cell_by_random_on_the_same_split():
    recs = [summary_record("random", s, f, 0.4 + 0.1 * f + 0.02 * s, reference=True) for s in (0, 1) for f in (0, 1)]
    recs += [summary_record("lstm", s, f, 0.6, ) for s in (0, 1) for f in (0, 1)]
    recs += [summary_record("ridge", 7, f, 0.5) for f in (0, 1)]  # a seed random lacks: its fold means
    (board,) = build_boards(recs)
    rows = {r.model: r for r in board.rows}
    assert board.metrics == ["fscore", "fscore/random"] and board.higher_is_better["fscore/random"]
    seed0 = (0.6 / 0.4 + 0.6 / 0.5) / 2
    seed1 = (0.6 / 0.42 + 0.6 / 0.52) / 2
    assert rows["lstm"].stats["fscore/random"][0] == pytest.approx((seed0 + seed1) / 2)
    assert rows["ridge"].stats["fscore/random"][0] == pytest.approx((0.5 / 0.41 + 0.5 / 0.51) / 2)
    assert rows["random"].stats["fscore/random"] == pytest.approx((1.0, 0.0))
    assert "Performance over Random" in " ".join(board.notes())
    # without a random row covering every fold there is nothing to divide by, and no column
    (without,) = build_boards([r for r in recs if not (r.model.name == "random" and r.task.fold == 1)])
    assert without.metrics == ["fscore"]
