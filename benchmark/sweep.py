"""Sweeps: a grid of (task x model x override set x seed x fold) cells run by an executor.

Workers only compute: each returns its record to the driver, which writes it (atomically), so workers
need no shared disk. The driver skips cells whose finished record is there (resume), and a cell that
fails comes back as a failed record while the others go on. Workers send each cell's start and
evaluations through a queue, so that the driver shows the progress of every cell in flight.
"""

from __future__ import annotations

import itertools
import json
import os
import queue
from collections import defaultdict
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, replace
from functools import lru_cache
from multiprocessing.managers import SyncManager
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

from benchmark.checkpoints import CHECKPOINT_EVERY_S, checkpoint_path
from benchmark.config import ConfigError
from benchmark.runner import (CellOutcome, Reporter, RunRequest, cell_label, cell_path, ensure_writable, prepare,
                              resumed_record, run_cell, save_record)

EXECUTORS = ("local", "ray")
PROGRESS_POLL_S = 0.5  # how often the driver collects the workers' progress while it waits for records


@dataclass(frozen=True)
class CellSpec:
    """Everything a worker needs to rebuild and run one cell, and nothing that does not pickle."""

    task: str
    model: str
    overrides: tuple[str, ...]
    data_root: str | None
    seed: int
    fold: int
    plugins: tuple[str, ...] = ()
    trace: bool = False
    tuned: str | None = None  # the model's tuned preset, as JSON (workers need no shared disk)
    tuning: bool = False
    threads: int | None = None  # torch threads in the worker (None: torch's default, every core)
    device: str | None = None  # --device, for the models that have a device option
    request: int = 0  # which of the sweep's requests the cell belongs to (an ablation's variants, a tuning's trials)
    cell: int = 0  # its place in the sweep: progress events name the cell by it
    checkpoint: str | None = None  # the cell's checkpoint file (on the worker's disk)
    checkpoint_every: float = CHECKPOINT_EVERY_S


def expand_grid(grid: Sequence[str]) -> list[tuple[str, ...]]:
    """``["hidden=32,64", "lr=1e-3"]`` -> one override set per combination."""
    axes = []
    for item in grid:
        key, sep, values = item.partition("=")
        if not sep or not key.strip() or not values.strip():
            raise ConfigError(f"--grid {item!r}: expected key=value1,value2,...")
        axes.append([f"{key.strip()}={v.strip()}" for v in values.split(",") if v.strip()])
    return [tuple(combo) for combo in itertools.product(*axes)] or [()]


_worker_data: dict = {}  # per worker process: task data by (task, task options, data root), for every model


@lru_cache(maxsize=8)
def _prepared(task: str, model: str, overrides: tuple[str, ...], data_root: str | None, plugins: tuple[str, ...],
              tuned: str | None = None, tuning: bool = False, device: str | None = None):
    """Per worker process: load plugins, names and options once per (task, model, overrides), and the task's
    data once per task options, whichever models the worker runs."""
    from benchmark.registry import import_plugin
    from benchmark.runner import register_plugin_module

    for spec in plugins:
        register_plugin_module(import_plugin(spec), f"--plugin {spec}")
    request = RunRequest([task], [model], seeds=(0,), folds=None, overrides=overrides,
                         data_root=Path(data_root) if data_root else None,
                         tuned={(task, model): json.loads(tuned)} if tuned else None, tuning=tuning, device=device)
    if len(_worker_data) > 4:  # a worker moving on to other tasks need not keep the old data
        _worker_data.clear()
    (pair,) = prepare(request, _worker_data)
    return pair


def execute_cell(spec: CellSpec, events: Any = None) -> dict[str, Any]:
    """Run one cell in this process and return its record (the driver writes it); ``events`` (a queue)
    receives the cell's start and its evaluations."""
    log = _QueueLog(events, spec.cell)
    log.send("start", None)
    if spec.threads:
        import torch

        torch.set_num_threads(spec.threads)
    pair = _prepared(spec.task, spec.model, spec.overrides, spec.data_root, spec.plugins, spec.tuned, spec.tuning,
                     spec.device)
    checkpoint = Path(spec.checkpoint) if spec.checkpoint else None
    return run_cell(pair, spec.seed, spec.fold, log, spec.trace, checkpoint, spec.checkpoint_every)


