"""Leaderboards as pure functions of result records: mean ± std over seeds, per task configuration.

Per seed, a metric is first averaged over the folds that seed completed; the table then shows the mean
and the sample standard deviation of those per-seed values, with n = the number of seeds. A row says
what would weaken it: cells still improving when training ended (↗), cells made from uncommitted code
(‡), fewer folds than the task has (◐: its mean is over other test items than a full row's), and how its
model was tuned. Tuning trials are never part of a table.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np

from benchmark.harness.record import Record, TaskInfo, model_label
from benchmark.reporting import over_random, paired
from benchmark.reporting.comparison import (COMPARISON_FIELDS, compare_rows, comparison_cells, comparison_fields,
                                            comparison_head, comparison_note, model_name)
from benchmark.reporting.formatting import format_stat, latex_escape


@dataclass
class Row:
    model: str
    reference: bool
    n_seeds: int
    n_folds: float  # folds per seed, averaged (a full run has the task's n_folds)
    stats: dict[str, tuple[float, float | None]]  # metric -> (mean, std or None when n == 1)
    n_parameters: int | None = None
    n_cells: int = 0
    still_improving: int = 0  # cells whose training ended before it converged (selection.convergence)
    dirty: int = 0  # cells made from uncommitted code (provenance.git_dirty)
    folds: tuple[int, ...] = ()  # the folds some seed of the row covers
    partial: bool = False  # some seed covers fewer folds than the task has
    cells: dict[tuple[int, int], float] = field(default_factory=dict)  # (seed, fold) -> main score
    resamples: dict[tuple[int, int], paired.Resamples] = field(default_factory=dict)  # (seed, fold) -> test-set
    versus: paired.Paired | None = None  # against the board's comparison row (None: it is that row)
    p_holm: float | None = None
    rank: tuple[int, int | None, int | None] | None = None  # its place among the trained rows, its 95 % interval

    @property
    def marks(self) -> str:
        return "".join(f" {mark}" for mark, on in ((STILL_IMPROVING_MARK, self.still_improving),
                                                   (DIRTY_MARK, self.dirty), (PARTIAL_MARK, self.partial)) if on)


@dataclass
class Board:
    task: str
    version: str
    split: str
    metrics: list[str]
    higher_is_better: dict[str, bool]
    rows: list[Row] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    tuning: list[str] = field(default_factory=list)  # how the tuned rows were tuned
    left_out: int = 0  # still-improving cells left out (--converged-only)
    n_folds: int = 1  # the task's folds
    against: str | None = None  # the row the others are compared with, paired over their cells
    against_missing: str | None = None  # an --against that names no row of this board
    rank_cells: int = 0  # the cells over which ranks are resampled: those of rank_anchor
    rank_anchor: str | None = None
    over_random: bool = False  # the fscore/random column (``over_random``) is shown

    @property
    def title(self) -> str:
        return f"{self.task} (v{self.version}, {self.split})"

    def notes(self) -> list[str]:
        """The caption lines under a table: what weakens which row, how tuned rows were tuned."""
        out = []
        unfinished = [f"{r.model} ({r.still_improving} of {r.n_cells})" for r in self.rows if r.still_improving]
        if unfinished:
            out.append(f"{STILL_IMPROVING_MARK} still improving when training ended (best checkpoint in the last "
                       f"20 % of the updates, or stopped by the update cap), cells: {', '.join(unfinished)}; "
                       "a larger budget may change these rows")
        if self.left_out:
            out.append(f"--converged-only: {self.left_out} still-improving cell(s) left out")
        dirty = [f"{r.model} ({r.dirty} of {r.n_cells})" for r in self.rows if r.dirty]
        if dirty:
            out.append(f"{DIRTY_MARK} made from uncommitted code (provenance git_dirty: their commit does not "
                       f"identify the code), cells: {', '.join(dirty)}")
        partial = [f"{r.model} (folds {', '.join(map(str, r.folds))})" for r in self.rows if r.partial]
        if partial:
            out.append(f"{PARTIAL_MARK} fewer folds than the task's {self.n_folds}, so a mean over other test items "
                       f"than a full row's (not comparable with one): {', '.join(partial)}")
        out += [f"tuned: {t}" for t in self.tuning]
        if self.over_random:
            out.append(f"{over_random.METRIC}: each cell's F-score over the random row's on the same seed and fold "
                       "(its mean over seeds where the seed is missing), then averaged as the other columns "
                       "(Apostolidis et al., ACM MM 2020, \"Performance over Random\"): 1 is chance level on "
                       "those very test videos")
        if self.against is not None:
            out.append(comparison_note(self))
        return out


STILL_IMPROVING_MARK = "↗"
DIRTY_MARK = "‡"
PARTIAL_MARK = "◐"


def tuning_caption(tuned: dict, task_overrides: dict[str, Any] | None = None) -> str:
    """Where ``task_overrides`` (the table's setting) differ from the setting the presets were tuned at, the
    caption says the presets were reused, so a reader does not take them for tuned on this data."""
    folds = ",".join(map(str, tuned["folds"]))
    seeds = ",".join(map(str, tuned["seeds"]))
    at = tuned.get("task_overrides") or {}
    where = "" if not at else f" at {', '.join(f'{k}={v}' for k, v in sorted(at.items()))}"
    if task_overrides is not None and {k: str(v) for k, v in at.items()} != \
            {k: str(v) for k, v in task_overrides.items()}:
        where = f"{where or ' at the task defaults'}, reused here (not tuned at this setting)"
    return (f"{tuned['n_trials']} random-search trials per model on validation{where} "
            f"(seeds {seeds}, folds {folds}; {tuned['method']})")


def task_setting(task: TaskInfo, ignore: Sequence[str] = ()) -> tuple[str, str]:
    """The key under which tables and figures put records side by side: the task with its overrides (less
    ``ignore``, e.g. the lag a figure spreads along its axis) and its version, since another version's
    defaults are other data."""
    overrides = {k: v for k, v in task.overrides.items() if k not in ignore}
    return model_label(task.name, overrides), task.version


def build_boards(records: Iterable[Record], split: str = "test", tasks: Sequence[str] = (),
                 converged_only: bool = False, against: str | None = None) -> list[Board]:
    """One board per task setting; rows are compared with the row ``against`` names (a label, or a model
    name whose best row is taken) or, by default, with the best trained row."""
    groups: dict[tuple, dict[tuple, list[Record]]] = defaultdict(lambda: defaultdict(list))
    failed: dict[tuple, list[str]] = defaultdict(list)
    task_meta: dict[tuple, TaskInfo] = {}
    left_out: dict[tuple, int] = defaultdict(int)
    for rec in latest_per_cell(r for r in records if r.is_run):
        t = rec.task
        if tasks and t.name not in tasks:
            continue
        task_key = task_setting(t)
        task_meta.setdefault(task_key, t)
        model_key = (rec.label, rec.model.reference)
        if converged_only and rec.completed and rec.still_improving:
            left_out[task_key] += 1
        elif rec.completed:
            groups[task_key][model_key].append(rec)
        else:
            failed[task_key].append(f"{model_key[0]} seed {rec.seed} fold {t.fold}: {rec.error_message or rec.status}")
    boards = []
    for task_key in sorted(set(groups) | set(failed)):
        t = task_meta[task_key]
        # a metric some records lack (a variant that does not compute it) is left out rather than half-filled
        scored = [r.scores[split] for recs in groups[task_key].values() for r in recs]
        metrics = [m for m in t.leaderboard_metrics if all(m in s for s in scored)]
        hib = {m: bool(t.higher_is_better[m]) for m in metrics}
        board = Board(task_key[0], task_key[1], split, metrics, hib, failed=sorted(failed[task_key]),
                      left_out=left_out[task_key], n_folds=t.n_folds)
        covered: dict[tuple, dict[int, set[int]]] = defaultdict(lambda: defaultdict(set))  # row -> seed -> folds
        for model_key, recs in groups[task_key].items():
            for r in recs:
                covered[model_key][r.seed].add(r.task.fold)
        board.tuning = sorted({tuning_caption(r.model.tuned, r.task.overrides)
                               for recs in groups[task_key].values() for r in recs if r.model.tuned})
        main = metrics[0] if metrics else None
        extra = over_random_scores(groups[task_key], split) if over_random.SOURCE in metrics else {}
        if extra:
            metrics.append(over_random.METRIC)
            hib[over_random.METRIC] = True
            board.over_random = True
        for (model, reference), recs in groups[task_key].items():
            per_seed_folds = covered[(model, reference)]
            per_seed: dict[int, list[dict]] = defaultdict(list)
            for r in recs:
                per_seed[r.seed].append({**r.scores[split], **extra.get((model, reference), {}).get(
                    (r.seed, r.task.fold), {})})
            stats = {}
            for m in metrics:
                seed_means = [sum(s[m] for s in folds) / len(folds) for folds in per_seed.values()]
                stats[m] = mean_std(seed_means)
            n_folds = sum(len(v) for v in per_seed.values()) / len(per_seed)
            board.rows.append(Row(model, reference, len(per_seed), n_folds, stats, recs[0].model.n_parameters,
                                  len(recs), sum(r.still_improving for r in recs), sum(r.dirty for r in recs),
                                  tuple(sorted(set().union(*per_seed_folds.values()))),
                                  any(len(f) < board.n_folds for f in per_seed_folds.values()),
                                  {(r.seed, r.task.fold): r.scores[split][main] for r in recs} if main else {},
                                  test_resamples(recs, main) if split == "test" else {}))
        if not metrics:
            boards.append(board)
            continue
        sign = -1 if hib[main] else 1
        board.rows.sort(key=lambda r: (sign * r.stats[main][0], r.model))
        compare_rows(board, against)
        boards.append(board)
    return boards


def over_random_scores(rows: Mapping[tuple, Sequence[Record]], split: str) -> dict[tuple, dict[tuple, dict]]:
    """Per row and cell, ``{fscore/random: ratio}`` (``over_random``), where the board has a random row covering
    every fold of every row; empty otherwise, and the column is left out."""
    fscores = {key: {(r.seed, r.task.fold): r.scores[split][over_random.SOURCE] for r in recs}
               for key, recs in rows.items()}
    random = [cells for (label, reference), cells in fscores.items()
              if reference and model_name(label) == over_random.RANDOM]
    if len(random) != 1:
        return {}
    out = {}
    for key, cells in fscores.items():
        ratios = over_random.ratio_cells(cells, random[0])
        if ratios is None:
            return {}
        out[key] = {cell: {over_random.METRIC: v} for cell, v in ratios.items()}
    return out


def test_resamples(records: Sequence[Record], main: str | None) -> dict[tuple[int, int], paired.Resamples]:
    """The cells' test-set resamples of the main score, where their records hold them."""
    return {(r.seed, r.task.fold): (r.test_resamples["seed"], np.asarray(r.test_resamples["scores"], dtype=float))
            for r in records if r.test_resamples and r.test_resamples.get("metric") == main}


@dataclass
class PairedGroups:
    """One group of records against another over the (seed, fold) cells both ran: their means over those
    cells and the paired comparison (``row`` minus ``base``; the test-set interval where they hold resamples)."""

    base: float
    row: float
    versus: paired.Paired


def compare_groups(recs: Sequence[Record], base_recs: Sequence[Record], split: str = "test") -> PairedGroups | None:
    main = recs[0].task.main_score
    row, base = ({(r.seed, r.task.fold): r.scores[split][main] for r in rs} for rs in (recs, base_recs))
    common = sorted(set(row) & set(base))
    if not common:
        return None
    on_test = split == "test"
    versus = paired.compare(row, base, row_resamples=test_resamples(recs, main) if on_test else None,
                            against_resamples=test_resamples(base_recs, main) if on_test else None)
    return PairedGroups(sum(base[c] for c in common) / len(common), sum(row[c] for c in common) / len(common), versus)


def latest_per_cell(records: Iterable[Record]) -> list[Record]:
    """One record per (task, model label, seed, fold, split of folds): when a cell was run again under a
    changed config (a new rlbench version, say), the newest record stands and the older one is ignored,
    so no cell is counted twice."""
    latest: dict[tuple, Record] = {}
    for rec in records:
        t = rec.task
        key = (t.name, t.version, json.dumps(t.overrides, sort_keys=True), rec.label, rec.seed, t.fold,
               t.split_sha256)
        if key not in latest or rec.provenance.started_at >= latest[key].provenance.started_at:
            latest[key] = rec
    return list(latest.values())


def completed_runs_by(records: Iterable[Record], key: Callable[[Record], tuple]) -> dict[tuple, list[Record]]:
    """The newest completed run record of each cell, grouped by ``key``: what the paired side tables (order
    control, selection inflation) compare group against group."""
    groups: dict[tuple, list[Record]] = defaultdict(list)
    for rec in latest_per_cell(r for r in records if r.is_run and r.completed):
        groups[key(rec)].append(rec)
    return groups


def mean_std(values: list[float]) -> tuple[float, float | None]:
    mean = sum(values) / len(values)
    if len(values) < 2:
        return mean, None
    return mean, math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))


