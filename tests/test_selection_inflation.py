"""The LEAKY-against-validation table: each test-selected row paired with the same model selected on
validation (its own recipe, and tuned), over the cells both ran."""

import pytest

from helpers import make_record


def record(seed, fold, tau, leaky=False, tuned=False, model="vasnet"):
    return make_record({
        "seed": seed, "task": {"name": "tvsum-clips", "fold": fold, "main_score": "kendall",
                               "higher_is_better": {"kendall": True}},
        "model": {"name": model, "overrides": {"selection": "leaky-test-max"} if leaky else {},
                  "tuned": {"preset": "p.json"} if tuned else None},
        "selection": {"leaky": leaky},
        "scores": {"test": {"kendall": tau}}})


def test_each_leaky_row_is_paired_with_its_own_recipe_and_with_the_tuned_row():
    from benchmark.reporting.selection_inflation import inflation_rows, render_inflation_md
    cells = [(s, f) for s in range(2) for f in range(3)]
    recs = [record(s, f, 0.15 + 0.01 * f + 0.002 * s, leaky=True) for s, f in cells]
    recs += [record(s, f, 0.12 + 0.01 * f) for s, f in cells]  # the same recipe, chosen on validation
    recs += [record(s, f, 0.16 + 0.01 * f, tuned=True) for s, f in cells[:4]]  # tuned, on fewer cells
    recs += [record(0, 0, 0.3, leaky=True, model="dsnet-af")]  # no validation-selected partner: no row
    rows = {r.against: r for r in inflation_rows(recs)}
    assert set(rows) == {"vasnet", "vasnet (tuned)"}
    alone, published = rows["vasnet"], rows["vasnet (tuned)"]
    assert alone.versus.n == 6 and alone.inflation == pytest.approx(0.031) and alone.versus.low > 0
    assert alone.honest == pytest.approx(0.13) and alone.leaky == pytest.approx(0.161)
    assert published.versus.n == 4 and published.inflation == pytest.approx(-0.0095) and published.p_holm is None
    assert alone.p_holm == pytest.approx(2 / 2 ** 6)  # the only testable row
    text = render_inflation_md(inflation_rows(recs))
    assert "| vasnet [selection=leaky-test-max] | vasnet | kendall ↑ | 0.1300 | 0.1610 | +0.0310 [" in text
    assert "too few (4)" in text


def test_no_leaky_runs_says_how_to_make_them():
    from benchmark.reporting.selection_inflation import inflation_rows, render_inflation_md
    text = render_inflation_md(inflation_rows([record(0, 0, 0.1)]))
    assert "No runs with `--set selection=leaky-test-max`" in text and "rlbench sweep" in text
