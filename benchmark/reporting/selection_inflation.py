"""How much the field's selection rule flatters a model, as a table: each row whose checkpoint was chosen on
the test split (``--set selection=leaky-test-max``, marked LEAKY) against the same model chosen on
validation, paired over the (seed, fold) cells both ran. Two partners where the records have them: the
same recipe selected on validation (the selection alone), and the model tuned and selected on validation
(the row rlbench ranks, so the difference is "as published" against rlbench)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

from benchmark.harness.record import LEAKY_SUFFIX, TUNED_SUFFIX, Record, model_label
from benchmark.reporting import paired
from benchmark.reporting.comparison import format_delta, format_p_holm
from benchmark.reporting.leaderboard import compare_groups, completed_runs_by, task_setting

SELECTION = "selection"


@dataclass
class InflationRow:
    task: str
    version: str
    model: str  # the leaky row's label
    against: str  # the validation-selected row's label
    metric: str
    higher_is_better: bool
    honest: float  # the validation-selected row, mean over the paired cells
    leaky: float
    versus: paired.Paired  # leaky - honest
    p_holm: float | None = None

    @property
    def inflation(self) -> float:
        """How much better the leaky row looks, in the metric's own direction (positive: flattered)."""
        return self.versus.delta if self.higher_is_better else -self.versus.delta


def _partners(rec: Record) -> list[str]:
    """The validation-selected rows a leaky record is compared with: its own recipe, then the tuned row."""
    overrides = {k: v for k, v in rec.model.overrides.items() if k != SELECTION}
    same = model_label(rec.model.name, overrides) + (TUNED_SUFFIX if rec.model.tuned else "")
    tuned = model_label(rec.model.name, overrides) + TUNED_SUFFIX
    return [same] if same == tuned else [same, tuned]


def inflation_rows(records: Iterable[Record], split: str = "test") -> list[InflationRow]:
    groups = completed_runs_by(records, lambda r: (*task_setting(r.task), r.label))
    rows = []
    for (setting, version, label), recs in sorted(groups.items()):
        if recs[0].selection is None or not recs[0].selection.leaky:
            continue
        for partner in _partners(recs[0]):
            honest = [r for r in groups.get((setting, version, partner), [])
                      if r.selection is not None and not r.selection.leaky]
            pair = compare_groups(recs, honest, split) if honest else None
            if pair is None:
                continue
            main = recs[0].task.main_score
            rows.append(InflationRow(setting, version, label, partner, main, bool(recs[0].task.higher_is_better[main]),
                                     pair.base, pair.row, pair.versus))
    paired.assign_holm(rows)
    return rows


def render_inflation_md(rows: Sequence[InflationRow]) -> str:
    out = ["## Selection on the test split (LEAKY) against validation", ""]
    if not rows:
        return "\n".join(out + ["No runs with `--set selection=leaky-test-max` beside validation-selected runs of the "
                                "same model yet. Fill with, e.g.:", "",
                                "    rlbench sweep --task tvsum-clips --data-root DIR --model vasnet "
                                "--set selection=leaky-test-max --seeds 0..2", ""])
    out += ["| task | LEAKY row | against (validation) | metric | validation | LEAKY | Δ (LEAKY − validation) [95 % CI] "
            "| p (Holm) |", "|---|---|---|---|---:|---:|---:|---:|"]
    for r in rows:
        out.append(f"| {r.task} (v{r.version}) | {r.model.removesuffix(LEAKY_SUFFIX)} | {r.against} | {r.metric} "
                   f"{'↑' if r.higher_is_better else '↓'} | {r.honest:.4f} | {r.leaky:.4f} | {format_delta(r.versus)} "
                   f"| {format_p_holm(r.versus, r.p_holm)} |")
    out += ["", "Each row: a model whose checkpoint was chosen on the test split (the selection of most published "
            "summarization code; LEAKY) against the same model chosen on validation, on the (seed, fold) cells both "
            "ran: with its own recipe (what the selection alone adds) and, where there is one, tuned (rlbench's row: "
            "what the published protocol adds over it). The mean difference with its 95 % two-stage bootstrap "
            "interval and the exact sign-flip test, Holm-corrected across the rows (under "
            f"{paired.MIN_CELLS} cells the cells' range, and the test-set interval over resamples of the test "
            "sequences where the records hold them). A positive Δ on a higher-is-better score is how much the "
            "test-split selection flatters the model.", ""]
    return "\n".join(out)
