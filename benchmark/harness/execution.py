"""The one execution path of ``run``, ``sweep``, ``tune`` and ``ablate``: plan every cell of the requests,
skip the finished ones (resume), run the rest with the chosen executor, save each record as it comes back,
and report.

A failing cell comes back as a failed record while the others go on. Two requests that name the same
cell (an ablation variant that a shared ``--set`` makes equal to another) run it once and both get its
record.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Mapping, Sequence

from benchmark.harness.checkpoints import checkpoint_path
from benchmark.harness.config import ConfigError
from benchmark.harness.executors import CellSpec, Execution, run_cells
from benchmark.harness.plan import Pair, RunRequest, cell_label, cell_path, prepare
from benchmark.harness.record import Record
from benchmark.harness.store import ensure_writable, resumed_record, save_record


@dataclass
class CellOutcome:
    task: str
    model: str
    seed: int
    fold: int
    status: str  # completed | failed | skipped
    path: Path
    main_metric: str
    val_score: float | None = None
    test_score: float | None = None
    seconds: float = 0.0
    error: str | None = None
    label: str = ""  # the model with the overrides that set this cell apart (a grid's values)
    request: int = 0  # which of the run's requests made the cell
    cell: int = 0  # its place in the run's plan

    @classmethod
    def of(cls, spec: CellSpec, path: Path, pair: Pair, record: Record, skipped: bool = False) -> "CellOutcome":
        """What a run reports of one cell; a skipped cell took no time in this run."""
        main = pair.task.metadata.main_score
        return cls(spec.task, spec.model, spec.seed, spec.fold, "skipped" if skipped else record.status, path, main,
                   (record.scores or {}).get("val", {}).get(main), record.main_score,
                   0.0 if skipped else record.timing.total_s, record.error_message, record.label, spec.request, spec.cell)


class Reporter:
    """What a run tells its caller; the CLI draws progress from it, tests stay silent. ``cell`` is the record
    path of the cell an event is about: several cells may train at once."""

    def plan(self, total: int) -> None: ...
    def start_cell(self, label: str, cell: Path | None = None) -> None: ...
    def on_eval(self, update: int, total: int, metrics: Mapping[str, float], cell: Path | None = None) -> None: ...
    def end_cell(self, outcome: CellOutcome) -> None: ...


def expand_grid(grid: Sequence[str]) -> list[tuple[str, ...]]:
    """``["hidden=32,64", "lr=1e-3"]`` -> one override set per combination."""
    axes = []
    for item in grid:
        key, sep, values = item.partition("=")
        if not sep or not key.strip() or not values.strip():
            raise ConfigError(f"--grid {item!r}: expected key=value1,value2,...")
        axes.append([f"{key.strip()}={v.strip()}" for v in values.split(",") if v.strip()])
    return [tuple(combo) for combo in itertools.product(*axes)] or [()]


def grid_requests(request: RunRequest, grid: Sequence[str]) -> list[RunRequest]:
    """One request per combination of grid values (each adds its overrides to the request's own)."""
    return [replace(request, overrides=(*request.overrides, *extra)) for extra in expand_grid(grid)]


def plan(requests: Sequence[RunRequest], execution: Execution) -> list[tuple[CellSpec, Path, Pair, RunRequest]]:
    """Every cell of the requests with its record path; checks names, options and data before anything runs."""
    cell = itertools.count()
    out = []
    for index, request in enumerate(requests):
        for pair in prepare(request):
            for seed, fold in pair.cells:
                path = cell_path(request.results, pair, seed, fold)
                spec = CellSpec.of(pair, request, execution, seed, fold, index, next(cell), checkpoint_path(path))
                out.append((spec, path, pair, request))
    return out


def execute(requests: RunRequest | Sequence[RunRequest], execution: Execution = Execution(),
            reporter: Reporter | None = None) -> list[CellOutcome]:
    """Run every cell of the requests (a grid's, a tuning's trials, an ablation's variants: one pool for
    all) that has no finished record yet; return one outcome per cell, skipped ones included."""
    requests = [requests] if isinstance(requests, RunRequest) else list(requests)
    reporter = reporter or Reporter()
    for results in dict.fromkeys(r.results for r in requests):
        ensure_writable(results)
    cells = plan(requests, execution)
    reporter.plan(len(cells))
    outcomes: list[CellOutcome] = []
    todo: dict[CellSpec, tuple[Path, Pair]] = {}
    first: dict[Path, CellSpec] = {}
    twins: dict[CellSpec, list[CellSpec]] = defaultdict(list)
    for spec, path, pair, request in cells:
        relabel = {"variant": pair.variant, "overrides": pair.model_overrides, "tuned": pair.tuned}
        record = resumed_record(path, pair.key, pair.model_name, relabel) if request.resume else None
        if record is not None:
            outcomes.append(CellOutcome.of(spec, path, pair, record, skipped=True))
            reporter.end_cell(outcomes[-1])
            continue
        todo[spec] = (path, pair)
        if path in first:
            twins[first[path]].append(spec)
        else:
            first[path] = spec

    # both executors' queues store an event before the worker goes on, so a cell's events all come
    # before its record
    by_cell = {spec.cell: spec for spec in first.values()}

    def relay(cell: int, kind: str, payload: Any) -> None:
        spec = by_cell[cell]
        path, pair = todo[spec]
        if kind == "start":
            reporter.start_cell(cell_label(pair, spec.seed, spec.fold), cell=path)
        else:
            reporter.on_eval(*payload, cell=path)

    def done(spec: CellSpec, record: Record) -> None:
        path, pair = todo[spec]
        save_record(path, record)
        outcomes.append(CellOutcome.of(spec, path, pair, record))
        reporter.end_cell(outcomes[-1])
        for twin in twins.get(spec, ()):
            outcomes.append(CellOutcome.of(twin, path, todo[twin][1], record, skipped=True))
            reporter.end_cell(outcomes[-1])

    run_cells([(spec, todo[spec][1]) for spec in first.values()], done, relay, execution)
    return outcomes
