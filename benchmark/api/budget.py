"""The training budget every model gets alike, counted in optimizer updates."""

from __future__ import annotations

from dataclasses import dataclass

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
