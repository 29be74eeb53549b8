"""Where cells run: in this process one after another (``inline``), in a local process pool (``local``), or
on a Ray cluster (``ray``).

Workers only compute: each returns its record to the driver, which writes it, so workers need no shared
disk. A worker rebuilds its cell from a ``CellSpec`` (names and overrides, nothing that does not pickle) and
sends the cell's start and evaluations to the driver through a queue, so that the driver shows the
progress of every cell in flight. Cells run inline use the driver's own prepared pairs.
"""

from __future__ import annotations

import json
import os
import queue
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from functools import lru_cache
from multiprocessing.managers import SyncManager
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from benchmark.harness.cell import run_cell
from benchmark.harness.checkpoints import CHECKPOINT_EVERY_S
from benchmark.harness.config import ConfigError
from benchmark.harness.plan import Pair, RunRequest, prepare
from benchmark.harness.record import Record
from benchmark.harness.registry import load_plugins

EXECUTORS = ("inline", "local", "ray")
PROGRESS_POLL_S = 0.5  # how often the driver collects the workers' progress while it waits for records


@dataclass(frozen=True)
class Execution:
    """How a run's cells are executed: by which executor, on how many workers (local: the machine's cores by
    default), at which Ray address, with how many torch threads each (None: torch's default, every core;
    several torch processes with several threads each on a small machine run many times slower than one
    thread each), and which ``--plugin`` modules every worker loads."""

    executor: str = "inline"
    workers: int | None = None
    address: str | None = None
    threads: int | None = 1
    plugins: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.executor not in EXECUTORS:
            raise ConfigError(f"--executor must be one of {', '.join(EXECUTORS)}, got {self.executor!r}")
        if self.threads is not None and self.threads < 1:
            raise ConfigError(f"--threads must be >= 1, got {self.threads}")
        if self.workers is not None and self.workers < 1:
            raise ConfigError(f"--workers must be >= 1, got {self.workers}")


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
    request: int = 0  # which of the run's requests the cell belongs to (an ablation's variants, a tuning's trials)
    cell: int = 0  # its place in the run: progress events name the cell by it
    checkpoint: str | None = None  # the cell's checkpoint file (on the worker's disk)
    checkpoint_every: float = CHECKPOINT_EVERY_S

    @classmethod
    def of(cls, pair: Pair, request: RunRequest, execution: Execution, seed: int, fold: int, index: int, cell: int,
           checkpoint: Path) -> "CellSpec":
        return cls(pair.task_name, pair.model_name, applied_overrides(pair),
                   str(request.data_root) if request.data_root else None, seed, fold, execution.plugins,
                   request.trace, json.dumps(pair.tuned, sort_keys=True) if pair.tuned else None, pair.tuning,
                   execution.threads, request.device, index, cell, str(checkpoint), request.checkpoint_every)


def applied_overrides(pair: Pair) -> tuple[str, ...]:
    """The overrides that reach this (task, model), scoped, so a worker rebuilds exactly this cell."""
    out = []
    for scope, values in pair.resolved.applied.items():
        for key, value in sorted(values.items()):
            out.append(f"{scope}.{key}={value if isinstance(value, str) else json.dumps(value)}")
    return tuple(out)


@lru_cache(maxsize=8)
def _prepared(task: str, model: str, overrides: tuple[str, ...], data_root: str | None, plugins: tuple[str, ...],
              tuned: str | None = None, tuning: bool = False, device: str | None = None) -> Pair:
    """Per worker process: plugins, names and options resolved once per (task, model, overrides); the task's
    data is loaded once per process whichever models the worker runs (``plan.load_task``)."""
    load_plugins(plugins)
    request = RunRequest([task], [model], seeds=(0,), folds=None, overrides=overrides,
                         data_root=Path(data_root) if data_root else None,
                         tuned={(task, model): json.loads(tuned)} if tuned else None, tuning=tuning, device=device)
    (pair,) = prepare(request)
    return pair


def execute_cell(spec: CellSpec, events: Any = None) -> Record:
    """Run one cell in a worker process and return its record (the driver writes it); ``events`` (a queue)
    receives the cell's start and its evaluations."""
    log = _QueueLog(events, spec.cell)
    log.send("start", None)
    if spec.threads:
        import torch

        torch.set_num_threads(spec.threads)
    pair = _prepared(spec.task, spec.model, spec.overrides, spec.data_root, spec.plugins, spec.tuned, spec.tuning,
                     spec.device)
    return run_cell(pair, spec.seed, spec.fold, log, spec.trace, _checkpoint(spec), spec.checkpoint_every)


def _checkpoint(spec: CellSpec) -> Path | None:
    return Path(spec.checkpoint) if spec.checkpoint else None


class _QueueLog:
    """A cell's training log: each evaluation goes to the driver. Progress is a courtesy, so a queue that
    fails (the driver stopping) ends the reporting, never the cell."""

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
    """The queue of a cell run in the driver's own process: ``put`` hands the event on at once."""

    def __init__(self, relay: Callable):
        self.relay = relay

    def put(self, event: tuple) -> None:
        self.relay(*event)


Cells = Sequence[tuple[CellSpec, Pair]]
Done = Callable[[CellSpec, Record], None]
Relay = Callable[[int, str, Any], None]


def run_cells(cells: Cells, done: Done, relay: Relay, execution: Execution) -> None:
    """Run every cell with the execution's executor; ``done`` receives each record as it comes back (in this
    process), ``relay`` each progress event."""
    if execution.executor == "ray":
        return _run_ray(cells, done, relay, execution)
    if not cells:
        return
    workers = execution.workers or max(1, min(len(cells), os.cpu_count() or 1))
    if execution.executor == "inline" or workers == 1:
        return _run_inline(cells, done, relay, execution)
    return _run_local(cells, done, relay, workers)


def _run_inline(cells: Cells, done: Done, relay: Relay, execution: Execution) -> None:
    if execution.threads:
        import torch

        torch.set_num_threads(execution.threads)
    for spec, pair in cells:
        log = _QueueLog(_CallQueue(relay), spec.cell)
        log.send("start", None)
        done(spec, run_cell(pair, spec.seed, spec.fold, log, spec.trace, _checkpoint(spec), spec.checkpoint_every))


def _run_local(cells: Cells, done: Done, relay: Relay, workers: int) -> None:
    # a manager's queue, not a pipe: its put returns once the event is stored, so every event of a cell is
    # there to collect before the cell's record comes back
    manager = SyncManager()
    manager.start(_ignore_interrupts)
    pool = ProcessPoolExecutor(max_workers=workers, initializer=_ignore_interrupts)
    try:
        events = manager.Queue()
        pending = {pool.submit(execute_cell, spec, events): spec for spec, _ in cells}
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


def _collect(get_nowait: Callable, empty: type[Exception], relay: Relay) -> None:
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


def _run_ray(cells: Cells, done: Done, relay: Relay, execution: Execution) -> None:
    try:
        import ray
        from ray.util.queue import Empty, Queue
    except ImportError:
        raise ConfigError("--executor ray needs Ray: pip install 'rlbench[ray]'") from None
    if not cells:
        return
    started_here = not ray.is_initialized()
    if started_here:
        ray.init(address=execution.address, num_cpus=execution.workers if execution.address is None else None,
                 include_dashboard=False, log_to_driver=False)
    refs: dict = {}
    events = None
    try:
        events = Queue(actor_options={"num_cpus": 0})  # takes no worker's CPU
        remote = ray.remote(num_cpus=1)(execute_cell)
        refs = {remote.remote(spec, events): spec for spec, _ in cells}
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