def _arrow(hib: bool) -> str:
    return "↑" if hib else "↓"


def render_markdown(boards: Sequence[Board]) -> str:
    out = []
    for b in boards:
        out.append(f"### {b.title}\n")
        head = ["model", "seeds", "folds/seed", *[f"{m} {_arrow(b.higher_is_better[m])}" for m in b.metrics],
                *comparison_head(b)]
        out.append("| " + " | ".join(head) + " |")
        out.append("|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|")
        for r in b.rows:
            name = (f"{r.model} *(reference)*" if r.reference else r.model) + r.marks
            cells = [name, str(r.n_seeds), f"{r.n_folds:g}", *[format_stat(r.stats[m]) for m in b.metrics],
                     *comparison_cells(b, r)]
            out.append("| " + " | ".join(cells) + " |")
        out.append("")
        out.append("mean ± sample std over seeds (each seed averaged over its folds); "
                   "reference rows are floors and ceilings, not competitors.")
        out += [f"- {note}" for note in b.notes()]
        for f in b.failed:
            out.append(f"- failed: {f}")
        out.append("")
    return "\n".join(out)


def render_csv(boards: Sequence[Board]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["task", "version", "split", "model", "reference", "metric", "higher_is_better",
                "mean", "std", "n_seeds", "folds_per_seed", "still_improving_cells", "dirty_cells", "cells",
                "partial", *COMPARISON_FIELDS])
    for b in boards:
        for r in b.rows:
            for m in b.metrics:
                mean, std = r.stats[m]
                w.writerow([b.task, b.version, b.split, r.model, r.reference, m, b.higher_is_better[m],
                            f"{mean:.6g}", "" if std is None else f"{std:.6g}", r.n_seeds, f"{r.n_folds:g}",
                            r.still_improving, r.dirty, r.n_cells, r.partial,
                            *(comparison_fields(b, r) if m == b.metrics[0] else [""] * len(COMPARISON_FIELDS))])
    return buf.getvalue()