class _QueueLog:
    """A worker cell's training log: each evaluation goes to the driver. Progress is a courtesy, so a queue
    that fails (the driver stopping) ends the reporting, never the cell."""

    def __init__(self, events: Any, cell: int):
        self.events, self.cell = events, cell

    def send(self, kind: str, payload: Any) -> None:
        if self.events is None:
            return
        try:
            self.events.put((self.cell, kind, payload))
        except Exception:
            self.events = None

    def on_eval(self, update: int, total: int, metrics: Mapping[str, float]) -> None:
        self.send("eval", (update, total, dict(metrics)))


class _CallQueue:
    """A queue for a cell run in the driver's own process: ``put`` hands the event on at once."""

    def __init__(self, relay: Callable):
        self.relay = relay

    def put(self, event: tuple) -> None:
        self.relay(*event)


def grid_requests(request: RunRequest, grid: Sequence[str]) -> list[RunRequest]:
    """One request per combination of grid values (each adds its overrides to the request's own)."""
    return [replace(request, overrides=(*request.overrides, *extra)) for extra in expand_grid(grid)]


def plan(requests: Sequence[RunRequest], plugins: Sequence[str],
         threads: int | None = None) -> Iterator[tuple[CellSpec, Path, Any]]:
    """Every cell of the requests with its record path; checks names, options and data before anything runs."""
    loaded: dict = {}  # task data are loaded once, whatever the requests vary besides task options
    cell = itertools.count()
    for index, sub in enumerate(requests):
        for pair in prepare(sub, loaded):
            for seed, fold in pair.cells:
                path = cell_path(sub.results, pair, seed, fold)
                spec = CellSpec(pair.task_name, pair.model_name, applied_overrides(pair),
                                str(sub.data_root) if sub.data_root else None, seed, fold, tuple(plugins),
                                sub.trace, json.dumps(pair.tuned, sort_keys=True) if pair.tuned else None,
                                pair.tuning, threads, sub.device, index, next(cell), str(checkpoint_path(path)),
                                sub.checkpoint_every)
                yield spec, path, pair


def applied_overrides(pair) -> tuple[str, ...]:
    """The overrides that reach this (task, model), scoped, so a worker rebuilds exactly this cell."""
    out = []
    for scope, values in pair.resolved.applied.items():
        for key, value in sorted(values.items()):
            out.append(f"{scope}.{key}={value if isinstance(value, str) else json.dumps(value)}")
    return tuple(out)


def sweep(
    request: RunRequest | Sequence[RunRequest],
    grid: Sequence[str] = (),
    executor: str = "local",
    workers: int | None = None,
    address: str | None = None,
    plugins: Sequence[str] = (),
    reporter: Reporter | None = None,
    threads: int | None = 1,
) -> list[CellOutcome]:
    """Run a request over a grid, or several requests (tuning trials, ablation variants) in one pool.
    Each worker runs torch on ``threads`` threads (one by default: several torch processes with several
    threads each on a small machine run many times slower than one thread each)."""
    if executor not in EXECUTORS:
        raise ConfigError(f"--executor must be one of {', '.join(EXECUTORS)}, got {executor!r}")
    if threads is not None and threads < 1:
        raise ConfigError(f"--threads must be >= 1, got {threads}")
    reporter = reporter or Reporter()
    requests = grid_requests(request, grid) if isinstance(request, RunRequest) else list(request)
    for results in dict.fromkeys(r.results for r in requests):
        ensure_writable(results)
    cells = list(plan(requests, plugins, threads))
    reporter.plan(len(cells))
    todo, outcomes = [], []
    for spec, path, pair in cells:
        record = resumed_record(path, pair) if requests[0].resume else None
        if record is not None:
            outcomes.append(_outcome(spec, path, pair, record, skipped=True))
            reporter.end_cell(outcomes[-1])
        else:
            todo.append((spec, path, pair))
    by_spec = {s: (p, pair) for s, p, pair in todo}
    # two requests may name the same cell (an ablation variant that a shared --set makes equal to another):
    # it runs once and both get its record
    first: dict[Path, CellSpec] = {}
    twins: dict[CellSpec, list[CellSpec]] = defaultdict(list)
    for spec, path, _ in todo:
        if path in first:
            twins[first[path]].append(spec)
        else:
            first[path] = spec

    # both executors' queues store an event before the worker goes on, so a cell's events all come
    # before its record
    by_cell = {spec.cell: spec for spec in first.values()}

    def relay(cell: int, kind: str, payload: Any) -> None:
        spec = by_cell[cell]
        path, pair = by_spec[spec]
        if kind == "start":
            reporter.start_cell(cell_label(pair, spec.seed, spec.fold), cell=path)
        else:
            reporter.on_eval(*payload, cell=path)

    def done(spec: CellSpec, record: dict) -> None:
        path, pair = by_spec[spec]
        save_record(path, record)
        outcomes.append(_outcome(spec, path, pair, record))
        reporter.end_cell(outcomes[-1])
        for twin in twins.get(spec, ()):
            outcomes.append(_outcome(twin, path, by_spec[twin][1], record, skipped=True))
            reporter.end_cell(outcomes[-1])

    run = _run_ray if executor == "ray" else _run_local
    run(list(first.values()), done, relay, workers, address)
    return outcomes


