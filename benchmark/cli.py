"""The ``rlbench`` command line. Nothing here imports torch: models are loaded only when a run needs them."""

from __future__ import annotations

import functools
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, List, Optional

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(
    help="rlbench: long-sequence affect and video-summarization benchmark (RL-based memory network and baselines).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
console = Console(highlight=False)


def _user_errors() -> tuple[type, ...]:
    from benchmark.config import ConfigError
    from benchmark.interfaces import TaskDataError
    from benchmark.records import RecordError
    from benchmark.registry import RegistryError
    from benchmark.runner import RunError

    return (ConfigError, RegistryError, RunError, TaskDataError, RecordError)


def clean_errors(fn: Callable) -> Callable:
    """Bad input ends in one clear line and exit status 2, never a traceback; Ctrl-C in one line and 130
    (every record finished before it is kept, so the same command resumes)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except _user_errors() as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            typer.echo("interrupted: rerun the same command to resume", err=True)
            raise typer.Exit(130) from None

    return wrapper


def _split_names(values: List[str]) -> list[str]:
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


def _request(task, model, seeds, folds, overrides, data_root, results, resume, trace=False, tuned=False,
             presets=None, device=None, checkpoint_every=None):
    from benchmark.checkpoints import CHECKPOINT_EVERY_S
    from benchmark.runner import RunError, RunRequest

    if checkpoint_every is not None and not checkpoint_every >= 0:
        raise RunError(f"--checkpoint-every must be >= 0 (minutes; 0: no checkpoints), got {checkpoint_every}")

    tasks, models = _split_names(task), _split_names(model)
    presets_of = None
    if tuned:
        from benchmark.tuning import load_presets

        presets_of = load_presets(presets or results, tasks, models)
    return RunRequest(
        trace=trace,
        tuned=presets_of,
        device=device,
        tasks=tasks,
        models=models,
        seeds=parse_int_list(seeds, "--seeds"),
        folds=None if folds.strip() == "all" else parse_int_list(folds, "--folds"),
        overrides=overrides,
        data_root=data_root if data_root is not None else default_data_root(),
        results=results,
        resume=resume,
        checkpoint_every=CHECKPOINT_EVERY_S if checkpoint_every is None else checkpoint_every * 60,
    )


def _load_plugins(plugins: List[str]) -> None:
    from benchmark.registry import import_plugin
    from benchmark.runner import register_plugin_module

    for spec in plugins:
        register_plugin_module(import_plugin(spec), f"--plugin {spec}")


def _listing(kind: str, plugins: List[str]) -> None:
    from rich.markup import escape

    from benchmark.runner import model_registry, task_registry

    _load_plugins(plugins)
    registry = model_registry() if kind == "model" else task_registry()
    table = Table(title=f"registered {kind}s", title_justify="left")
    table.add_column(kind)
    table.add_column("source")
    table.add_column("description")
    for entry in registry.entries():
        table.add_row(escape(entry.name), escape(entry.source), escape(entry.describe()))
    console.print(table)
    for warning in registry.warnings:
        typer.echo(f"warning: {warning}", err=True)


@app.command("tasks")
@clean_errors
def tasks_cmd(plugin: List[str] = typer.Option([], "--plugin", help="module or .py file to load first")):
    """List the registered tasks (built-in and plugins)."""
    _listing("task", plugin)


@app.command("models")
@clean_errors
def models_cmd(plugin: List[str] = typer.Option([], "--plugin", help="module or .py file to load first")):
    """List the registered models (built-in and plugins)."""
    _listing("model", plugin)


def _shown_metrics(metrics) -> str:
    return "  ".join(f"{k} {v:.4f}" for k, v in metrics.items()
                     if k in ("train_loss", "td_error") or k.startswith(("val_", "test_")))


class _RichReporter:
    """Progress bars: one over cells, and one over the updates of each cell in training (a sweep trains
    several at once)."""

    def __init__(self, progress):
        self.progress = progress
        self.cells = None
        self.running: dict = {}  # cell -> (its bar, its label)

    def plan(self, total: int) -> None:
        self.cells = self.progress.add_task("cells", total=total)

    def start_cell(self, label: str, cell=None) -> None:
        self.running[cell] = (self.progress.add_task(label, total=None), label)

    def on_eval(self, update: int, total: int, metrics, cell=None) -> None:
        if cell in self.running:
            bar, label = self.running[cell]
            self.progress.update(bar, completed=update, total=total,
                                 description=f"{label}  [{_shown_metrics(metrics)}]")

    def end_cell(self, outcome) -> None:
        self.progress.advance(self.cells)
        if outcome.path in self.running:
            self.progress.remove_task(self.running.pop(outcome.path)[0])


@dataclass
class _Training:
    label: str
    started: float
    last_line: float  # when its last progress line was printed


class _PlainReporter:
    """Without a terminal (a log file, CI): one plain line per finished cell instead of progress bars, and
    for a cell that trains longer than ``every`` seconds, a line on its progress every ``every`` seconds."""

    def __init__(self, every: float = 60.0, clock: Callable[[], float] = time.monotonic):
        self.total, self.finished = 0, 0
        self.every, self.clock = every, clock
        self.running: dict = {}  # cell -> _Training

    def plan(self, total: int) -> None:
        self.total = total

    def start_cell(self, label: str, cell=None) -> None:
        now = self.clock()
        self.running[cell] = _Training(label, now, now)

    def on_eval(self, update: int, total: int, metrics, cell=None) -> None:
        training = self.running.get(cell)
        now = self.clock()
        if training is None or now - training.last_line < self.every:
            return
        training.last_line = now
        minutes = (now - training.started) / 60
        typer.echo(f"  {training.label}: update {update}/{total}  {_shown_metrics(metrics)} ({minutes:.1f} min)")

    def end_cell(self, outcome) -> None:
        self.running.pop(outcome.path, None)
        self.finished += 1
        scores = "" if outcome.test_score is None else f" val {outcome.val_score:.4f} test {outcome.test_score:.4f}"
        typer.echo(f"[{self.finished}/{self.total}] {outcome.task} {outcome.label or outcome.model} seed {outcome.seed} "
                   f"fold {outcome.fold}: {outcome.status}{scores} ({outcome.seconds:.1f} s)"
                   + (f" {outcome.error}" if outcome.error else ""))


def _reporter(progress):
    return _RichReporter(progress) if console.is_terminal else _PlainReporter()


THREADS_RUN = "torch threads of this process [every core]"
# options several commands share (typer takes the same OptionInfo as the default of each)
WORKER_THREADS_OPTION = typer.Option(
    1, "--threads", help="torch threads of each worker [1: several torch processes with several threads each thrash a small machine]")
CHECKPOINT_OPTION = typer.Option(
    None, "--checkpoint-every", help="minutes between a cell's checkpoints, saved beside its record so that an interrupted cell goes on from there (0: none) [10]")
DEVICE_OPTION = typer.Option(None, "--device", help="cpu, cuda[:N] or auto (CUDA when a GPU is visible) for every torch model [auto]")


def _set_threads(threads: Optional[int]) -> None:
    if threads is None:
        return
    from benchmark.runner import RunError

    if threads < 1:
        raise RunError(f"--threads must be >= 1, got {threads}")
    import torch

    torch.set_num_threads(threads)


@app.command("run")
@clean_errors
def run_cmd(
    task: List[str] = typer.Option(..., "--task", "-t", help="task name(s); repeat or comma-separate"),
    model: List[str] = typer.Option(..., "--model", "-m", help="model name(s); repeat or comma-separate"),
    seeds: str = typer.Option("0", "--seeds", help="e.g. 0,1,2 or 0..4"),
    folds: str = typer.Option("all", "--folds", help="'all' or fold indices, e.g. 0,1"),
    set_: List[str] = typer.Option([], "--set", help="key=value for the training budget, task or model"),
    data_root: Optional[Path] = typer.Option(None, "--data-root", help="dataset folder or file [env RLBENCH_DATA, else ~/.cache/rlbench]"),
    results: Path = typer.Option(Path("runs"), "--results", help="where records are written (results/ holds the committed ones)"),
    resume: bool = typer.Option(True, "--resume/--overwrite", help="skip cells that already have a finished record with the same config"),
    plugin: List[str] = typer.Option([], "--plugin", help="module or .py file defining RLBENCH_MODELS / RLBENCH_TASKS"),
    trace: bool = typer.Option(False, "--trace", help="keep the first test sequence's predictions in each record (figures)"),
    tuned: bool = typer.Option(False, "--tuned", help="start each trained model from its preset made by `rlbench tune`"),
    presets: Optional[Path] = typer.Option(None, "--presets", help="results folder holding <task>/tuned/<model>.json [--results]"),
    threads: Optional[int] = typer.Option(None, "--threads", help=THREADS_RUN + " [with --executor: 1 per worker]"),
    device: Optional[str] = DEVICE_OPTION,
    checkpoint_every: Optional[float] = CHECKPOINT_OPTION,
    executor: Optional[str] = typer.Option(None, "--executor", help="local (process pool) or ray: the cells run in parallel, as with `rlbench sweep` [one after another in this process]"),
    workers: Optional[int] = typer.Option(None, "--workers", help="parallel cells (implies --executor local)"),
    address: Optional[str] = typer.Option(None, "--address", help="Ray cluster address (implies --executor ray)"),
):
    """Train and score models on tasks; one record per (task, model, seed, fold)."""
    from benchmark.runner import run
    from benchmark.sweep import sweep

    _load_plugins(plugin)
    request = _request(task, model, seeds, folds, set_, data_root, results, resume, trace, tuned, presets, device,
                       checkpoint_every)
    if executor is None and (workers is not None or address is not None):
        executor = "ray" if address is not None else "local"
    if executor is None:
        _set_threads(threads)
    with _progress() as progress:
        if executor is None:
            outcomes = run(request, _reporter(progress))
        else:
            outcomes = sweep(request, (), executor, workers, address, plugin, _reporter(progress),
                             1 if threads is None else threads)
    _summary(outcomes, results)


@app.command("sweep")
@clean_errors
def sweep_cmd(
    task: List[str] = typer.Option(..., "--task", "-t", help="task name(s); repeat or comma-separate"),
    model: List[str] = typer.Option(..., "--model", "-m", help="model name(s); repeat or comma-separate"),
    seeds: str = typer.Option("0", "--seeds", help="e.g. 0,1,2 or 0..4"),
    folds: str = typer.Option("all", "--folds", help="'all' or fold indices, e.g. 0,1"),
    set_: List[str] = typer.Option([], "--set", help="key=value applied to every cell"),
    grid: List[str] = typer.Option([], "--grid", help="key=v1,v2,...: one cell set per value (grids multiply)"),
    data_root: Optional[Path] = typer.Option(None, "--data-root", help="dataset folder or file [env RLBENCH_DATA, else ~/.cache/rlbench]"),
    results: Path = typer.Option(Path("runs"), "--results", help="where the driver writes records (results/ holds the committed ones)"),
    resume: bool = typer.Option(True, "--resume/--overwrite", help="skip cells that already have a finished record"),
    executor: str = typer.Option("local", "--executor", help="local (process pool) or ray"),
    workers: Optional[int] = typer.Option(None, "--workers", help="parallel cells [local: the machine's cores]"),
    address: Optional[str] = typer.Option(None, "--address", help="Ray cluster address (default: start a local one)"),
    plugin: List[str] = typer.Option([], "--plugin", help="module or .py file defining RLBENCH_MODELS / RLBENCH_TASKS"),
    trace: bool = typer.Option(False, "--trace", help="keep the first test sequence's predictions in each record (figures)"),
    tuned: bool = typer.Option(False, "--tuned", help="start each trained model from its preset made by `rlbench tune`"),
    presets: Optional[Path] = typer.Option(None, "--presets", help="results folder holding <task>/tuned/<model>.json [--results]"),
    threads: int = WORKER_THREADS_OPTION,
    device: Optional[str] = DEVICE_OPTION,
    checkpoint_every: Optional[float] = CHECKPOINT_OPTION,
):
    """Run a grid of cells in parallel (local processes or Ray); records are written by this process."""
    from benchmark.sweep import sweep

    _load_plugins(plugin)
    request = _request(task, model, seeds, folds, set_, data_root, results, resume, trace, tuned, presets, device,
                       checkpoint_every)
    with _progress() as progress:
        outcomes = sweep(request, grid, executor, workers, address, plugin, _reporter(progress), threads)
    _summary(outcomes, results)


def _exit_on_failures(outcomes) -> None:
    """Name every failed cell on stderr and exit with status 1 (the other cells are done and recorded)."""
    failed = [o for o in outcomes if o.status == "failed"]
    for o in failed:
        typer.echo(f"failed: {o.task} {o.model} seed {o.seed} fold {o.fold}: {o.error}  ({o.path})", err=True)
    if failed:
        raise typer.Exit(1)


def _progress():
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=console, transient=True)


def _summary(outcomes, results: Path) -> None:
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
    _exit_on_failures(outcomes)


@app.command("tune")
@clean_errors
def tune_cmd(
    task: List[str] = typer.Option(..., "--task", "-t", help="task name(s); repeat or comma-separate"),
    model: List[str] = typer.Option(..., "--model", "-m", help="model name(s); each gets the same number of trials"),
    trials: int = typer.Option(8, "--trials", help="random-search trials per model"),
    seeds: str = typer.Option("0", "--seeds", help="seeds each trial runs (its score: the mean over seeds and folds)"),
    folds: str = typer.Option("0", "--folds", help="'all' or fold indices; tuning on one fold keeps it cheap"),
    sampler_seed: int = typer.Option(0, "--sampler-seed", help="seed of the parameter draw"),
    set_: List[str] = typer.Option([], "--set", help="key=value applied to every trial (budget, task options)"),
    data_root: Optional[Path] = typer.Option(None, "--data-root", help="dataset folder or file [env RLBENCH_DATA, else ~/.cache/rlbench]"),
    results: Path = typer.Option(Path("runs"), "--results", help="trial records go to RESULTS/tuning, presets to RESULTS/<task>/tuned"),
    resume: bool = typer.Option(True, "--resume/--overwrite", help="skip trials that already have a finished record"),
    executor: str = typer.Option("local", "--executor", help="local (process pool) or ray"),
    workers: Optional[int] = typer.Option(None, "--workers", help="parallel cells [local: the machine's cores]"),
    address: Optional[str] = typer.Option(None, "--address", help="Ray cluster address (default: start a local one)"),
    plugin: List[str] = typer.Option([], "--plugin", help="module or .py file defining RLBENCH_MODELS / RLBENCH_TASKS"),
    threads: int = WORKER_THREADS_OPTION,
    device: Optional[str] = DEVICE_OPTION,
    checkpoint_every: Optional[float] = CHECKPOINT_OPTION,
):
    """Random search over each model's declared space, scored on validation only (the test split is never
    scored), the same number of trials for every model; the best becomes a preset that --tuned applies."""
    import json

    from benchmark.tuning import tune

    _load_plugins(plugin)
    request = _request(task, model, seeds, folds, set_, data_root, results, resume, device=device,
                       checkpoint_every=checkpoint_every)
    with _progress() as progress:
        written = tune(request, trials, sampler_seed, executor, workers, address, plugin, _reporter(progress),
                       threads=threads)
    table = Table(title=f"tuned: {trials} trials per model, on validation", title_justify="left")
    for col in ("task", "model", "best val", "trials done", "best parameters"):
        table.add_column(col, overflow="fold")
    for path in written:
        preset = json.loads(path.read_text())
        done = sum(t["val_score"] is not None for t in preset["trials"])
        params = ", ".join(f"{k}={v}" for k, v in preset["best"]["params"].items())
        table.add_row(preset["task"], preset["model"], f"{preset['best']['val_score']:.4f}",
                      f"{done}/{preset['n_trials']}", params)
    console.print(table)
    console.print("presets: " + ", ".join(str(p) for p in written), markup=False, soft_wrap=True)
    console.print(f"use them: rlbench run --task {','.join(request.tasks)} --model {','.join(request.models)} "
                  f"--tuned --results {results}", markup=False, soft_wrap=True)


@app.command("ablate")
@clean_errors
def ablate_cmd(
    kind: str = typer.Argument(..., help="memory-size, update-rule, modality or rl-design"),
    task: List[str] = typer.Option(..., "--task", "-t", help="the task to ablate on"),
    model: Optional[str] = typer.Option(None, "--model", "-m", help="model whose memory size or modalities vary [rlmem]"),
    values: str = typer.Option("", "--values", help="override the variants, e.g. 5,10 (sizes), rlmem,lstm (rules), retain,TD3 (rl-design: labels containing these)"),
    seeds: str = typer.Option("0", "--seeds", help="e.g. 0,1,2 or 0..4"),
    folds: str = typer.Option("all", "--folds", help="'all' or fold indices, e.g. 0,1"),
    set_: List[str] = typer.Option([], "--set", help="key=value applied to every variant"),
    data_root: Optional[Path] = typer.Option(None, "--data-root", help="dataset folder or file [env RLBENCH_DATA, else ~/.cache/rlbench]"),
    results: Path = typer.Option(Path("runs"), "--results", help="where records are written (results/ holds the committed ones)"),
    out: Optional[Path] = typer.Option(None, "--out", help="report folder [RESULTS/ablations]"),
    executor: str = typer.Option("local", "--executor", help="local (process pool) or ray"),
    workers: Optional[int] = typer.Option(None, "--workers", help="parallel cells"),
    plugin: List[str] = typer.Option([], "--plugin", help="module or .py file defining RLBENCH_MODELS / RLBENCH_TASKS"),
    threads: int = WORKER_THREADS_OPTION,
    device: Optional[str] = DEVICE_OPTION,
    checkpoint_every: Optional[float] = CHECKPOINT_OPTION,
    tuned: bool = typer.Option(False, "--tuned", help="every variant starts from its model's preset made by `rlbench tune`; the variant's own setting wins"),
    presets: Optional[Path] = typer.Option(None, "--presets", help="results folder holding <task>/tuned/<model>.json [--results]"),
):
    """Run an ablation as a sweep and write its report (Markdown, CSV, LaTeX) and the variants' validation
    curves (PNG, PDF)."""
    from benchmark.ablation import render_report, run_ablation, write_report
    from benchmark.figures import training_curves

    _load_plugins(plugin)
    request = _request(task, ["-"], seeds, folds, set_, data_root, results, True, device=device,
                       checkpoint_every=checkpoint_every)
    chosen = [v.strip() for v in values.split(",") if v.strip()]
    with _progress() as progress:  # --tuned: every variant from its model's preset, so the ablation stays tuned
        board, reference, outcomes, records = run_ablation(kind, request, model, chosen, executor, workers, None,
                                                           plugin, _reporter(progress), threads,
                                                           (presets or results) if tuned else None)
    settings = " ".join([*(f"--set {o}" for o in request.overrides), *([f"--values {','.join(chosen)}"] if chosen else []),
                         f"--seeds {','.join(map(str, request.seeds))}", f"--folds {folds}", *(["--tuned"] if tuned else [])])
    files = render_report(board, kind, reference, settings, records)
    folder = out or results / "ablations"
    name = report_name(request, kind, model, chosen, tuned)
    written = write_report(files, folder, name)
    written += training_curves(records, folder, f"{name}-curves",
                               f"{request.tasks[0]}: ablation {kind}" + (f" ({model})" if model else ""))
    typer.echo(files["md"])
    typer.echo("wrote " + ", ".join(str(p) for p in written))
    _exit_on_failures(outcomes)


def report_name(request, kind: str, model: Optional[str], values: list[str], tuned: bool = False) -> str:
    """``<task>-<kind>[-<model>]``, then what else sets the ablation apart (its overrides, values, seeds,
    folds), so that two different ablations never write over each other's report."""
    import hashlib

    from benchmark.records import safe_name

    base = f"{request.tasks[0]}-{kind}" + (f"-{model}" if model else "")
    parts = [*sorted(request.overrides), *(["values=" + "+".join(values)] if values else []),
             *(["tuned"] if tuned else [])]
    if list(request.seeds) != [0]:
        parts.append("seeds=" + "+".join(map(str, request.seeds)))
    if request.folds is not None:
        parts.append("folds=" + "+".join(map(str, request.folds)))
    if not parts:
        return base
    label = safe_name(",".join(parts))
    if len(label) > 80:
        label = hashlib.sha256(",".join(parts).encode()).hexdigest()[:12]
    return f"{base}__{label}"


