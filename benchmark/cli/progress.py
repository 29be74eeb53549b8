"""Progress of a run: bars on a terminal (one over the cells, one per cell in training), plain lines in a log."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import typer

from benchmark.cli.common import console


def progress():
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=console, transient=True)


def _shown_metrics(metrics) -> str:
    return "  ".join(f"{k} {v:.4f}" for k, v in metrics.items()
                     if k in ("train_loss", "td_error") or k.startswith(("val_", "test_")))


class RichReporter:
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


class PlainReporter:
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


def reporter(bars):
    return RichReporter(bars) if console.is_terminal else PlainReporter()