def _outcome(spec: CellSpec, path: Path, pair, record: dict, skipped: bool = False) -> CellOutcome:
    outcome = CellOutcome.from_record(spec.task, spec.model, spec.seed, spec.fold, path,
                                      pair.task.metadata.main_score, record, skipped)
    return replace(outcome, request=spec.request)


def _run_local(specs: list[CellSpec], done: Callable, relay: Callable, workers: int | None,
               address: str | None) -> None:
    if not specs:
        return
    workers = workers or max(1, min(len(specs), os.cpu_count() or 1))
    if workers == 1:
        for spec in specs:
            done(spec, execute_cell(spec, _CallQueue(relay)))
        return
    # a manager's queue, not a pipe: its put returns once the event is stored, so every event of a cell is
    # there to collect before the cell's record comes back
    manager = SyncManager()
    manager.start(_ignore_interrupts)
    pool = ProcessPoolExecutor(max_workers=workers, initializer=_ignore_interrupts)
    try:
        events = manager.Queue()
        pending = {pool.submit(execute_cell, spec, events): spec for spec in specs}
        while pending:
            finished, _ = wait(pending, timeout=PROGRESS_POLL_S, return_when=FIRST_COMPLETED)
            _collect(events.get_nowait, queue.Empty, relay)
            for future in finished:
                done(pending.pop(future), future.result())
    except BaseException:
        # Ctrl-C or a record that cannot be written: stop now, not after the cells in flight; every record
        # written so far stays, and the same command resumes.
        for process in list(getattr(pool, "_processes", {}).values()):
            process.terminate()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    finally:
        manager.shutdown()
    pool.shutdown()


def _collect(get_nowait: Callable, empty: type[Exception], relay: Callable) -> None:
    while True:
        try:
            event = get_nowait()
        except empty:
            return
        relay(*event)


def _ignore_interrupts() -> None:
    """Workers leave Ctrl-C to the driver, which stops them (and prints one line, not one per worker)."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _run_ray(specs: list[CellSpec], done: Callable, relay: Callable, workers: int | None,
             address: str | None) -> None:
    try:
        import ray
        from ray.util.queue import Empty, Queue
    except ImportError:
        raise ConfigError("--executor ray needs Ray: pip install 'rlbench[ray]'") from None
    if not specs:
        return
    started_here = not ray.is_initialized()
    if started_here:
        ray.init(address=address, num_cpus=workers if address is None else None, include_dashboard=False,
                 log_to_driver=False)
    refs: dict = {}
    events = None
    try:
        events = Queue(actor_options={"num_cpus": 0})  # takes no worker's CPU
        remote = ray.remote(num_cpus=1)(execute_cell)
        refs = {remote.remote(spec, events): spec for spec in specs}
        while refs:
            ready, _ = ray.wait(list(refs), num_returns=1, timeout=PROGRESS_POLL_S)
            _collect(events.get_nowait, Empty, relay)
            for ref in ready:
                done(refs.pop(ref), ray.get(ref))
    except BaseException:
        for ref in refs:
            ray.cancel(ref, force=True)
        raise
    finally:
        if events is not None:
            events.shutdown()
        if started_here:
            ray.shutdown()
