"""The temporal-order control as a table: each model's main score with the steps of every sequence shuffled
(or reversed, ``--set order=...``) against the same model in the original order, paired over the (seed,
fold) cells both ran. A model whose score does not drop is not using temporal context; a per-step model's
drop is 0 by construction, which makes it the control's own check."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

from benchmark.harness.record import Record
from benchmark.reporting import paired
from benchmark.reporting.comparison import format_delta, format_p_holm
from benchmark.reporting.leaderboard import compare_groups, completed_runs_by, task_setting

ORIGINAL = "original"


@dataclass
class OrderRow:
    task: str  # the task setting, less the order
    version: str
    model: str
    order: str
    metric: str
    higher_is_better: bool
    original: float  # mean over the paired cells
    reordered: float
    versus: paired.Paired  # reordered - original
    p_holm: float | None = None

    @property
    def drop(self) -> float:
        """How much worse the reordered run is, in the metric's own direction (positive: it got worse)."""
        return -self.versus.delta if self.higher_is_better else self.versus.delta


def order_rows(records: Iterable[Record], split: str = "test") -> list[OrderRow]:
    groups = completed_runs_by(records, lambda r: (*task_setting(r.task, ignore=("order",)), r.label,
                                                   r.task.overrides.get("order", ORIGINAL)))
    rows = []
    for (setting, version, label, order), recs in sorted(groups.items()):
        base_recs = groups.get((setting, version, label, ORIGINAL))
        if order == ORIGINAL or not base_recs:
            continue
        pair = compare_groups(recs, base_recs, split)
        if pair is None:
            continue
        main = recs[0].task.main_score
        rows.append(OrderRow(setting, version, label, order, main, bool(recs[0].task.higher_is_better[main]),
                             pair.base, pair.row, pair.versus))
    paired.assign_holm(rows)
    return rows


def render_order_md(rows: Sequence[OrderRow]) -> str:
    out = ["## Temporal-order control", ""]
    if not rows:
        return "\n".join(out + ["No runs with `--set order=shuffled` (or `reversed`) beside original-order runs yet. "
                                "Fill with, e.g.:", "",
                                "    rlbench sweep --task tvsum-clips --data-root DIR --model transformer,svr --tuned "
                                "--set order=shuffled --seeds 0..2", ""])
    out += ["| task | model | order | metric | original | reordered | Δ (reordered − original) [95 % CI] | p (Holm) |",
            "|---|---|---|---|---:|---:|---:|---:|"]
    for r in rows:
        out.append(f"| {r.task} (v{r.version}) | {r.model} | {r.order} | {r.metric} {'↑' if r.higher_is_better else '↓'} "
                   f"| {r.original:.4f} | {r.reordered:.4f} | {format_delta(r.versus)} | {format_p_holm(r.versus, r.p_holm)} |")
    out += ["", "Each row: one model with the steps of every sequence permuted (features and targets together, "
            "a permutation seeded by the sequence, for training and test alike; predictions scored in the original "
            "order), against the same model in the original order, paired over the (seed, fold) cells both ran: "
            f"the mean difference with its 95 % two-stage bootstrap interval and the exact sign-flip test, Holm-"
            f"corrected across the rows (under {paired.MIN_CELLS} cells the cells' range, and where the records "
            "hold them the test-set interval over resamples of the test sequences). A model that uses temporal "
            "context loses when its steps are shuffled; a per-step model scores the same by construction.", ""]
    return "\n".join(out)
