"""Deterministic train/val/test folds, their validation and their fingerprint."""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any, Sequence

import numpy as np

from benchmark.api import Fold, TaskDataError


def make_folds(ids: Sequence[str], n_folds: int, val_fraction: float, seed: int) -> list[Fold]:
    """Disjoint folds over ``ids``: every id is tested exactly once (k >= 2), and the validation part
    is carved from each fold's training part. ``n_folds == 1`` is one 60/20/20 hold-out split."""
    ids = sorted(ids)
    if n_folds < 1:
        raise ValueError(f"n_folds must be >= 1, got {n_folds}")
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
    min_ids = 3 if n_folds == 1 else n_folds + 2
    if len(ids) < min_ids:
        raise ValueError(f"{len(ids)} sequences cannot make {n_folds} fold(s) with train, val and test parts")
    rng = np.random.default_rng(seed)
    order = [ids[i] for i in rng.permutation(len(ids))]
    if n_folds == 1:
        n_test = max(1, round(0.2 * len(order)))
        test_sets = [order[:n_test]]
    else:
        test_sets = [list(part) for part in np.array_split(np.array(order, dtype=object), n_folds)]
    folds = []
    for k, test in enumerate(test_sets):
        test_set = set(test)
        rest = [i for i in order if i not in test_set]
        n_val = max(1, math.ceil(val_fraction * len(rest)))
        if n_val >= len(rest):
            raise ValueError(f"fold {k}: no training sequences left after carving {n_val} for validation")
        folds.append(Fold(k, tuple(sorted(rest[n_val:])), tuple(sorted(rest[:n_val])), tuple(sorted(test))))
    return folds


def fixed_test_fold(k: int, pool: Sequence[str], test: Sequence[str], val_fraction: float,
                    rng: np.random.Generator) -> Fold:
    """A fold whose test part is given (an official or published split): validation is a random
    ``val_fraction`` of ``pool`` (at least one), training the rest, both in ``pool``'s order."""
    n_val = max(1, math.ceil(val_fraction * len(pool)))
    val = set(rng.choice(len(pool), n_val, replace=False).tolist())
    return Fold(k, tuple(p for i, p in enumerate(pool) if i not in val),
                tuple(p for i, p in enumerate(pool) if i in val), tuple(test))


def folds_from_json(spec: Any, known_ids: Sequence[str], source: str) -> list[Fold]:
    """Parse ``{"folds": [{"train": [...], "val": [...], "test": [...]}]}`` and check it."""
    if not isinstance(spec, dict) or not isinstance(spec.get("folds"), list) or not spec["folds"]:
        raise TaskDataError(f"{source}: splits must be an object with a non-empty list 'folds'")
    folds = []
    for k, f in enumerate(spec["folds"]):
        if not isinstance(f, dict):
            raise TaskDataError(f"{source}: fold {k} is not an object")
        parts = {}
        for part in ("train", "val", "test"):
            if part not in f:
                raise TaskDataError(f"{source}: fold {k} has no {part!r} list")
            if not isinstance(f[part], list) or not f[part]:
                raise TaskDataError(f"{source}: fold {k} {part!r} must be a non-empty list of sequence ids")
            parts[part] = tuple(str(i) for i in f[part])
        folds.append(Fold(k, parts["train"], parts["val"], parts["test"]))
    check_folds(folds, known_ids, source)
    return folds


def check_folds(folds: Sequence[Fold], known_ids: Sequence[str], source: str) -> None:
    known = set(known_ids)
    for f in folds:
        for part in ("train", "val", "test"):
            ids = f.part(part)
            unknown = sorted(set(ids) - known)
            if unknown:
                raise TaskDataError(f"{source}: fold {f.index} {part} names unknown sequence(s) {unknown[:5]}")
            if len(set(ids)) != len(ids):
                raise TaskDataError(f"{source}: fold {f.index} {part} lists a sequence twice")
        for a, b in (("train", "test"), ("train", "val"), ("val", "test")):
            both = sorted(set(f.part(a)) & set(f.part(b)))
            if both:
                raise TaskDataError(f"{source}: fold {f.index} {a} and {b} overlap on {both[:5]}")


def folds_sha256(folds: Sequence[Fold]) -> str:
    canonical = json.dumps(
        [{"train": list(f.train), "val": list(f.val), "test": list(f.test)} for f in folds],
        sort_keys=True, separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()
