"""The temporal-order control (``--set order=shuffled|reversed``), the same for every task.

A model whose score does not drop when the steps of every sequence are shuffled is not using temporal
context. The control permutes the steps of each sequence, features and targets together (and the oracle
reference's per-step values), for training, validation and test alike, with a permutation seeded by the
sequence's id, so every model and every seed sees the same shuffled data. Before the task's protocol
scores anything, predictions are put back into the original order and scored against the original
episodes: the protocol's shots, frames and annotators never move.
"""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Any, Sequence

import numpy as np

from benchmark.api import Episode, Task, TaskData

ORDERS = ("original", "shuffled", "reversed")
PER_STEP_META = ("oracle",)  # meta that is one value per step and moves with the steps


def permutation(order: str, episode_id: str, length: int) -> np.ndarray:
    """Where each step of the reordered sequence comes from: ``reordered[i] = original[perm[i]]``."""
    if order == "reversed":
        return np.arange(length)[::-1].copy()
    if order == "shuffled":
        seed = int(hashlib.sha256(f"order=shuffled/{episode_id}".encode()).hexdigest()[:15], 16)
        return np.random.default_rng(seed).permutation(length)
    if order == "original":
        return np.arange(length)
    raise ValueError(f"order must be one of {', '.join(ORDERS)}, got {order!r}")


def reordered_episode(ep: Episode, perm: np.ndarray) -> Episode:
    meta = {k: (np.asarray(v)[perm] if k in PER_STEP_META else v) for k, v in ep.meta.items()}
    return dataclasses.replace(ep, features={m: f[perm] for m, f in ep.features.items()},
                               targets=ep.targets[perm], meta=meta)


class ReorderedTask:
    """A task whose episodes are reordered, scored as the task it wraps scores the original episodes.
    Everything else (metadata, protocol, options, hashes) is the wrapped task's."""

    def __init__(self, task: Task, order: str):
        self.task, self.order = task, order
        self.originals: dict[str, Episode] = {}
        self.perms: dict[str, np.ndarray] = {}

    def __getattr__(self, name: str) -> Any:
        if name == "evaluate_humans":  # only where the wrapped task has it (the human row checks)
            humans = getattr(self.task, name)
            return lambda episodes: humans(self._originals(episodes))
        return getattr(self.task, name)

    def reorder(self, data: TaskData) -> TaskData:
        episodes = {}
        for eid, ep in data.episodes.items():
            self.perms[eid] = perm = permutation(self.order, eid, ep.length)
            self.originals[eid] = ep
            episodes[eid] = reordered_episode(ep, perm)
        return dataclasses.replace(data, episodes=episodes)

    def restored(self, predictions) -> dict[str, np.ndarray]:
        """Predictions put back into the original order of their sequences."""
        out = {}
        for eid, pred in predictions.items():
            pred = np.asarray(pred)
            perm = self.perms.get(eid)
            if perm is None or len(pred) != len(perm):  # the task's own check names what is wrong
                out[eid] = pred
                continue
            back = np.empty_like(pred)
            back[perm] = pred
            out[eid] = back
        return out

    def _originals(self, episodes: Sequence[Episode]) -> list[Episode]:
        return [self.originals.get(ep.id, ep) for ep in episodes]

    def evaluate(self, predictions, episodes: Sequence[Episode]) -> dict[str, float]:
        return self.task.evaluate(self.restored(predictions), self._originals(episodes))
