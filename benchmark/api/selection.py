"""Checkpoint selection, early stopping and the convergence verdict, on the validation main score only.

Models never see test data during fit; the selector is the only judge of which checkpoint is kept.
Checkpoints are named by the optimizer update after which they were scored.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Mapping

CONVERGED, STILL_IMPROVING = "converged", "still-improving"
# The selected checkpoint must lie before the last fifth of the updates run for a run to count as converged.
LATE_FRACTION = 0.2


def verdict(best_update: int | None, updates_run: int, stopped_by: str | None) -> str | None:
    """``converged`` when early stopping (not the cap) ended training and the selected checkpoint lies
    before the last 20 % of the updates run; otherwise ``still-improving``. None without training."""
    if updates_run <= 0:
        return None
    early = best_update is not None and best_update <= (1 - LATE_FRACTION) * updates_run
    return CONVERGED if stopped_by == "early-stop" and early else STILL_IMPROVING


class Selector:
    def __init__(
        self,
        score_fn: Callable[[Mapping[str, Any]], Mapping[str, float]],
        metric: str,
        higher_is_better: bool,
        patience: int,
    ):
        self.score_fn = score_fn
        self.metric = metric
        self.higher_is_better = higher_is_better
        self.patience = patience  # evaluations
        self.best_step: int | None = None
        self.best_score: float | None = None
        self._best_index: int | None = None
        self.history: list[tuple[int, float]] = []
        self.criterion_split = "val"  # "test" only under the flagged legacy rule

    def is_better(self, score: float, than: float | None) -> bool:
        if math.isnan(score):
            return False
        if than is None:
            return True
        return score > than if self.higher_is_better else score < than

    def observe(self, step: int, predictions: Mapping[str, Any]) -> bool:
        """Score validation predictions of checkpoint ``step``; True when it is the new best (keep it)."""
        score = float(self.score_fn(predictions)[self.metric])
        self.history.append((step, score))
        if self.is_better(score, self.best_score):
            self.best_step, self.best_score, self._best_index = step, score, len(self.history) - 1
            return True
        return False

    def restart(self) -> None:
        """Forget the best checkpoint so far (the history stays): from here on only later checkpoints
        compete, e.g. after a probe hands a model over from one way of training to another."""
        self.best_step = self.best_score = self._best_index = None

    def state_dict(self) -> dict[str, Any]:
        return {"history": [list(h) for h in self.history], "best_step": self.best_step,
                "best_score": self.best_score, "best_index": self._best_index}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.history = [(int(step), float(score)) for step, score in state["history"]]
        self.best_step, self.best_score, self._best_index = state["best_step"], state["best_score"], state["best_index"]

    @property
    def should_stop(self) -> bool:
        """``patience`` evaluations in a row without a better score."""
        since = len(self.history) - 1 - (self._best_index if self._best_index is not None else -1)
        return bool(self.history) and since >= self.patience

    @property
    def history_key(self) -> str:
        return f"{self.criterion_split}_{self.metric}"

    @property
    def criterion(self) -> str:
        return f"{self.criterion_split}.{self.metric}"
