"""The task contract: metadata as data, loading episodes and folds, scoring predictions with a protocol."""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, ClassVar, Mapping, Sequence

from benchmark.api.budget import TrainBudget
from benchmark.api.episodes import Episode, Predictions, TaskData
from benchmark.api.options import NoOptions


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

    def scores_are_sequence_means(self) -> bool:
        """Whether every score of the protocol is a mean over the scored sequences of each one's own score
        (F-score and rank correlations per video; regression metrics per sequence), so that a resample of
        the sequences is scored from their scores alone instead of by running the protocol again. Pooled
        metrics (one MSE over all steps of all sequences) are not: the default."""
        return False

    def protocol(self) -> dict[str, Any]:
        """The protocol actually used by this instance (metadata defaults + options that change it)."""
        return dict(self.metadata.protocol)

    def locate(self, subfolder: str, marker: str) -> Path:
        """The dataset folder: ``--data-root`` itself or its ``subfolder``, whichever holds ``marker`` (a
        relative path or glob); otherwise an error that says what was looked for and where to get it."""
        if self.data_root is None:
            raise TaskDataError(f"task {self.metadata.name!r} needs --data-root DIR holding {marker} (see docs/data.md)")
        base = Path(self.data_root).expanduser()
        for candidate in (base, base / subfolder):
            if any(candidate.glob(marker)):
                return candidate
        raise TaskDataError(f"{base}: no {marker} there or in {base / subfolder}; it comes from {self.metadata.data}")


class TaskDataError(ValueError):
    """Malformed or missing task data; the message names the file, the sequence and the problem."""
