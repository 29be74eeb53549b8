"""The contracts between the harness, tasks and models (numpy only, no torch).

A task turns data into episodes and folds and scores predictions with its protocol; a model is built
from options and a ``TaskSpec``, fitted within a ``TrainBudget`` and selected on validation through a
``Selector`` it is handed. Plugins implement the same two classes.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, ClassVar, Iterator, Mapping, Protocol, Sequence

from benchmark import checkpoints
from benchmark.checkpoints import Resumable
from benchmark.episodes import Episode, Predictions, TaskData, TaskSpec
from benchmark.selection import Selector, verdict


@dataclass(frozen=True)
class TaskMetadata:
    """Task metadata as data: what the task is, how it is scored, and what its records mean."""

    name: str
    version: str
    kind: str  # "affect_regression" | "summarization"
    description: str
    main_score: str  # a metric key, e.g. "mse" or "fscore"
    higher_is_better: Mapping[str, bool]  # metric family ("mse" for "mse/valence") -> direction
    leaderboard_metrics: tuple[str, ...]  # columns of `rlbench table`, main score first
    protocol: Mapping[str, Any]
    citation: str = ""
    data: str = "synthetic (generated from a seed, no download)"

    def __post_init__(self) -> None:
        if metric_family(self.main_score) not in self.higher_is_better:
            raise ValueError(f"task {self.name}: main score {self.main_score!r} has no direction")
        for m in self.leaderboard_metrics:
            if metric_family(m) not in self.higher_is_better:
                raise ValueError(f"task {self.name}: leaderboard metric {m!r} has no direction")
        if self.leaderboard_metrics[:1] != (self.main_score,):
            raise ValueError(f"task {self.name}: the leaderboard must start with the main score")

    def is_higher_better(self, metric: str) -> bool:
        return bool(self.higher_is_better[metric_family(metric)])

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["higher_is_better"] = dict(self.higher_is_better)
        d["protocol"] = dict(self.protocol)
        d["leaderboard_metrics"] = list(self.leaderboard_metrics)
        return d


def metric_family(metric: str) -> str:
    """"mse/valence" -> "mse"; a metric's direction is that of its family."""
    return metric.split("/", 1)[0]


SELECTION_RULES = ("val", "leaky-test-max")


@dataclass(frozen=True)
class UpdatePlan:
    """A budget made concrete for one model on one training set."""

    max_updates: int
    eval_every: int
    min_updates: int
    patience: int  # evaluations without a better validation main score before stopping
    updates_per_epoch: int


