"""What every command shares: one clear line for bad input, the request and the execution made from the
options, and the summary of a run. Nothing here imports torch."""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Callable, List, Optional, Sequence

import typer
from rich.console import Console
from rich.table import Table

console = Console(highlight=False)


def user_errors() -> tuple[type, ...]:
    from benchmark.api import TaskDataError
    from benchmark.harness.config import ConfigError
    from benchmark.harness.download import DownloadError
    from benchmark.harness.plan import RunError
    from benchmark.harness.record import RecordError
    from benchmark.harness.registry import RegistryError
    from benchmark.harness.store import StoreError
    from benchmark.reporting.ablation_report import ReportError

    return (ConfigError, RegistryError, RunError, TaskDataError, RecordError, StoreError, ReportError, DownloadError)


def clean_errors(fn: Callable) -> Callable:
    """Bad input ends in one clear line and exit status 2, never a traceback; Ctrl-C in one line and 130
    (every record finished before it is kept, so the same command resumes)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except user_errors() as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            typer.echo("interrupted: rerun the same command to resume", err=True)
            raise typer.Exit(130) from None

    return wrapper


def split_names(values: List[str]) -> list[str]:
    return [v.strip() for item in values for v in item.split(",") if v.strip()]


def parse_int_list(text: str, what: str) -> list[int]:
    """"0,1,2" or "0..4" (inclusive) or a mix: "0..2,7"."""
    out: list[int] = []
    for part in text.split(","):
        part = part.strip()
        try:
            if ".." in part:
                lo, hi = part.split("..", 1)
                out.extend(range(int(lo), int(hi) + 1))
            elif part:
                out.append(int(part))
        except ValueError:
            raise typer.BadParameter(f"{what} must be integers like 0,1,2 or a range 0..4, got {text!r}") from None
    if not out:
        raise typer.BadParameter(f"{what}: no values in {text!r}")
    return list(dict.fromkeys(out))


def default_data_root() -> Path:
    return Path(os.environ.get("RLBENCH_DATA", "~/.cache/rlbench")).expanduser()


def make_request(*, tasks: Sequence[str], models: Sequence[str], seeds: str, folds: str, sets: Sequence[str],
                 data_root: Optional[Path], results: Path, resume: bool = True, trace: bool = False,
                 tuned: bool = False, presets: Optional[Path] = None, device: Optional[str] = None,
                 checkpoint_every: Optional[float] = None):
    """The ``RunRequest`` the "what to run", data and output options describe."""
    from benchmark.harness.checkpoints import CHECKPOINT_EVERY_S
    from benchmark.harness.plan import RunError, RunRequest

    if checkpoint_every is not None and not checkpoint_every >= 0:
        raise RunError(f"--checkpoint-every must be >= 0 (minutes; 0: no checkpoints), got {checkpoint_every}")
    tasks, models = split_names(tasks), split_names(models)
    presets_of = None
    if tuned:
        from benchmark.studies.tuning import load_presets

        presets_of = load_presets(presets or results, tasks, models)
    return RunRequest(
        tasks=tasks, models=models, seeds=parse_int_list(seeds, "--seeds"),
        folds=None if folds.strip() == "all" else parse_int_list(folds, "--folds"), overrides=list(sets),
        data_root=data_root if data_root is not None else default_data_root(), results=results, resume=resume,
        trace=trace, tuned=presets_of, device=device,
        checkpoint_every=CHECKPOINT_EVERY_S if checkpoint_every is None else checkpoint_every * 60)


def make_execution(*, executor: Optional[str], workers: Optional[int], address: Optional[str],
                   threads: Optional[int], plugins: Sequence[str], default: str = "local"):
    """The ``Execution`` the execution options describe: ``--address`` implies Ray and ``--workers`` the local
    pool where no ``--executor`` is given; workers run one torch thread each unless ``--threads`` says
    otherwise, the inline executor as many as torch takes."""
    from benchmark.harness.config import ConfigError
    from benchmark.harness.executors import Execution

    if executor is None:
        executor = "ray" if address is not None else "local" if workers is not None else default
    if executor == "inline" and (workers is not None or address is not None):
        raise ConfigError("--executor inline runs cells in this process: drop --workers and --address")
    if executor == "local" and address is not None:
        raise ConfigError("--address names a Ray cluster: use it with --executor ray")
    return Execution(executor, workers, address, threads if threads is not None or executor == "inline" else 1,
                     tuple(plugins))


def load_plugins(plugins: Sequence[str]) -> None:
    from benchmark.harness.registry import load_plugins as load

    load(plugins)


def exit_on_failures(outcomes) -> None:
    """Name every failed cell on stderr and exit with status 1 (the other cells are done and recorded)."""
    failed = [o for o in outcomes if o.status == "failed"]
    for o in failed:
        typer.echo(f"failed: {o.task} {o.model} seed {o.seed} fold {o.fold}: {o.error}  ({o.path})", err=True)
    if failed:
        raise typer.Exit(1)


def summary(outcomes, results: Path) -> None:
    table = Table(title="run summary", title_justify="left")
    for col in ("task", "model", "seed", "fold", "status", "val", "test", "seconds"):
        table.add_column(col, justify="right" if col in ("seed", "fold", "val", "test", "seconds") else "left",
                         overflow="fold")
    for o in outcomes:
        fmt = lambda v: "" if v is None else f"{v:.4f}"  # noqa: E731
        table.add_row(o.task, o.label or o.model, str(o.seed), str(o.fold), o.status,
                      fmt(o.val_score), fmt(o.test_score), f"{o.seconds:.1f}")
    console.print(table)
    if outcomes:
        console.print(f"main score: {outcomes[0].main_metric}; records in {results}", markup=False)
        console.print(f"leaderboard: rlbench table --results {results}", markup=False, soft_wrap=True)
    exit_on_failures(outcomes)


def folder_of_records(results: Path) -> Path:
    from benchmark.harness.plan import RunError

    if not results.is_dir():
        raise RunError(f"{results}: no such folder of records (run `rlbench run ...` first, or pass --results)")
    return results
