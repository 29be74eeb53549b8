"""The test-set bootstrap of one cell: its main score on resamples of the test sequences.

Training randomness (seeds x folds) is what the tables' paired cells measure; this is the other kind, which
test videos, movies or songs happened to be drawn. Each cell scores its test predictions on ``N_RESAMPLES``
resamples (with replacement) of its test sequences. The draws come from a generator seeded by the split's
hash and the fold, so every model run on the same fold is scored on the same resamples and two rows can be
compared resample by resample: a paired test-set interval, for the tables where too few cells exist to
test over training runs.
"""

from __future__ import annotations

import hashlib
from typing import Any, Callable, Sequence

import numpy as np

from benchmark.api import Episode

N_RESAMPLES = 1000
SIGNIFICANT_DIGITS = 7  # plenty for an interval, and a record stays small


def draw_seed(split_sha256: str, fold: int) -> int:
    """The generator seed shared by every cell of one fold of one split."""
    return int(hashlib.sha256(f"{split_sha256}/fold={fold}".encode()).hexdigest()[:15], 16)


def draws(seed: int, n_sequences: int, n_resamples: int = N_RESAMPLES) -> np.ndarray:
    """``[n_resamples, n_sequences]`` indices into the test sequences (in the fold's order)."""
    return np.random.default_rng(seed).integers(0, n_sequences, size=(n_resamples, n_sequences))


def resampled_scores(score: Callable[[Sequence[Episode]], dict[str, float]], episodes: Sequence[Episode],
                     metric: str, seed: int, sequence_means: bool, n_resamples: int = N_RESAMPLES) -> dict[str, Any]:
    """The record's ``test_resamples``: ``metric`` on each resample of ``episodes``. Where the task's scores
    are means over sequences (``sequence_means``), each sequence is scored once and a resample is the mean
    of its members' scores (the same number up to rounding, a thousand protocol runs cheaper); otherwise
    the protocol scores every resample."""
    chosen = draws(seed, len(episodes), n_resamples)
    if sequence_means:
        own = np.array([score([ep])[metric] for ep in episodes], dtype=float)
        values = own[chosen].mean(axis=1)
    else:
        values = np.array([score([episodes[i] for i in row])[metric] for row in chosen], dtype=float)
    return {"metric": metric, "n": int(n_resamples), "seed": seed, "sequences": len(episodes),
            "scores": [float(f"{v:.{SIGNIFICANT_DIGITS}g}") for v in values]}
