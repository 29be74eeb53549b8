"""``rlbench tune``: the same random search for every model, scored on validation only, saved as presets.

Each model's options dataclass declares its search space (``SEARCH_SPACE``: option -> ``("log-uniform",
lo, hi)``, ``("uniform", lo, hi)``, ``("int-uniform", lo, hi)`` or ``("choice", [values])``). Trials are
drawn by scikit-learn's ``ParameterSampler`` from one seed, so every model gets the same number of trials
from a reproducible draw, and run as one sweep (local pool or Ray) of cells that never score the test
split. The best trial (mean validation main score over the tuning seeds and folds) becomes the preset
``<results>/<task>/tuned/<model>.json``, which ``rlbench run/sweep --tuned`` applies.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import math
from collections import defaultdict
from dataclasses import replace
from pathlib import Path
from typing import Any, Mapping, Sequence

from benchmark.harness.config import ConfigError
from benchmark.harness.execution import Reporter, execute
from benchmark.harness.executors import Execution
from benchmark.harness.plan import RunError, RunRequest
from benchmark.harness.record import Record
from benchmark.harness.registry import model_class, task_class
from benchmark.harness.store import write_json

PRESET_SCHEMA = 1
KINDS = ("log-uniform", "uniform", "int-uniform", "choice")


def search_space(model: str) -> dict[str, tuple]:
    """The model's declared space, checked against its options."""
    cls = model_class(model)
    space = dict(getattr(cls.Options, "SEARCH_SPACE", {}) or {})
    if cls.reference or not space:
        raise ConfigError(f"model {model!r} declares no search space (SEARCH_SPACE on its options): nothing to tune")
    fields = {f.name for f in dataclasses.fields(cls.Options)}
    for key, spec in space.items():
        if key not in fields:
            raise ConfigError(f"model {model!r}: search space names {key!r}, which is not one of its options")
        if not spec or spec[0] not in KINDS:
            raise ConfigError(f"model {model!r}: search space of {key!r} must start with one of {', '.join(KINDS)}")
    return space


def _distribution(spec: tuple) -> Any:
    from scipy import stats

    kind = spec[0]
    if kind == "choice":
        return list(spec[1])
    lo, hi = spec[1], spec[2]
    if kind == "log-uniform":
        return stats.loguniform(lo, hi)
    if kind == "uniform":
        return stats.uniform(lo, hi - lo)
    return stats.randint(lo, hi + 1)


