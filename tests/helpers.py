"""Builders shared by tests: HDF5 files in the generic layout and fixture records."""

from __future__ import annotations

import json
import re

import h5py
import numpy as np


def write_generic(path, n_seq=12, T=(20, 30), k=2, modalities=(("audio", 3), ("face", 2)), splits=None, seed=0,
                  mutate=None):
    """Write a valid generic-layout file; ``mutate(h5)`` may then break it on purpose."""
    rng = np.random.default_rng(seed)
    with h5py.File(path, "w") as h5:
        h5.attrs["target_names"] = [f"y{j}" for j in range(k)]
        for i in range(n_seq):
            n = int(rng.integers(T[0], T[1] + 1))
            g = h5.create_group(f"s{i:02d}")
            feats = g.create_group("features")
            x = None
            for m, d in modalities:
                x = rng.normal(size=(n, d))
                feats[m] = x
            g["targets"] = np.tanh(x[:, :1] + 0.1 * rng.normal(size=(n, k)))
        if splits is not None:
            h5.attrs["splits"] = json.dumps(splits)
        if mutate is not None:
            mutate(h5)
    return path


def has_row(table: str, name: str, after: str = "") -> bool:
    """A row named ``name`` in a Markdown table (then ``after``), whatever marks follow the name: ↗ (cells
    still improving), ‡ (cells made from uncommitted code, as every test run from a dirty tree makes) and
    ◐ (fewer folds than the task has, as a run of one fold of a k-fold task makes)."""
    return re.search(rf"^\| {re.escape(name)}(?: ↗)?(?: ‡)?(?: ◐)? \|{re.escape(after)}", table, re.M) is not None


def write_cue_task(path, n_seq=40, lengths=(200, 320), carry=150, seed=0):
    """A generic-layout file where a sparse cue must be carried ``carry`` steps: the target is the sign of
    the last cue while it is at most ``carry`` steps old, 0 otherwise. Features: a ``cue`` channel that shows
    the sign only at the cue step, and ``noise`` channels that carry nothing."""
    rng = np.random.default_rng(seed)
    with h5py.File(path, "w") as h5:
        h5.attrs["target_names"] = ["y"]
        for i in range(n_seq):
            n = int(rng.integers(lengths[0], lengths[1] + 1))
            cue = 0.1 * rng.normal(size=(n, 2))
            y = np.zeros((n, 1))
            t = int(rng.integers(0, 30))
            while t < n:
                sign = float(rng.choice([-1.0, 1.0]))
                cue[t] = (2.0 * sign, 2.0)
                y[t: t + carry, 0] = sign
                t += carry + int(rng.integers(0, 60))
            g = h5.create_group(f"seq{i:02d}")
            g["features/cue"] = cue
            g["features/noise"] = rng.normal(size=(n, 4))
            g["targets"] = y
    return path


def record_files(results):
    """Every record file under ``results`` as the JSON it holds, (path, dict) sorted by path: the format on
    disk, which the tests check as users and other tools read it."""
    from pathlib import Path

    for path in sorted(Path(results).rglob("fold=*.json")):
        yield path, json.loads(path.read_text())


def read_record(path):
    from pathlib import Path

    return json.loads(Path(path).read_text())


RECORD_TEMPLATE = {
    "schema_version": 1, "status": "completed", "error": None, "purpose": "run", "seed": 0,
    "task": {"name": "synth-affect", "version": "1.0", "kind": "affect_regression", "protocol": {},
             "main_score": "mse", "higher_is_better": {"mse": False, "pearson": True},
             "leaderboard_metrics": ["mse", "pearson"], "fold": 0, "n_folds": 2,
             "sizes": {"train": 8, "val": 2, "test": 2}, "data_sha256": {"data": "0" * 64}, "split_sha256": "0" * 64,
             "data_info": {}, "overrides": {}},
    "model": {"name": "lstm", "variant": None, "reference": False, "source": "built-in", "n_parameters": 10,
              "overrides": {}, "tuned": None},
    "config": {}, "config_hash": "0" * 64,
    "selection": {"criterion": "val.mse", "leaky": False, "higher_is_better": False, "epoch": 1.0, "val_score": 0.1,
                  "rule": "fixture", "update": 50, "updates_run": 100, "updates_per_epoch": 50,
                  "stopped_by": "early-stop", "convergence": "converged"},
    "scores": {"val": {"mse": 0.1, "pearson": 0.5}, "test": {"mse": 0.1, "pearson": 0.5}}, "main_score": 0.1,
    "history": [], "diagnostics": {},
    "timing": {"train_s": 1.0, "eval_s": 0.1, "total_s": 1.1, "peak_rss_mb": 100.0, "peak_rss_scope": "fixture"},
    "provenance": {"rlbench_version": "0.1.0", "git_commit": "0" * 40, "git_dirty": False, "python": "3.11",
                   "torch": "2.13.0", "numpy": "2.0", "platform": "fixture", "machine": "x86_64", "device": "cpu",
                   "command": "rlbench run", "started_at": "2026-01-01T00:00:00+00:00"},
}


def make_record(data):
    """A typed record: ``data`` (a partial record dict) over a whole fixture record, part by part."""
    from benchmark.harness.record import Record

    def merge(base, over):
        if not isinstance(base, dict) or not isinstance(over, dict):
            return over
        return {**base, **{k: merge(base.get(k), v) for k, v in over.items()}}

    return Record.from_json(merge(RECORD_TEMPLATE, data), "fixture")