@app.command("paper")
@clean_errors
def paper_cmd(
    results: Path = typer.Option(Path("runs"), "--results", help="folder of records (results/ holds the committed ones)"),
    out: Optional[Path] = typer.Option(None, "--out", help="where the tables go [RESULTS/paper]"),
    converged_only: bool = typer.Option(False, "--converged-only", help="leave out cells still improving when training ended (↗)"),
):
    """Regenerate the paper-style tables (measured rows from records, reported rows with sources)."""
    from benchmark.paper import write_paper
    from benchmark.records import iter_records
    from benchmark.runner import RunError

    if not results.is_dir():
        raise RunError(f"{results}: no such folder of records (run `rlbench run ...` first, or pass --results)")
    skipped: list[str] = []
    written = write_paper((r for _, r in iter_records(results, skipped)), out or results / "paper",
                          results / "ablations", converged_only)
    for problem in skipped:
        typer.echo(f"skipped: {problem}", err=True)
    typer.echo(written[0].read_text())
    typer.echo("wrote " + ", ".join(str(p) for p in written))


@app.command("table")
@clean_errors
def table_cmd(
    task: List[str] = typer.Option([], "--task", "-t", help="only these tasks"),
    fmt: str = typer.Option("md", "--format", "-f", help="md, csv or latex"),
    results: Path = typer.Option(Path("runs"), "--results", help="folder of records (results/ holds the committed ones)"),
    split: str = typer.Option("test", "--split", help="test or val"),
    out: Optional[Path] = typer.Option(None, "--out", help="write to this file instead of printing"),
    converged_only: bool = typer.Option(False, "--converged-only", help="leave out cells still improving when training ended (↗)"),
    strict: bool = typer.Option(False, "--strict", help="exit with status 1 when a record cannot be read"),
):
    """Leaderboard from the records: mean ± std over seeds with n, per task. Rows mark cells still improving
    when training ended (↗) and cells made from uncommitted code (‡). Unreadable records are skipped and
    listed."""
    from benchmark.leaderboard import RENDERERS, build_boards
    from benchmark.records import iter_records
    from benchmark.runner import RunError

    if fmt not in RENDERERS:
        raise RunError(f"--format must be one of {', '.join(RENDERERS)}, got {fmt!r}")
    if split not in ("test", "val"):
        raise RunError(f"--split must be 'test' or 'val', got {split!r}")
    if not results.is_dir():
        raise RunError(f"{results}: no such folder of records (run `rlbench run ...` first, or pass --results)")
    skipped: list[str] = []
    boards = build_boards((r for _, r in iter_records(results, skipped)), split, _split_names(task), converged_only)
    if not boards:
        raise RunError(f"{results}: no records" + (f" for task(s) {', '.join(task)}" if task else ""))
    text = RENDERERS[fmt](boards)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)
        console.print(f"wrote {out}", markup=False)
    else:
        typer.echo(text)
    for problem in skipped:
        typer.echo(f"skipped: {problem}", err=True)
    if skipped and strict:
        raise typer.Exit(1)


