"""Reference rows: floors and ceilings that every leaderboard shows beside the trained models."""

from __future__ import annotations

import numpy as np

from benchmark.api import FitInfo, Model


class MeanModel(Model):
    description = "reference: predicts the training-set mean of each target"
    reference = True

    def fit(self, train, val, budget, selector, log) -> FitInfo:
        self.mean = np.concatenate([e.targets for e in train]).astype(np.float64).mean(axis=0)
        return FitInfo()

    def predict(self, episodes):
        return {e.id: np.tile(self.mean, (e.length, 1)) for e in episodes}


class RandomModel(Model):
    description = "reference: uniform random predictions in the training target range"
    reference = True

    def fit(self, train, val, budget, selector, log) -> FitInfo:
        allt = np.concatenate([e.targets for e in train]).astype(np.float64)
        self.low, self.high = allt.min(axis=0), allt.max(axis=0)
        return FitInfo()

    def predict(self, episodes):
        # One generator per episode id, so a sequence's draw does not depend on which others are scored.
        out = {}
        for e in episodes:
            rng = np.random.default_rng([self.seed, *e.id.encode()])
            out[e.id] = rng.uniform(self.low, self.high, size=(e.length, len(self.low)))
        return out


class OracleModel(Model):
    description = "reference: knows the hidden state of a synthetic task (ceiling)"
    reference = True

    def fit(self, train, val, budget, selector, log) -> FitInfo:
        return FitInfo()

    def predict(self, episodes):
        missing = [e.id for e in episodes if "oracle" not in e.meta]
        if missing:
            raise ValueError(
                f"model 'oracle' needs a task that exposes its hidden state (the synthetic tasks); "
                f"sequence {missing[0]!r} has none"
            )
        return {e.id: np.asarray(e.meta["oracle"], dtype=np.float64) for e in episodes}


class HumanModel(Model):
    description = "reference: agreement of each annotator with the others (Otani et al. 2019)"
    reference = True

    def fit(self, train, val, budget, selector, log) -> FitInfo:
        return FitInfo()

    def predict(self, episodes):
        raise ValueError("model 'human' has no per-step predictions; it is scored by annotator agreement")

    def scorer(self, task, episodes):
        humans = getattr(task, "evaluate_humans", None)
        if humans is None:
            raise ValueError(f"model 'human' needs a task with several annotators; {task.metadata.name!r} has none")
        return humans