@dataclass
class TrainBudget:
    """The training budget a task grants every model alike, in optimizer updates (``--set`` overrides it).

    Counting updates rather than epochs gives a dataset of a few dozen sequences as many updates as a large
    one, and a model with small batches no more than one with large batches. ``epochs=N`` is a convenience:
    it sets the cap to N epochs of the model's updates and validates once per epoch.
    """

    max_updates: int = 4000
    eval_every: int = 50  # updates between two validation scores
    patience: int = 10  # evaluations without a better validation main score before stopping
    min_updates: int = 300  # never stop earlier than this
    epochs: int = 0  # 0 = use max_updates/eval_every; N > 0 = N epochs, validated after each
    # "val" (the only honest choice) or "leaky-test-max": pick the checkpoint by the *test* main score, as
    # several published summarization numbers did; such records and rows are flagged as leaky.
    selection: str = "val"

    def __post_init__(self) -> None:
        if self.selection not in SELECTION_RULES:
            raise ValueError(f"selection must be one of {SELECTION_RULES}, got {self.selection!r}")
        for name in ("max_updates", "eval_every", "patience"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("min_updates", "epochs"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")

    def plan(self, updates_per_epoch: int) -> UpdatePlan:
        per_epoch = max(1, int(updates_per_epoch))
        if self.epochs:
            cap = self.epochs * per_epoch
            return UpdatePlan(cap, per_epoch, min(self.min_updates, cap), self.patience, per_epoch)
        return UpdatePlan(self.max_updates, self.eval_every, min(self.min_updates, self.max_updates),
                          self.patience, per_epoch)


@dataclass
class NoOptions:
    pass


DEVICE_PATTERN = r"auto|cpu|cuda(:[0-9]+)?"


def check_device(device: str) -> None:
    """``auto`` (CUDA when a GPU is visible), ``cpu``, ``cuda`` or ``cuda:N``; the harness resolves ``auto``."""
    import re

    if not re.fullmatch(DEVICE_PATTERN, device):
        raise ValueError(f"device must be auto, cpu, cuda or cuda:N, got {device!r}")


def torch_device(name: str) -> Any:
    """The ``torch.device`` a model runs on; ``auto`` (left when a model is built outside the harness)
    picks CUDA when a GPU is visible. (torch is imported here, only by the models that call this.)"""
    import torch

    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(name)


def check_options(options: Any, *, at_least_1: Sequence[str] = (), positive: Sequence[str] = (),
                  non_negative: Sequence[str] = (), choices: Mapping[str, Sequence[Any]] | None = None,
                  unit_interval: Sequence[str] = ()) -> None:
    """Check an options dataclass when it is built (so a bad ``--set`` stops before anything trains);
    the error names the option and the value it got."""
    for name in at_least_1:
        if getattr(options, name) < 1:
            raise ValueError(f"{name} must be >= 1, got {getattr(options, name)!r}")
    for name in positive:
        if not getattr(options, name) > 0:
            raise ValueError(f"{name} must be > 0, got {getattr(options, name)!r}")
    for name in non_negative:
        if not getattr(options, name) >= 0:
            raise ValueError(f"{name} must be >= 0, got {getattr(options, name)!r}")
    for name in unit_interval:
        if not 0 <= getattr(options, name) <= 1:
            raise ValueError(f"{name} must be in [0, 1], got {getattr(options, name)!r}")
    for name, allowed in (choices or {}).items():
        if getattr(options, name) not in allowed:
            raise ValueError(f"{name} must be one of {', '.join(map(str, allowed))}, got {getattr(options, name)!r}")


class Task(ABC):
    metadata: ClassVar[TaskMetadata]
    Options: ClassVar[type] = NoOptions
    default_budget: ClassVar[TrainBudget] = TrainBudget()

    def __init__(self, options: Any = None, data_root: Path | None = None):
        self.options = options if options is not None else self.Options()
        self.data_root = data_root
        self.scoring_only = False  # `rlbench score` loads episodes to score, and needs no split

    def folds_or_none(self, build: Callable[[], list]) -> list:
        """The task's folds, or none when the caller only scores (a handful of videos make no split)."""
        return [] if self.scoring_only else build()

    @abstractmethod
    def load(self) -> TaskData:
        """Read (or generate) the data; raise ``TaskDataError`` naming the file and the problem."""

    @abstractmethod
    def evaluate(self, predictions: Predictions, episodes: Sequence[Episode]) -> dict[str, float]:
        """Score predictions for ``episodes`` with this task's protocol."""

    def protocol(self) -> dict[str, Any]:
        """The protocol actually used by this instance (metadata defaults + options that change it)."""
        return dict(self.metadata.protocol)

    def locate(self, subfolder: str, marker: str) -> Path:
        """The dataset folder: ``--data-root`` itself or its ``subfolder``, whichever holds ``marker`` (a
        relative path or glob); otherwise an error that says what was looked for and where to get it."""
        if self.data_root is None:
            raise TaskDataError(f"task {self.metadata.name!r} needs --data-root DIR holding {marker} (see README, 'Data')")
        base = Path(self.data_root).expanduser()
        for candidate in (base, base / subfolder):
            if any(candidate.glob(marker)):
                return candidate
        raise TaskDataError(f"{base}: no {marker} there or in {base / subfolder}; it comes from {self.metadata.data}")


class TaskDataError(ValueError):
    """Malformed or missing task data; the message names the file, the sequence and the problem."""


@dataclass
class FitInfo:
    """What training did. Models that do not train iteratively (references, closed-form fits) leave the
    update counts at 0 and ``convergence`` at None."""

    updates_run: int = 0
    best_update: int | None = None
    updates_per_epoch: int = 0
    stopped_by: str | None = None  # "early-stop" | "cap"
    convergence: str | None = None  # "converged" | "still-improving" (see benchmark.selection.verdict)
    history: list[dict[str, float]] = field(default_factory=list)
    diagnostics: dict[str, Any] = field(default_factory=dict)


def run_updates(
    budget: "TrainBudget",
    updates_per_epoch: int,
    selector: Selector,
    log: "TrainingLog",
    updates: Iterator[Mapping[str, float]],
    predict_val: Callable[[], Mapping[str, Any]],
    snapshot: Callable[[], Any],
    extra_eval: Callable[[], Mapping[str, float]] | None = None,
    resumable: "Resumable | None" = None,
) -> tuple["FitInfo", Any]:
    """The loop every trained model shares. ``updates`` performs one optimizer update per ``next()`` and
    returns its statistics; every ``eval_every`` updates the validation main score is taken, the best
    snapshot kept and one history row logged (the statistics averaged since the last row, except counters
    named ``total_*``, which keep their latest value); training stops
    after ``patience`` evaluations without improvement (never before ``min_updates``) or at the cap.
    ``extra_eval`` adds a model's own figures to each evaluation's row (rlmem's critic diagnostic).
    With ``resumable`` (the state ``updates`` depends on) and a checkpoint opened by the harness, the loop
    goes on from the cell's last checkpoint and saves one at an evaluation when it is due.
    Returns the fit info and the snapshot of the selected checkpoint (None if none was)."""
    plan = budget.plan(updates_per_epoch)
    info, best = FitInfo(updates_per_epoch=plan.updates_per_epoch, stopped_by="cap"), None
    pending: dict[str, list[float]] = {}
    checkpoint = checkpoints.active() if resumable is not None else None
    start = 1
    saved = checkpoint.load() if checkpoint is not None else None
    if saved is not None:
        resumable.load_state_dict(saved["model"])
        selector.load_state_dict(saved["selector"])
        info.history, best, start = list(saved["history"]), saved["best"], int(saved["update"]) + 1
        log.on_eval(start - 1, plan.max_updates, info.history[-1])
    for update in range(start, plan.max_updates + 1):
        for key, value in next(updates).items():
            pending.setdefault(key, []).append(float(value))
        info.updates_run = update
        if update % plan.eval_every and update != plan.max_updates:
            continue
        row = {"update": update, "epoch": round(update / plan.updates_per_epoch, 3),
               **{key: v[-1] if key.startswith("total_") else sum(v) / len(v) for key, v in pending.items()}}
        pending.clear()
        if selector.observe(update, predict_val()):
            best = snapshot()
        row[selector.history_key] = selector.history[-1][1]
        if extra_eval is not None:
            row.update(extra_eval())
        info.history.append(row)
        log.on_eval(update, plan.max_updates, row)
        if update >= plan.min_updates and selector.should_stop:
            info.stopped_by = "early-stop"
            break
        if checkpoint is not None and checkpoint.due():
            checkpoint.save(update, {"model": resumable.state_dict(), "selector": selector.state_dict(),
                                     "history": info.history, "best": best})
    info.best_update = selector.best_step
    info.convergence = verdict(info.best_update, info.updates_run, info.stopped_by)
    return info, best


class TrainingLog(Protocol):
    def on_eval(self, update: int, total: int, metrics: Mapping[str, float]) -> None: ...


class NullLog:
    def on_eval(self, update: int, total: int, metrics: Mapping[str, float]) -> None:
        pass


class Model(ABC):
    """A model the harness can train and score. ``Options`` is a dataclass of its settings."""

    description: ClassVar[str] = ""
    reference: ClassVar[bool] = False  # reference rows (floors, ceilings) are marked in tables
    Options: ClassVar[type] = NoOptions

    def __init__(self, options: Any, spec: TaskSpec, seed: int):
        self.options = options
        self.spec = spec
        self.seed = seed

    @abstractmethod
    def fit(
        self,
        train: Sequence[Episode],
        val: Sequence[Episode],
        budget: TrainBudget,
        selector: Selector,
        log: TrainingLog,
    ) -> FitInfo:
        """Train on ``train`` within ``budget`` (``run_updates`` does the bookkeeping): hand validation
        predictions to ``selector`` every ``eval_every`` updates, keep the parameters of the checkpoint it
        calls best, stop when ``selector.should_stop``."""

    @abstractmethod
    def predict(self, episodes: Sequence[Episode]) -> dict[str, Any]:
        """Per episode id, predictions ``[T, k]`` aligned with the episode's targets."""

    def n_parameters(self) -> int:
        return 0

    def evaluate(self, task: Task, episodes: Sequence[Episode]) -> dict[str, float]:
        """Score on ``episodes`` with the task's protocol. Reference rows that are not predictions
        (human agreement) override this."""
        return task.evaluate(self.predict(episodes), episodes)