@app.command("score")
@clean_errors
def score_cmd(
    task: str = typer.Option(..., "--task", "-t", help="task whose protocol scores the predictions"),
    predictions: Path = typer.Option(..., "--predictions", "-p", help="JSON: {sequence id: [per-step scores]}"),
    set_: List[str] = typer.Option([], "--set", help="task options only (protocol, rank, budget ...), key=value"),
    data_root: Optional[Path] = typer.Option(None, "--data-root", help="dataset folder or file [env RLBENCH_DATA, else ~/.cache/rlbench]"),
    as_json: bool = typer.Option(False, "--json", help="print the scores as JSON"),
    allow_partial: bool = typer.Option(False, "--allow-partial", help="score predictions that cover only some of the task's sequences"),
):
    """Score predictions made outside rlbench with every metric of a task (no split needed: every sequence
    with a prediction is scored)."""
    import json

    from benchmark.scoring import score_file

    scores, n, total = score_file(task, predictions, set_, data_root if data_root is not None else default_data_root(),
                                  allow_partial)
    if as_json:
        typer.echo(json.dumps({"task": task, "n_sequences": n, "n_task_sequences": total, "scores": scores},
                              indent=1, sort_keys=True))
        return
    table = Table(title=f"{task}: {n} of {total} sequences scored", title_justify="left")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for k, v in scores.items():
        table.add_row(k, f"{v:.4f}")
    console.print(table)