_TEX_ARROWS = {True: r"$\uparrow$", False: r"$\downarrow$"}


def latex_marks(row: Row) -> str:
    return ((r" $\nearrow$" if row.still_improving else "") + (r" $\ddagger$" if row.dirty else "")
            + (r" $\circ$" if row.partial else ""))


def render_latex(boards: Sequence[Board]) -> str:
    out = []
    for b in boards:
        cols = "l" + "r" * (len(b.metrics) + 1 + len(comparison_head(b)))
        out.append(f"% {b.title}")
        out.append(r"\begin{tabular}{" + cols + "}")
        out.append(r"\toprule")
        head = ["Model", "$n$", *[f"{latex_escape(m)} {_TEX_ARROWS[b.higher_is_better[m]]}" for m in b.metrics],
                *[latex_escape(h).replace("Δ", r"$\Delta$") for h in comparison_head(b)]]
        out.append(" & ".join(head) + r" \\")
        out.append(r"\midrule")
        for r in b.rows:
            name = latex_escape(r.model) + (r" (ref.)" if r.reference else "") + latex_marks(r)
            cells = [name, str(r.n_seeds)]
            cells += [format_stat(r.stats[m], pm=r"$\pm$") for m in b.metrics]
            cells += [latex_escape(c).replace("<", "$<$") for c in comparison_cells(b, r, tex=True)]
            out.append(" & ".join(cells) + r" \\")
        out.append(r"\bottomrule")
        out.append(r"\end{tabular}")
        out += [f"% {latex_escape(note)}" for note in b.notes()]
        out.append("")
    return "\n".join(out)


RENDERERS = {"md": render_markdown, "csv": render_csv, "latex": render_latex}
