"""The model contract: built from options and a ``TaskSpec``, fitted within a budget, selected on validation."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Mapping, Protocol, Sequence

from benchmark.api.budget import TrainBudget
from benchmark.api.episodes import Episode, TaskSpec
from benchmark.api.options import NoOptions
from benchmark.api.selection import Selector
from benchmark.api.task import Task


@dataclass
class FitInfo:
    """What training did. Models that do not train iteratively (references, closed-form fits) leave the
    update counts at 0 and ``convergence`` at None."""

    updates_run: int = 0
    best_update: int | None = None
    updates_per_epoch: int = 0
    stopped_by: str | None = None  # "early-stop" | "cap"
    convergence: str | None = None  # "converged" | "still-improving" (see benchmark.api.selection.verdict)
    history: list[dict[str, float]] = field(default_factory=list)
    diagnostics: dict[str, Any] = field(default_factory=dict)


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

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "evaluate" in vars(cls):  # the harness scores validation and test (and its resamples) through scorer
            raise TypeError(f"{cls.__module__}.{cls.__qualname__} overrides Model.evaluate, which the harness "
                            "does not call: override scorer(task, episodes) instead (see docs/adding-a-model.md)")

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
        """Score on ``episodes`` with the task's protocol (through ``scorer``, the one way a model is scored)."""
        return self.scorer(task, episodes)(episodes)

    def scorer(self, task: Task, episodes: Sequence[Episode]) -> Callable[[Sequence[Episode]], dict[str, float]]:
        """A function scoring any selection of ``episodes`` (repeats allowed) from one prediction pass: the
        test-set bootstrap scores a thousand resamples of the test sequences. Reference rows that are not
        predictions (human agreement) override this."""
        predictions = self.predict(episodes)
        return lambda chosen: task.evaluate(predictions, chosen)