data_app = typer.Typer(help="Describe and check datasets (rlbench never downloads at run time).", no_args_is_help=True)
app.add_typer(data_app, name="data")


def _check_data(task_name: str, data_root: Optional[Path]):
    """Load a task's data and report what was found; returns (ok, summary lines, expected layout)."""
    import inspect

    from benchmark.interfaces import TaskDataError
    from benchmark.runner import _task_class

    cls = _task_class(task_name)
    root = data_root if data_root is not None else default_data_root()
    lines = [f"task: {task_name} (v{cls.metadata.version})", f"data: {cls.metadata.data}", f"data root: {root}"]
    layout = inspect.getdoc(inspect.getmodule(cls)) or ""
    try:
        data = cls(cls.Options(), root).load()
    except (TaskDataError, ValueError) as exc:
        return False, lines + ["status: NOT USABLE", f"problem: {exc}"], layout
    n_steps = sum(e.length for e in data.episodes.values())
    lines += [
        "status: OK",
        f"sequences: {len(data.episodes)}, steps: {n_steps}, folds: {len(data.folds)}",
        f"modalities: {', '.join(f'{m} ({d})' for m, d in data.spec.modalities)}; targets: {', '.join(data.spec.target_names)}",
        *[f"sha256 {name}: {digest}" for name, digest in data.data_sha256.items()],
        f"split sha256: {data.split_sha256}",
    ]
    if data.info:
        lines.append(f"notes: {data.info}")
    return True, lines, layout


