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
from typing import Any, Callable, ClassVar, Mapping, Protocol, Sequence

from benchmark.episodes import Episode, Predictions, TaskData, TaskSpec
from benchmark.selection import Selector


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


@dataclass
class TrainBudget:
    """The training budget a task grants every model alike (``--set epochs=N`` overrides it)."""

    epochs: int = 20
    patience: int = 5  # epochs without a better validation main score before stopping
    # "val" (the only honest choice) or "leaky-test-max": pick the epoch by the *test* main score, as
    # several published summarization numbers did; such records and rows are flagged as leaky.
    selection: str = "val"

    def __post_init__(self) -> None:
        if self.selection not in SELECTION_RULES:
            raise ValueError(f"selection must be one of {SELECTION_RULES}, got {self.selection!r}")
        if self.epochs < 1:
            raise ValueError(f"epochs must be >= 1, got {self.epochs}")
        if self.patience < 1:
            raise ValueError(f"patience must be >= 1, got {self.patience}")


@dataclass
class NoOptions:
    pass


class Task(ABC):
    metadata: ClassVar[TaskMetadata]
    Options: ClassVar[type] = NoOptions
    default_budget: ClassVar[TrainBudget] = TrainBudget()

    def __init__(self, options: Any = None, data_root: Path | None = None):
        self.options = options if options is not None else self.Options()
        self.data_root = data_root

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
    epochs_run: int = 0
    best_epoch: int | None = None
    history: list[dict[str, float]] = field(default_factory=list)
    diagnostics: dict[str, Any] = field(default_factory=dict)


def run_epochs(
    budget: "TrainBudget",
    selector: Selector,
    log: "TrainingLog",
    train_epoch: Callable[[], Mapping[str, float]],
    predict_val: Callable[[], Mapping[str, Any]],
    snapshot: Callable[[], Any],
) -> tuple["FitInfo", Any]:
    """The epoch loop every trained model shares: train, score validation, keep the best snapshot,
    log, stop early. Returns the fit info and the snapshot of the selected epoch (None if none was)."""
    info, best = FitInfo(), None
    for epoch in range(1, budget.epochs + 1):
        row = {"epoch": epoch, **train_epoch()}
        if selector.observe(epoch, predict_val()):
            best = snapshot()
        row[selector.history_key] = selector.history[-1][1]
        info.history.append(row)
        log.on_epoch(epoch, budget.epochs, row)
        info.epochs_run = epoch
        if selector.should_stop:
            break
    info.best_epoch = selector.best_epoch
    return info, best


class TrainingLog(Protocol):
    def on_epoch(self, epoch: int, total: int, metrics: Mapping[str, float]) -> None: ...


class NullLog:
    def on_epoch(self, epoch: int, total: int, metrics: Mapping[str, float]) -> None:
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
        """Train on ``train``; after each epoch hand validation predictions to ``selector`` and keep
        the parameters of the epoch it calls best; stop when ``selector.should_stop``."""

    @abstractmethod
    def predict(self, episodes: Sequence[Episode]) -> dict[str, Any]:
        """Per episode id, predictions ``[T, k]`` aligned with the episode's targets."""

    def n_parameters(self) -> int:
        return 0

    def evaluate(self, task: Task, episodes: Sequence[Episode]) -> dict[str, float]:
        """Score on ``episodes`` with the task's protocol. Reference rows that are not predictions
        (human agreement) override this."""
        return task.evaluate(self.predict(episodes), episodes)
