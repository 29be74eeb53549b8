"""The temporal-order control as a table: each model's main score with the steps of every sequence shuffled
(or reversed, ``--set order=...``) against the same model in the original order, paired over the (seed,
fold) cells both ran. A model whose score does not drop is not using temporal context; a per-step model's
drop is 0 by construction, which makes it the control's own check."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Iterable, Sequence

from benchmark.harness.record import Record
from benchmark.reporting import paired
from benchmark.reporting.formatting import format_p, signed
from benchmark.reporting.leaderboard import latest_per_cell, task_setting, test_resamples

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
    groups: dict[tuple, list[Record]] = defaultdict(list)
    for rec in latest_per_cell(r for r in records if r.is_run and r.completed):
        setting, version = task_setting(rec.task, ignore=("order",))
        groups[(setting, version, rec.label, rec.task.overrides.get("order", ORIGINAL))].append(rec)
    rows = []
    for (setting, version, label, order), recs in sorted(groups.items()):
        base_recs = groups.get((setting, version, label, ORIGINAL))
        if order == ORIGINAL or not base_recs:
            continue
        main, hib = recs[0].task.main_score, bool(recs[0].task.higher_is_better[recs[0].task.main_score])
        moved, base = ({(r.seed, r.task.fold): r.scores[split][main] for r in rs} for rs in (recs, base_recs))
        common = sorted(set(moved) & set(base))
        if not common:
            continue
        on_test = split == "test"
        versus = paired.compare(moved, base, row_resamples=test_resamples(recs, main) if on_test else None,
                                against_resamples=test_resamples(base_recs, main) if on_test else None)
        rows.append(OrderRow(setting, version, label, order, main, hib,
                             sum(base[c] for c in common) / len(common), sum(moved[c] for c in common) / len(common),
                             versus))
    for r, p in zip(rows, paired.holm([r.versus.p for r in rows])):
        r.p_holm = p
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
        v = r.versus
        if v.low is not None:
            delta = f"{signed(v.delta)} [{signed(v.low)}, {signed(v.high)}]"
        else:
            delta = f"{signed(v.delta)} (cells {signed(v.smallest)} to {signed(v.largest)})"
            if v.test_low is not None:
                delta += f" test-set [{signed(v.test_low)}, {signed(v.test_high)}]"
        p = f"too few ({v.n})" if r.p_holm is None else format_p(r.p_holm)
        out.append(f"| {r.task} (v{r.version}) | {r.model} | {r.order} | {r.metric} {'↑' if r.higher_is_better else '↓'} "
                   f"| {r.original:.4f} | {r.reordered:.4f} | {delta} | {p} |")
    out += ["", "Each row: one model with the steps of every sequence permuted (features and targets together, "
            "a permutation seeded by the sequence, for training and test alike; predictions scored in the original "
            "order), against the same model in the original order, paired over the (seed, fold) cells both ran: "
            f"the mean difference with its 95 % two-stage bootstrap interval and the exact sign-flip test, Holm-"
            f"corrected across the rows (under {paired.MIN_CELLS} cells the cells' range, and where the records "
            "hold them the test-set interval over resamples of the test sequences). A model that uses temporal "
            "context loses when its steps are shuffled; a per-step model scores the same by construction.", ""]
    return "\n".join(out)