@data_app.command("download")
@clean_errors
def data_download_cmd(
    task: str = typer.Argument(..., help="task name"),
    url: Optional[str] = typer.Option(None, "--url", help="an archive to fetch instead (zip or tar)"),
    sha256: Optional[str] = typer.Option(None, "--sha256", help="the archive's sha256, as its publisher gives it"),
    data_root: Optional[Path] = typer.Option(None, "--data-root", help="[env RLBENCH_DATA, else ~/.cache/rlbench]"),
):
    """Fetch a dataset from its recorded public source (every file sha256-checked; run again to resume),
    or an archive you name with --url/--sha256 (unpacked safely); then verify the task's data."""
    from urllib.parse import urlparse

    from benchmark.download import DownloadError, download, fetch_source, load_sources, safe_extract
    from benchmark.runner import RunError, _task_class

    cls = _task_class(task)
    root = data_root if data_root is not None else default_data_root()
    source = load_sources().get(task)
    if url or sha256:
        if not (url and sha256):
            raise RunError("--url and --sha256 go together: the archive and its checksum from its publisher")
        name = Path(urlparse(url).path).name or f"{task}.archive"
        try:
            fetched = [download(url, root / "downloads" / name, sha256)]
            safe_extract(fetched[0], root)
        except DownloadError as exc:
            raise RunError(str(exc)) from exc
    elif source is not None:
        console.print(f"{task}: {len(source.files)} file(s) from {source.origin}\nterms: {source.terms}", markup=False)
        with _progress() as progress:
            bar = progress.add_task("downloading", total=sum(f.bytes for f in source.files))
            try:
                fetched = fetch_source(source, root, on_bytes=lambda n: progress.advance(bar, n))
            except DownloadError as exc:
                raise RunError(str(exc)) from exc
    else:
        raise RunError(f"no public source with a checksum is recorded for {task!r}; it needs {cls.metadata.data}. "
                       f"Place the files by hand (rlbench data info {task}) or pass --url and --sha256 for an "
                       "archive you have a checksum for")
    ok, lines, _ = _check_data(task, root)
    typer.echo("\n".join([f"fetched {len(fetched)} file(s) into {root}", *lines]))
    if source is not None and source.not_covered and not ok:
        typer.echo("still needed (no public source with a checksum): " + "; ".join(source.not_covered))
    if not ok:
        raise typer.Exit(1)


@data_app.command("info")
@clean_errors
def data_info_cmd(task: str = typer.Argument(..., help="task name"),
                  data_root: Optional[Path] = typer.Option(None, "--data-root", help="[env RLBENCH_DATA, else ~/.cache/rlbench]")):
    """What a task needs, where it looks, and what it finds there."""
    _, lines, layout = _check_data(task, data_root)
    typer.echo("\n".join([*lines, "", "expected layout:", layout]))


@data_app.command("verify")
@clean_errors
def data_verify_cmd(task: str = typer.Argument(..., help="task name"),
                    data_root: Optional[Path] = typer.Option(None, "--data-root", help="[env RLBENCH_DATA, else ~/.cache/rlbench]")):
    """Load and check every file of a task's local copy; exit status 1 if it is not usable."""
    ok, lines, _ = _check_data(task, data_root)
    typer.echo("\n".join(lines))
    if not ok:
        raise typer.Exit(1)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