def _plain(value: Any) -> Any:
    """Python scalars, floats to 4 significant digits: readable overrides, exact in the config."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float):
        return float(f"{value:.4g}")
    return value


def sample_trials(space: Mapping[str, tuple], n: int, seed: int) -> list[dict[str, Any]]:
    """``n`` parameter sets drawn by scikit-learn's ``ParameterSampler`` (without repeats for an all-choice
    space smaller than ``n``: then every combination once)."""
    import warnings

    from sklearn.model_selection import ParameterSampler

    if n < 1:
        raise ConfigError(f"--trials must be >= 1, got {n}")
    with warnings.catch_warnings():  # "the total space is smaller than n_iter": we say so in the preset
        warnings.simplefilter("ignore", UserWarning)
        sampler = ParameterSampler({k: _distribution(v) for k, v in space.items()}, n_iter=n, random_state=seed)
        return [{k: _plain(v) for k, v in sorted(params.items())} for params in sampler]


def trial_overrides(params: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple(f"model.{k}={json.dumps(v)}" for k, v in sorted(params.items()))


def preset_path(results: Path, task: str, model: str) -> Path:
    return Path(results) / task / "tuned" / f"{model}.json"


def tune(request: RunRequest, trials: int, seed: int = 0, execution: Execution = Execution("local"),
         reporter: Reporter | None = None, presets: Path | None = None) -> list[Path]:
    """Run ``trials`` trials per (task, model) as one sweep and write one preset per pair; returns their paths."""
    if request.tuned:
        raise ConfigError("--tuned cannot be combined with tuning: the search starts from each model's defaults")
    spaces = {m: search_space(m) for m in request.models}
    drawn = {m: sample_trials(space, trials, seed) for m, space in spaces.items()}
    requests = [replace(request, tasks=[t], models=[m], overrides=(*request.overrides, *trial_overrides(p)),
                        tuning=True, trace=False)
                for t in request.tasks for m, params in drawn.items() for p in params]
    outcomes = execute(requests, execution, reporter)
    by_pair: dict[tuple[str, str], list] = defaultdict(list)
    for o in outcomes:
        by_pair[(o.task, o.model)].append(o)
    written = []
    for task in request.tasks:
        for model, params in drawn.items():
            preset = build_preset(request, task, model, spaces[model], params, by_pair[(task, model)], seed)
            path = preset_path(presets or request.results, task, model)
            write_json(path, preset)
            written.append(path)
    return written


def build_preset(request: RunRequest, task: str, model: str, space: Mapping[str, tuple],
                 params: list[dict[str, Any]], outcomes: list, seed: int) -> dict[str, Any]:
    """The preset of one (task, model): every trial with its validation score, and the best one."""
    cells = [(o.path, Record.load(o.path)) for o in outcomes]
    meta = task_class(task).metadata
    higher = meta.is_higher_better(meta.main_score)
    rows = []
    for i, trial in enumerate(params):
        mine = [(path, r) for path, r in cells
                if all(r.config["model"]["options"].get(k) == v for k, v in trial.items())]
        done = [r for _, r in mine if r.completed]
        scores = [r.scores["val"][meta.main_score] for r in done]
        complete = bool(mine) and len(done) == len(mine) and all(math.isfinite(s) for s in scores)
        rows.append({
            "trial": i,
            "params": trial,
            "val_score": sum(scores) / len(scores) if complete else None,
            "cells": len(mine),
            "failed": len(mine) - len(done),
            "still_improving": sum(r.still_improving for r in done),
            "records": sorted(str(Path(path).relative_to(request.results)) for path, _ in mine),
        })
    scored = [r for r in rows if r["val_score"] is not None]
    if not scored:
        raise RunError(f"tuning {model} on {task}: no trial completed; see the failed records under "
                       f"{Path(request.results) / 'tuning' / task}")
    sign = -1 if higher else 1
    best = min(scored, key=lambda r: (sign * r["val_score"], r["trial"]))  # ties: the earlier trial
    first = next(r for _, r in cells if r.completed)
    return {
        "schema": PRESET_SCHEMA,
        "task": task,
        "task_overrides": first.task.overrides,
        "data_sha256": first.task.data_sha256,
        "split_sha256": first.task.split_sha256,
        "model": model,
        "metric": f"val.{meta.main_score}",
        "higher_is_better": higher,
        "method": "random search, scikit-learn ParameterSampler",
        "sampler_seed": seed,
        "n_trials": len(params),
        "seeds": list(request.seeds),
        "folds": sorted({r.task.fold for _, r in cells}),
        "budget": first.config["train"],
        "space": {k: list(v) for k, v in space.items()},
        "trials": rows,
        "best": {"trial": best["trial"], "params": best["params"], "val_score": best["val_score"]},
        "created_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "provenance": {k: getattr(first.provenance, k) for k in ("rlbench_version", "git_commit", "git_dirty")},
    }


def load_presets(results: Path, tasks: Sequence[str], models: Sequence[str]) -> dict[tuple[str, str], dict]:
    """The presets ``--tuned`` applies: one per (task, trained model), as the compact summary records carry.
    A trained model without a preset is an error that names the command making it; references need none."""
    out = {}
    for task in tasks:
        for model in models:
            if model_class(model).reference:
                continue
            path = preset_path(results, task, model)
            if not path.is_file():
                raise RunError(f"--tuned: no preset for {model!r} on {task!r} at {path}; make it with "
                               f"`rlbench tune --task {task} --model {model} --results {results}`")
            try:
                preset = json.loads(path.read_text())
                summary = {
                    "preset": str(path),
                    "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
                    "params": dict(preset["best"]["params"]),
                    "val_score": preset["best"]["val_score"],
                    "n_trials": int(preset["n_trials"]),
                    "seeds": list(preset["seeds"]),
                    "folds": list(preset["folds"]),
                    "task_overrides": dict(preset["task_overrides"]),
                    "method": preset["method"],
                }
            except (OSError, ValueError, KeyError, TypeError) as exc:
                raise RunError(f"{path}: not a readable tuned preset ({type(exc).__name__}: {exc})") from exc
            if preset.get("task") != task or preset.get("model") != model:
                raise RunError(f"{path}: a preset for {preset.get('model')!r} on {preset.get('task')!r}, "
                               f"not {model!r} on {task!r}")
            out[(task, model)] = summary
    return out
