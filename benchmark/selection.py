"""Checkpoint selection and early stopping on the validation main score, and nothing else.

Models never see test data during fit; the selector is the only judge of which epoch is kept.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Mapping


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
        self.patience = patience
        self.best_epoch: int | None = None
        self.best_score: float | None = None
        self.history: list[tuple[int, float]] = []
        self.criterion_split = "val"  # "test" only under the flagged legacy rule

    def is_better(self, score: float, than: float | None) -> bool:
        if math.isnan(score):
            return False
        if than is None:
            return True
        return score > than if self.higher_is_better else score < than

    def observe(self, epoch: int, predictions: Mapping[str, Any]) -> bool:
        """Score validation predictions of ``epoch``; True when it is the new best (keep it)."""
        score = float(self.score_fn(predictions)[self.metric])
        self.history.append((epoch, score))
        if self.is_better(score, self.best_score):
            self.best_epoch, self.best_score = epoch, score
            return True
        return False

    @property
    def should_stop(self) -> bool:
        if not self.history:
            return False
        last_epoch = self.history[-1][0]
        reference = self.best_epoch if self.best_epoch is not None else self.history[0][0] - 1
        return last_epoch - reference >= self.patience

    @property
    def history_key(self) -> str:
        return f"{self.criterion_split}_{self.metric}"

    @property
    def criterion(self) -> str:
        return f"{self.criterion_split}.{self.metric}"
